"""Users: the caller (WhoAmI), ``systemuser`` rows, and which roles a user holds.

A user's roles are the ``systemuserroles_association`` many-to-many relationship; giving and
taking roles is associating and disassociating through it ("Associate and disassociate table rows
using the Web API").  Reads that need a user *and* its roles ask for both in one request
(``$expand``).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from infra import facts
from infra.clients.dataverse.core import DataverseCore
from infra.clients.dataverse.dto import (
    ROLE_SELECT,
    USER_SELECT,
    BusinessUnit,
    Role,
    RolePrivilege,
    SystemUser,
    WhoAmI,
)
from infra.clients.errors import ConflictError, NotFoundError
from infra.clients.odata import BatchRequest, url_guid
from infra.clients.redact import logger

__all__ = ["UsersApi"]

_ROLES_NAV = "systemuserroles_association"
_ROLES_EXPAND = f"{_ROLES_NAV}($select={ROLE_SELECT})"


class UsersApi(DataverseCore):
    """The caller, users and their role assignments.  Ids are GUIDs (any case, braces allowed);
    anything else raises :class:`~infra.clients.errors.ConfigurationError` before a request."""

    # --- identity ---------------------------------------------------------------------------

    def whoami(self) -> WhoAmI:
        """The calling user, its business unit and organization (``WhoAmI`` function)."""
        return WhoAmI.from_json(self.get("WhoAmI"))

    def root_business_unit(self) -> BusinessUnit:
        """The environment's root business unit (the one without a parent); NotFoundError if none."""
        rows = self.get_all("businessunits", {"$select": "businessunitid,name",
                                              "$filter": "parentbusinessunitid eq null"})
        if not rows:
            raise NotFoundError(404, None, "no root business unit found", service="dataverse")
        return BusinessUnit.from_json(rows[0])

    # --- users ------------------------------------------------------------------------------

    def user_roles(self, user_id: str) -> list[Role]:
        """The roles the user holds directly (not through teams)."""
        uid = url_guid(user_id, "user id")
        rows = self.get_all(f"systemusers({uid})/{_ROLES_NAV}", {"$select": ROLE_SELECT})
        return [Role.from_json(r) for r in rows]

    def _with_roles(self, row: Mapping[str, Any]) -> tuple[SystemUser, list[Role]]:
        """A user row read with :data:`_ROLES_EXPAND` -> (user, roles).  Should the service cut
        the expanded collection short (it then sends ``<nav>@odata.nextLink``), the roles are read
        in full with :meth:`user_roles`, so the answer is never a silently partial list."""
        user = SystemUser.from_json(row)
        if row.get(f"{_ROLES_NAV}@odata.nextLink") or _ROLES_NAV not in row:
            return user, self.user_roles(user.systemuser_id)
        return user, [Role.from_json(r) for r in row.get(_ROLES_NAV) or []]

    def get_user_with_roles(self, user_id: str) -> tuple[SystemUser, list[Role]]:
        """The user and its roles in ONE request (``$expand``); :class:`NotFoundError` if gone."""
        uid = url_guid(user_id, "user id")
        return self._with_roles(self.get(f"systemusers({uid})", {"$select": USER_SELECT,
                                                               "$expand": _ROLES_EXPAND}))

    def find_user_with_roles_by_object_id(self, object_id: str) -> tuple[SystemUser, list[Role]] | None:
        """The systemuser of an Entra object id and its roles in one request, or None."""
        oid = url_guid(object_id, "Entra object id")
        rows = self.get_all("systemusers", {"$select": USER_SELECT, "$expand": _ROLES_EXPAND,
                                            "$filter": f"azureactivedirectoryobjectid eq {oid}"})
        return self._with_roles(rows[0]) if rows else None

    def find_users_with_roles_by_application_id(self, app_id: str) -> list[tuple[SystemUser, list[Role]]]:
        """Application users of a client id with their roles, in one request."""
        aid = url_guid(app_id, "application (client) id")
        rows = self.get_all("systemusers", {"$select": USER_SELECT, "$expand": _ROLES_EXPAND,
                                            "$filter": f"applicationid eq {aid}"})
        return [self._with_roles(r) for r in rows]

    def user_privileges(self, user_id: str) -> list[RolePrivilege]:
        """Every privilege the user holds through its roles (``RetrieveUserPrivileges``)."""
        uid = url_guid(user_id, "user id")
        d = self.get(f"systemusers({uid})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()") or {}
        return [RolePrivilege.from_json(p) for p in d.get("RolePrivileges", [])]

    def find_user_by_object_id(self, object_id: str) -> SystemUser | None:
        """The systemuser of an Entra object id, or None."""
        oid = url_guid(object_id, "Entra object id")
        rows = self.get_all("systemusers", {"$select": USER_SELECT, "$filter": f"azureactivedirectoryobjectid eq {oid}"})
        return SystemUser.from_json(rows[0]) if rows else None

    def find_users_by_application_id(self, app_id: str) -> list[SystemUser]:
        """The application users (any state) whose ``applicationid`` is ``app_id``."""
        aid = url_guid(app_id, "application (client) id")
        rows = self.get_all("systemusers", {"$select": USER_SELECT, "$filter": f"applicationid eq {aid}"})
        return [SystemUser.from_json(r) for r in rows]

    def get_user(self, user_id: str) -> SystemUser:
        """The user; :class:`NotFoundError` if there is none."""
        uid = url_guid(user_id, "user id")
        return SystemUser.from_json(self.get(f"systemusers({uid})", {"$select": USER_SELECT}))

    def update_user(self, user_id: str, fields: Mapping[str, Any]) -> None:
        """PATCH with ``If-Match: *`` (update only, never an accidental create; safe to retry)."""
        uid = url_guid(user_id, "user id")
        self._json("PATCH", f"systemusers({uid})", body=dict(fields), headers={"If-Match": "*"})

    def create_application_user(self, app_id: str, business_unit_id: str) -> SystemUser:
        """Create the application (server-to-server) user, non-interactive, in the business unit.

        Not retried on an unknown outcome (:class:`~infra.clients.errors.AmbiguousOutcomeError`):
        the caller looks it up with :meth:`find_users_by_application_id` first.
        """
        aid = url_guid(app_id, "application (client) id")
        bu = url_guid(business_unit_id, "business unit id")
        body = {"applicationid": aid, "accessmode": facts.ACCESS_MODE_NON_INTERACTIVE, "isdisabled": False,
                "businessunitid@odata.bind": f"/businessunits({bu})"}
        d = self._json("POST", "systemusers", body=body, params={"$select": USER_SELECT},
                       headers={"Prefer": "return=representation"}, idempotent=False)
        if d:
            return SystemUser.from_json(d)
        users = self.find_users_by_application_id(aid)
        if not users:
            raise NotFoundError(404, None, f"application user for {aid} not found after create", service="dataverse")
        return users[0]

    # --- role assignment --------------------------------------------------------------------

    def _associate(self, uid: str, rid: str) -> BatchRequest:
        return BatchRequest("POST", self._abs(f"systemusers({uid})/{_ROLES_NAV}/$ref"),
                            {"@odata.id": self._abs(f"roles({rid})")})

    def _disassociate(self, uid: str, rid: str) -> BatchRequest:
        return BatchRequest("DELETE", self._abs(f"systemusers({uid})/{_ROLES_NAV}({rid})/$ref"))

    def associate_role(self, user_id: str, role_id: str) -> None:
        """Give a user a role; already having it is success."""
        uid, rid = url_guid(user_id, "user id"), url_guid(role_id, "role id")
        try:
            self._json("POST", f"systemusers({uid})/{_ROLES_NAV}/$ref",
                       body={"@odata.id": self._abs(f"roles({rid})")}, idempotent=True)
        except ConflictError:
            logger.debug("user %s already has role %s", uid, rid)

    def disassociate_role(self, user_id: str, role_id: str) -> None:
        """Take a role away; not having it is success."""
        uid, rid = url_guid(user_id, "user id"), url_guid(role_id, "role id")
        try:
            self._json("DELETE", f"systemusers({uid})/{_ROLES_NAV}({rid})/$ref")
        except NotFoundError:
            logger.debug("user %s did not have role %s", uid, rid)

    def batch_associate(self, user_id: str, role_ids: Iterable[str]) -> None:
        """Give a user several roles in one ``$batch`` change set (all or nothing).

        If the change set fails because the user already holds one of the roles, the current
        roles are read and only the missing ones are sent again.
        """
        uid = url_guid(user_id, "user id")
        rids = list(dict.fromkeys(url_guid(r, "role id") for r in role_ids))
        if not rids:
            return
        if len(rids) == 1:
            return self.associate_role(uid, rids[0])
        try:
            self.batch([self._associate(uid, r) for r in rids], atomic=True, idempotent=True)
        except ConflictError:
            held = {r.role_id for r in self.user_roles(uid)}
            missing = [r for r in rids if r not in held]
            if missing:
                self.batch([self._associate(uid, r) for r in missing], atomic=True, idempotent=True)

    def batch_disassociate(self, user_id: str, role_ids: Iterable[str]) -> None:
        """Take several roles away in one ``$batch`` change set; roles already gone are skipped."""
        uid = url_guid(user_id, "user id")
        rids = list(dict.fromkeys(url_guid(r, "role id") for r in role_ids))
        if not rids:
            return
        if len(rids) == 1:
            return self.disassociate_role(uid, rids[0])
        try:
            self.batch([self._disassociate(uid, r) for r in rids], atomic=True, idempotent=True)
        except NotFoundError:
            held = {r.role_id for r in self.user_roles(uid)}
            still = [r for r in rids if r in held]
            if still:
                self.batch([self._disassociate(uid, r) for r in still], atomic=True, idempotent=True)

    def batch_change_roles(self, user_id: str, add: Iterable[str], remove: Iterable[str]) -> None:
        """Add and remove roles of one user in ONE ``$batch`` change set (all or nothing).

        Should the change set fail because a role is already held or already gone (someone
        changed the user meanwhile), the additions and removals are sent again on their own,
        each of which treats those cases as success."""
        uid = url_guid(user_id, "user id")
        adds = list(dict.fromkeys(url_guid(r, "role id") for r in add))
        removes = list(dict.fromkeys(url_guid(r, "role id") for r in remove))
        if not adds or not removes:
            if adds:
                self.batch_associate(uid, adds)
            if removes:
                self.batch_disassociate(uid, removes)
            return
        reqs = [self._associate(uid, r) for r in adds] + [self._disassociate(uid, r) for r in removes]
        try:
            self.batch(reqs, atomic=True, idempotent=True)
        except (ConflictError, NotFoundError):
            self.batch_associate(uid, adds)
            self.batch_disassociate(uid, removes)
