"""Privileges in the emulated Dataverse store: of roles (AddPrivilegesRole, ReplacePrivilegesRole,
RemovePrivilegeRole, RetrieveRolePrivilegesRole) and of users (RetrieveUserPrivileges), with the
depths each privilege allows.

``RolePrivileges`` is a part of ``DataverseStore`` (store.py), kept apart to keep each module
readable; its methods use the store's tables and lock.  Depths follow the PrivilegeDepth
enumeration of the Web API (Basic 0, Local 1, Deep 2, Global 3, RecordFilter 4).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from . import catalog
from .errors import INHERITED_ROLE_READONLY, INVALID_ARGUMENT, DataverseError, bad_request, not_found

if TYPE_CHECKING:
    from .store import Record

DEPTH_NAMES = ("Basic", "Local", "Deep", "Global", "RecordFilter")


def parse_depth(value: Any) -> int:
    """Depth as a PrivilegeDepth name ("Global") or number (3) -> 0..4."""
    if isinstance(value, bool):
        raise bad_request(f"Depth {value!r} is not a PrivilegeDepth; allowed: {', '.join(DEPTH_NAMES)} or 0-4.")
    if isinstance(value, int) and 0 <= value <= 4:
        return value
    if isinstance(value, str):
        if value.isdigit() and 0 <= int(value) <= 4:
            return int(value)
        for i, name in enumerate(DEPTH_NAMES):
            if value.lower() == name.lower():
                return i
    raise bad_request(f"Depth {value!r} is not a PrivilegeDepth; allowed: {', '.join(DEPTH_NAMES)} or 0-4.")


def allowed_depths(priv: Record) -> list[int]:
    return [i for i, key in enumerate(("canbebasic", "canbelocal", "canbedeep", "canbeglobal")) if priv.get(key)]


class RolePrivileges:
    """The privilege tables of a ``DataverseStore``: ``privileges`` (id -> privilege row) and
    ``role_privilege_map`` (root role id -> {privilege id: depth}); copies of a role in child
    business units share their root role's map."""

    lock: threading.RLock
    privileges: dict[str, Record]
    role_privilege_map: dict[str, dict[str, int]]
    roles: dict[str, Record]
    user_roles: dict[str, list[str]]
    # and the store's get_role, is_copy, _require_customizable, touch and changed

    def privilege_by_name(self, name: str) -> Record | None:
        with self.lock:
            return next((p for p in self.privileges.values() if p["name"] == name), None)

    def _privilege_map(self, role_id: str) -> dict[str, int]:
        role = self.get_role(role_id)
        return self.role_privilege_map.setdefault(role["_parentrootroleid_value"] or role["roleid"], {})

    def role_privileges(self, role_id: str) -> list[Record]:
        """RolePrivilege entries of a role (copies report their root role's privileges)."""
        with self.lock:
            role = self.get_role(role_id)
            return [{"PrivilegeId": pid, "PrivilegeName": self.privileges[pid]["name"], "Depth": DEPTH_NAMES[d],
                     "BusinessUnitId": role["_businessunitid_value"]}
                    for pid, d in sorted(self._privilege_map(role_id).items(),
                                         key=lambda kv: self.privileges[kv[0]]["name"]) if pid in self.privileges]

    def validate_privilege(self, privilege_id: str, depth: Any) -> tuple[str, int]:
        pid = str(privilege_id).lower()
        priv = self.privileges.get(pid)
        if priv is None:
            raise not_found("privilege", str(privilege_id))
        d = parse_depth(depth)
        if d not in allowed_depths(priv):
            allowed = ", ".join(DEPTH_NAMES[i] for i in allowed_depths(priv))
            raise DataverseError(400, INVALID_ARGUMENT,
                                 f"Privilege {priv['name']} ({pid}) cannot be granted at depth {DEPTH_NAMES[d]}; "
                                 f"allowed depths: {allowed}.")
        return pid, d

    def _editable_role(self, role_id: str) -> Record:
        """The role whose privileges may change: a root role (copies in child business units follow
        their root) that is customizable; call with the lock held."""
        role = self.get_role(role_id)
        if self.is_copy(role):
            raise DataverseError(400, INHERITED_ROLE_READONLY,
                                 f"Role {role['roleid']} is inherited; change the privileges of its root role.")
        self._require_customizable(role)
        return role

    def change_role_privileges(self, role_id: str, entries: list[tuple[str, Any]], *, replace: bool) -> None:
        """AddPrivilegesRole (replace=False: add or set depth) / ReplacePrivilegesRole (replace=True).

        Every entry is validated before anything changes."""
        with self.lock:
            role = self._editable_role(role_id)
            checked = [self.validate_privilege(pid, depth) for pid, depth in entries]
            target = self._privilege_map(role_id)
            if replace:
                target.clear()
            for pid, d in checked:
                target[pid] = d
            self.touch(role)
            self.changed()

    def remove_role_privilege(self, role_id: str, privilege_id: str) -> None:
        """RemovePrivilegeRole: take one privilege off a root role; 404 when it has none such."""
        with self.lock:
            role = self._editable_role(role_id)
            pid = str(privilege_id).lower()
            if pid not in self.privileges:
                raise not_found("privilege", str(privilege_id))
            target = self._privilege_map(role_id)
            if pid not in target:
                raise not_found("roleprivileges", f"{role_id},{privilege_id}")
            del target[pid]
            self.touch(role)
            self.changed()

    def set_role_privileges(self, role_id: str, privileges: dict[str, Any]) -> None:
        """Out-of-band: replace a role's privileges from {privilege name or id: depth}; validated."""
        with self.lock:
            entries = []
            for key, depth in privileges.items():
                p = self.privilege_by_name(key) or self.privileges.get(key.lower())
                if p is None:
                    raise not_found("privilege", key)
                entries.append((p["privilegeid"], depth))
            self.change_role_privileges(role_id, entries, replace=True)

    def user_privileges(self, user_id: str) -> list[Record]:
        """RetrieveUserPrivileges: the union of the user's roles, highest depth wins."""
        with self.lock:
            best: dict[str, tuple[int, str]] = {}
            for rid in self.user_roles.get(user_id.lower(), []):
                if rid not in self.roles:
                    continue
                bu = self.roles[rid]["_businessunitid_value"]
                for pid, d in self._privilege_map(rid).items():
                    if pid in self.privileges and (pid not in best or best[pid][0] < d):
                        best[pid] = (d, bu)
            return [{"PrivilegeId": pid, "PrivilegeName": self.privileges[pid]["name"], "Depth": DEPTH_NAMES[d],
                     "BusinessUnitId": bu} for pid, (d, bu) in sorted(best.items(),
                                                                       key=lambda kv: self.privileges[kv[0]]["name"])]

    def add_table_privileges(self, schema_name: str, ownership: str) -> list[str]:
        with self.lock:
            added = []
            for p in catalog.solution_table_privileges(schema_name, ownership):
                if p["privilegeid"] not in self.privileges:
                    self.privileges[p["privilegeid"]] = self.touch(p)
                    added.append(p["privilegeid"])
            return added

    def remove_table_privileges(self, schema_name: str) -> None:
        with self.lock:
            gone = {pid for pid, p in self.privileges.items() if p.get("_table") == schema_name.lower()}
            for pid in gone:
                del self.privileges[pid]
            for m in self.role_privilege_map.values():
                for pid in gone & set(m):
                    del m[pid]
