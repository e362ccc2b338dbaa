"""In-memory state of the emulated Dataverse environment and its business rules.

Plain Python on purpose: handlers translate HTTP to these calls, and tests use the same methods
to assert or to make out-of-band edits (``store.roles``, ``store.systemusers``,
``store.role_privileges(role_id)``, ``store.set_role_privileges(...)``). Every rule violation
raises ``DataverseError`` with the status and hex code the service uses.  The privilege rules
(of roles and of users) are in privileges.py, a part of ``DataverseStore``.
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from typing import Any, Callable, Iterable

from . import catalog
from .errors import (DUPLICATE, INHERITED_ROLE_READONLY, MANAGED_NOT_DELETABLE, NOT_A_MEMBER,
                     PRIVILEGE_DENIED, ROLE_BU_MISMATCH, USER_DISABLED, DataverseError, bad_request, not_found)
from .privileges import RolePrivileges
# Record, ADMIN_TEMPLATES and iso are also imported from here (solutions.py, tests).
from .records import ADMIN_TEMPLATES, ID_NAMESPACE, Record, iso
from .seeding import apply_seed

#: systemuser object type code, shown as ``type=8`` in privilege errors.
SYSTEMUSER_OTC = 8


def _check_isinherited(value: Any) -> None:
    if value not in (0, 1) or isinstance(value, bool):
        raise bad_request(f"isinherited {value!r} is not valid; allowed: 0 (team privileges only), 1 (direct user access).")


class DataverseStore(RolePrivileges):
    """Tables of one environment. Thread-safe: every public method holds ``self.lock``."""

    def __init__(self, seed: dict[str, Any] | None = None, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.on_change: Callable[[], None] = lambda: None
        self._version = 468000
        self.organization_id = ""
        self.businessunits: dict[str, Record] = {}
        self.systemusers: dict[str, Record] = {}
        #: soft-deleted systemusers: invisible to queries, but their applicationid blocks creation
        self.soft_deleted_users: dict[str, Record] = {}
        self.roles: dict[str, Record] = {}
        self.privileges: dict[str, Record] = {}
        #: root role id -> {privilege id: depth 0..4}; copies in child BUs share their root's map
        self.role_privilege_map: dict[str, dict[str, int]] = {}
        #: systemuser id -> role ids
        self.user_roles: dict[str, list[str]] = {}
        self.solutions: dict[str, Record] = {}
        #: solution unique name -> {"roles": [...], "tables": {schema: ownership}}
        self.solution_components: dict[str, dict[str, Any]] = {}
        self.asyncoperations: dict[str, Record] = {}
        self.importjobs: dict[str, Record] = {}
        #: StageSolutionUploadId -> parsed package (dict) + validation result
        self.staged: dict[str, dict[str, Any]] = {}
        self.published = 0
        #: the environment's administration mode ("Administration mode" in the Power Platform admin
        #: center): only System Administrators / Customizers get in (dataverse/admin_mode.py)
        self.administration_mode = False
        self.background_operations = True
        apply_seed(self, seed or {})

    # -- helpers ---------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock()

    def touch(self, rec: Record, *, created: bool = False) -> Record:
        """Bump the record's row version (its ETag) and modifiedon."""
        self._version += 1
        rec["versionnumber"] = self._version
        stamp = iso(self.now())
        rec["modifiedon"] = stamp
        if created:
            rec.setdefault("createdon", stamp)
        return rec

    def changed(self) -> None:
        self.on_change()

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    def user_record(self, uid: str, *, bu: str, accessmode: int = 0, application_id: str | None = None,
                     object_id: str | None = None, fullname: str = "", upn: str | None = None,
                     islicensed: bool = False, isdisabled: bool = False) -> Record:
        first, _, last = fullname.partition(" ")
        return {"systemuserid": uid, "fullname": fullname, "firstname": first or None, "lastname": last or None,
                "domainname": upn or (f"{application_id}@emulator.local" if application_id else None),
                "internalemailaddress": upn, "azureactivedirectoryobjectid": object_id,
                "applicationid": application_id, "isdisabled": isdisabled, "islicensed": islicensed,
                "isintegrationuser": False, "accessmode": accessmode, "_businessunitid_value": bu}

    # -- business units, caller ------------------------------------------------------------
    def root_business_unit(self) -> Record:
        with self.lock:
            for bu in self.businessunits.values():
                if bu["_parentbusinessunitid_value"] is None:
                    return bu
        raise RuntimeError("the seed has no root business unit (parent: null)")

    def child_business_units(self) -> list[str]:
        root = self.root_business_unit()["businessunitid"]
        return [b for b in self.businessunits if b != root]

    def caller_for_app(self, app_id: str) -> Record:
        """The systemuser a token's ``appid`` maps to (application users only)."""
        with self.lock:
            for user in self.systemusers.values():
                if (user.get("applicationid") or "").lower() == app_id.lower():
                    if user["isdisabled"]:
                        raise DataverseError(403, USER_DISABLED,
                                             f"The user with SystemUserId={user['systemuserid']} is disabled.")
                    return user
        raise DataverseError(403, NOT_A_MEMBER,
                             f"The user is not a member of the organization (no application user for appid {app_id}).")

    def whoami(self, user: Record) -> Record:
        return {"BusinessUnitId": user["_businessunitid_value"], "UserId": user["systemuserid"],
                "OrganizationId": self.organization_id}

    # -- permissions -----------------------------------------------------------------------
    def root_role(self, role_id: str) -> Record:
        role = self.roles[role_id]
        return self.roles.get(role["_parentrootroleid_value"] or role_id, role)

    def is_admin(self, user_id: str) -> bool:
        """Holds System Administrator or System Customizer (by template of the root role)."""
        with self.lock:
            return any(self.root_role(r).get("_roletemplateid_value") in ADMIN_TEMPLATES
                       for r in self.user_roles.get(user_id, []) if r in self.roles)

    def require_admin(self, user: Record, privilege: str, entity: str) -> None:
        """Refuse like Dataverse does when a privilege is missing (403, 0x80040220)."""
        uid = user["systemuserid"]
        if self.is_admin(uid):
            return
        roles = self.user_roles.get(uid, [])
        count = len(self.user_privileges(uid))
        pid = catalog.privilege_id(privilege)
        raise DataverseError(403, PRIVILEGE_DENIED,
                             f"Principal user (Id={uid}, type={SYSTEMUSER_OTC}, roleCount={len(roles)}, "
                             f"privilegeCount={count}, accessMode={user['accessmode']}), is missing {privilege} "
                             f"privilege (Id={pid}) on entity '{entity}'.")

    # -- users -----------------------------------------------------------------------------
    def get_user(self, user_id: str) -> Record:
        with self.lock:
            user = self.systemusers.get(user_id.lower())
            if user is None:
                raise not_found("systemuser", user_id)
            return user

    def provision_licensed_users(self, licensed: Iterable[tuple[str, float, str | None, str | None]],
                                 delay_s: float) -> list[str]:
        """Create systemusers for licensed Entra users whose provisioning delay has passed.

        ``licensed`` yields (object_id, licensed_at, upn, display_name). Returns the new ids.
        """
        created = []
        now = self.now()
        with self.lock:
            known = {(u.get("azureactivedirectoryobjectid") or "").lower() for u in self.systemusers.values()}
            root = self.root_business_unit()["businessunitid"]
            for object_id, licensed_at, upn, name in licensed:
                oid = object_id.lower()
                if oid in known or now < licensed_at + delay_s:
                    continue
                uid = str(uuid.uuid5(ID_NAMESPACE, f"user:{oid}"))
                self.systemusers[uid] = self.touch(self.user_record(
                    uid, bu=root, object_id=oid, fullname=name or upn or oid, upn=upn, islicensed=True), created=True)
                self.user_roles[uid] = []
                created.append(uid)
            if created:
                self.changed()
        return created

    def create_application_user(self, application_id: str, business_unit_id: str, *, user_id: str | None = None,
                                accessmode: int = 4, isdisabled: bool = False, fullname: str | None = None) -> Record:
        """One application user per applicationid: an existing (even disabled or soft-deleted) one blocks."""
        app = application_id.lower()
        with self.lock:
            for u in list(self.systemusers.values()) + list(self.soft_deleted_users.values()):
                if (u.get("applicationid") or "") == app:
                    state = ("soft-deleted" if u["systemuserid"] in self.soft_deleted_users
                             else "disabled" if u["isdisabled"] else "active")
                    raise DataverseError(409, DUPLICATE,
                                         f"A record with matching key values already exists: an {state} "
                                         f"application user ({u['systemuserid']}) has applicationid {app}.")
            if business_unit_id.lower() not in self.businessunits:
                raise not_found("businessunit", business_unit_id)
            if accessmode != 4:
                raise bad_request(f"accessmode {accessmode} is not valid for an application user; it must be 4 (Non-interactive).")
            uid = (user_id or self.new_id()).lower()
            if uid in self.systemusers:
                raise DataverseError(409, DUPLICATE, f"A record with systemuserid {uid} already exists.")
            rec = self.user_record(uid, bu=business_unit_id.lower(), accessmode=4, application_id=app,
                                    fullname=fullname or f"# {app}", isdisabled=isdisabled)
            self.systemusers[uid] = self.touch(rec, created=True)
            self.user_roles[uid] = []
            self.changed()
            return rec

    def update_user(self, user_id: str, fields: Record) -> Record:
        with self.lock:
            user = self.get_user(user_id)
            if "accessmode" in fields and fields["accessmode"] not in (0, 1, 2, 3, 4, 5):
                raise bad_request(f"accessmode {fields['accessmode']!r} is not valid; allowed: 0-5.")
            for k in ("isdisabled", "isintegrationuser"):
                if k in fields and not isinstance(fields[k], bool):
                    raise bad_request(f"{k} must be true or false, got {fields[k]!r}.")
            user.update(fields)
            self.touch(user)
            self.changed()
            return user

    def soft_delete_user(self, user_id: str) -> None:
        """Out-of-band: make a user invisible but still blocking its applicationid (a 'soft-deleted' user)."""
        with self.lock:
            user = self.systemusers.pop(user_id.lower())
            self.user_roles.pop(user_id.lower(), None)
            user["isdisabled"] = True
            self.soft_deleted_users[user["systemuserid"]] = user
            self.changed()

    def purge_soft_deleted(self, application_id: str | None = None) -> int:
        """Out-of-band: clear soft-deleted users (all, or those of one application id)."""
        with self.lock:
            gone = [k for k, u in self.soft_deleted_users.items()
                    if application_id is None or (u.get("applicationid") or "") == application_id.lower()]
            for k in gone:
                del self.soft_deleted_users[k]
            self.changed()
            return len(gone)

    def user_role_ids(self, user_id: str) -> list[str]:
        with self.lock:
            self.get_user(user_id)
            return [r for r in self.user_roles.get(user_id.lower(), []) if r in self.roles]

    def associate_role(self, user_id: str, role_id: str) -> None:
        with self.lock:
            user = self.get_user(user_id)
            role = self.get_role(role_id)
            if role["_businessunitid_value"] != user["_businessunitid_value"]:
                raise DataverseError(400, ROLE_BU_MISMATCH,
                                     f"The role {role['roleid']} belongs to business unit {role['_businessunitid_value']} "
                                     f"but user {user['systemuserid']} belongs to business unit "
                                     f"{user['_businessunitid_value']}; assign the role copy of the user's business unit.")
            roles = self.user_roles.setdefault(user["systemuserid"], [])
            if role["roleid"] in roles:
                raise DataverseError(400, DUPLICATE, "Cannot insert duplicate key: the user already has this role.")
            roles.append(role["roleid"])
            self.touch(user)
            self.changed()

    def disassociate_role(self, user_id: str, role_id: str) -> None:
        with self.lock:
            user = self.get_user(user_id)
            roles = self.user_roles.setdefault(user["systemuserid"], [])
            if role_id.lower() not in roles:
                raise not_found("systemuserroles", f"{user_id},{role_id}")
            roles.remove(role_id.lower())
            self.touch(user)
            self.changed()

    # -- roles -----------------------------------------------------------------------------
    def get_role(self, role_id: str) -> Record:
        with self.lock:
            role = self.roles.get(role_id.lower())
            if role is None:
                raise not_found("role", role_id)
            return role

    def create_role(self, role_id: str | None, name: str, business_unit_id: str, *, description: str | None = None,
                    template_id: str | None = None, managed: bool = False, solution_id: str | None = None,
                    isinherited: int = 1, customizable: bool = True) -> Record:
        """Create a role; in the root BU this also creates one copy per child BU."""
        with self.lock:
            rid = (role_id or self.new_id()).lower()
            bu = business_unit_id.lower()
            if rid in self.roles:
                raise DataverseError(409, DUPLICATE, f"Cannot insert duplicate key: a role with roleid {rid} already exists.")
            if bu not in self.businessunits:
                raise not_found("businessunit", business_unit_id)
            if not isinstance(name, str) or not name.strip() or len(name) > 100:
                raise bad_request("name is required and must be 1-100 characters.")
            _check_isinherited(isinherited)
            root_bu = self.root_business_unit()["businessunitid"]
            rec = self._role_record(rid, name, bu, rid if bu == root_bu else None, template_id, managed,
                                    solution_id, description, isinherited, customizable)
            self.roles[rid] = rec
            self.role_privilege_map.setdefault(rid, {})
            if bu == root_bu:
                for child in self.child_business_units():
                    cid = str(uuid.uuid5(ID_NAMESPACE, f"role-copy:{rid}:{child}"))
                    self.roles[cid] = self._role_record(cid, name, child, rid, template_id, managed, solution_id,
                                                        description, isinherited, customizable)
            self.changed()
            return rec

    def _role_record(self, rid: str, name: str, bu: str, parent_root: str | None, template: str | None,
                     managed: bool, solution_id: str | None, description: str | None, isinherited: int,
                     customizable: bool = True) -> Record:
        return self.touch({
            "roleid": rid, "name": name, "description": description, "_businessunitid_value": bu,
            "_parentrootroleid_value": parent_root or rid, "_parentroleid_value": None if parent_root in (None, rid) else parent_root,
            "_roletemplateid_value": template, "ismanaged": managed,
            "iscustomizable": {"Value": customizable, "CanBeChanged": not managed,
                               "ManagedPropertyLogicalName": "iscustomizableanddeletable"},
            "isinherited": isinherited, "_solutionid_value": solution_id}, created=True)

    def is_copy(self, role: Record) -> bool:
        return role["_parentrootroleid_value"] not in (None, role["roleid"])

    def copies_of(self, root_id: str) -> list[Record]:
        return [r for r in self.roles.values() if r["_parentrootroleid_value"] == root_id and r["roleid"] != root_id]

    def _require_customizable(self, role: Record) -> None:
        if not role["iscustomizable"]["Value"]:
            raise DataverseError(400, MANAGED_NOT_DELETABLE,
                                 f"The role {role['name']} ({role['roleid']}) is managed and not customizable; "
                                 "it cannot be changed.")

    def update_role(self, role_id: str, fields: Record) -> Record:
        with self.lock:
            role = self.get_role(role_id)
            self._require_customizable(role)
            if self.is_copy(role):
                raise DataverseError(400, INHERITED_ROLE_READONLY,
                                     f"Role {role['roleid']} is inherited from root role {role['_parentrootroleid_value']}; "
                                     "change the root role instead.")
            if "name" in fields and (not isinstance(fields["name"], str) or not fields["name"].strip()
                                     or len(fields["name"]) > 100):
                raise bad_request("name must be 1-100 characters.")
            if "isinherited" in fields:
                _check_isinherited(fields["isinherited"])
            for rec in [role, *self.copies_of(role["roleid"])]:
                rec.update(fields)
                self.touch(rec)
            self.changed()
            return role

    def delete_role(self, role_id: str, *, allow_managed: bool = False) -> None:
        with self.lock:
            role = self.get_role(role_id)
            if role["ismanaged"] and not allow_managed:
                raise DataverseError(400, MANAGED_NOT_DELETABLE,
                                     f"The role {role['roleid']} is part of a managed solution and cannot be deleted.")
            if self.is_copy(role) and not allow_managed:
                raise DataverseError(400, INHERITED_ROLE_READONLY,
                                     f"Role {role['roleid']} is inherited; delete its root role instead.")
            for rec in [role, *self.copies_of(role["roleid"])]:
                del self.roles[rec["roleid"]]
                for roles in self.user_roles.values():
                    if rec["roleid"] in roles:
                        roles.remove(rec["roleid"])
            self.role_privilege_map.pop(role["roleid"], None)
            self.changed()

    # -- snapshot --------------------------------------------------------------------------
    _STATE = ("_version", "organization_id", "businessunits", "systemusers", "soft_deleted_users", "roles",
              "privileges", "role_privilege_map", "user_roles", "solutions", "solution_components",
              "asyncoperations", "importjobs", "staged", "published", "administration_mode",
              "background_operations")

    def set_administration_mode(self, enabled: bool, background_operations: bool | None = None) -> None:
        """Out-of-band, like an admin in the Power Platform admin center (or pac admin set-runtime-state)."""
        with self.lock:
            self.administration_mode = bool(enabled)
            if background_operations is not None:
                self.background_operations = bool(background_operations)
            self.changed()

    def snapshot(self) -> dict[str, Any]:
        """JSON-serialisable copy of all state."""
        with self.lock:
            return copy.deepcopy({k: getattr(self, k) for k in self._STATE})

    def restore(self, state: dict[str, Any]) -> None:
        with self.lock:
            for k in self._STATE:
                if k in state:
                    setattr(self, k, copy.deepcopy(state[k]))
