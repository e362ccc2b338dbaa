"""Security roles and their privileges: the ``role`` and ``privilege`` tables and the role actions.

A role's privileges are set with the bound actions ``ReplacePrivilegesRole`` (exactly these),
``AddPrivilegesRole`` (add or raise) and ``RemovePrivilegeRole`` (one), and read with the
``RetrieveRolePrivilegesRole`` function (Web API reference).  Privilege names are looked up in
the catalog in one request with the ``Microsoft.Dynamics.CRM.In`` query function.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping
from urllib.parse import quote as url_quote, urlencode

from infra.clients.dataverse.core import DataverseCore, raise_for_part
from infra.clients.dataverse.dto import PRIVILEGE_SELECT, ROLE_SELECT, Privilege, Role, RolePrivilege, wire_depth
from infra.clients.errors import ConfigurationError, ConflictError, NotFoundError
from infra.clients.odata import url_guid, quote

__all__ = ["RolesApi", "PRIVILEGE_NAMES_PER_QUERY"]

#: Names per privileges query; one request covers any realistic role (URL length stays < ~16 kB).
PRIVILEGE_NAMES_PER_QUERY = 400


def _in(column: str, values: Iterable[str]) -> str:
    """``Microsoft.Dynamics.CRM.In(PropertyName='<column>',PropertyValues=['a','b'])``."""
    return (f"Microsoft.Dynamics.CRM.In(PropertyName='{column}',PropertyValues=["
            + ",".join(quote(v) for v in values) + "])")


class RolesApi(DataverseCore):
    """Roles, role copies in business units, and role privileges.  Ids are GUIDs; anything else
    raises :class:`~infra.clients.errors.ConfigurationError` before a request."""

    # --- roles ------------------------------------------------------------------------------

    def get_role(self, role_id: str) -> Role | None:
        """The role, or None when there is no role with that id."""
        rid = url_guid(role_id, "role id")
        try:
            return Role.from_json(self.get(f"roles({rid})", {"$select": ROLE_SELECT}))
        except NotFoundError:
            return None

    def find_roles(self, name: str | None = None, business_unit_id: str | None = None) -> list[Role]:
        """Roles with this exact name and/or in this business unit (all roles when neither is given)."""
        clauses = []
        if name is not None:
            clauses.append(f"name eq {quote(name)}")
        if business_unit_id is not None:
            clauses.append(f"_businessunitid_value eq {url_guid(business_unit_id, 'business unit id')}")
        params = {"$select": ROLE_SELECT}
        if clauses:
            params["$filter"] = " and ".join(clauses)
        return [Role.from_json(r) for r in self.get_all("roles", params)]

    def roles_by_ids_or_names(self, role_ids: Iterable[str] = (), names: Iterable[str] = (),
                              business_unit_id: str | None = None) -> list[Role]:
        """Roles with any of ``role_ids``, or named one of ``names`` in ``business_unit_id``, in
        ONE request: ``In`` on roleid ``or`` (``In`` on name ``and`` the business unit).
        Raises ConfigurationError for more than :data:`PRIVILEGE_NAMES_PER_QUERY` references or
        names without a business unit."""
        ids = sorted({url_guid(r, "role id") for r in role_ids})
        wanted = sorted(set(names))
        if len(ids) + len(wanted) > PRIVILEGE_NAMES_PER_QUERY:
            raise ConfigurationError(f"too many roles in one lookup ({len(ids) + len(wanted)})")
        clauses = []
        if ids:
            clauses.append(_in("roleid", ids))
        if wanted:
            if business_unit_id is None:
                raise ConfigurationError("a business unit is needed to find roles by name")
            bu = url_guid(business_unit_id, "business unit id")
            clauses.append(f"({_in('name', wanted)} and _businessunitid_value eq {bu})")
        if not clauses:
            return []
        rows = self.get_all("roles", {"$select": ROLE_SELECT, "$filter": " or ".join(clauses)})
        return [Role.from_json(r) for r in rows]

    def get_role_with_privileges(self, role_id: str) -> tuple[Role, list[RolePrivilege]] | None:
        """``roles(<id>)`` and ``RetrieveRolePrivilegesRole`` in one round trip; None if gone."""
        rid = url_guid(role_id, "role id")
        role_part, privs_part = self.get_many([
            f"roles({rid})?{urlencode({'$select': ROLE_SELECT}, quote_via=url_quote, safe=',$')}",
            f"RetrieveRolePrivilegesRole(RoleId={rid})"])
        if role_part.status == 404:
            return None
        for part in (role_part, privs_part):
            raise_for_part(part, "GET")
        body = privs_part.body if isinstance(privs_part.body, Mapping) else {}
        return (Role.from_json(role_part.body),
                [RolePrivilege.from_json(p) for p in body.get("RolePrivileges", [])])

    def find_role_copy(self, root_role_id: str, business_unit_id: str) -> Role | None:
        """The copy of a root-BU role that lives in ``business_unit_id`` (itself for the root BU)."""
        rid = url_guid(root_role_id, "root role id")
        bu = url_guid(business_unit_id, "business unit id")
        rows = self.get_all("roles", {"$select": ROLE_SELECT,
                                      "$filter": f"_parentrootroleid_value eq {rid} and _businessunitid_value eq {bu}"})
        return Role.from_json(rows[0]) if rows else None

    def create_role(self, role_id: str, name: str, business_unit_id: str, *,
                    solution_unique_name: str | None = None, description: str | None = None) -> Role:
        """Create a role with a primary key of our choosing.  Because the key is fixed, a retry can
        never create a second role; a duplicate after a lost response is recognised and returned
        (:class:`ConflictError` when another role holds the id)."""
        rid = url_guid(role_id, "role id")
        bu = url_guid(business_unit_id, "business unit id")
        body: dict[str, Any] = {"roleid": rid, "name": name, "businessunitid@odata.bind": f"/businessunits({bu})"}
        if description is not None:
            body["description"] = description
        headers = {"Prefer": "return=representation"}
        if solution_unique_name:
            headers["MSCRM.SolutionUniqueName"] = solution_unique_name
        try:
            d = self._json("POST", "roles", body=body, params={"$select": ROLE_SELECT}, headers=headers, idempotent=True)
        except ConflictError:
            existing = self.get_role(rid)
            if existing and existing.name == name and existing.business_unit_id == bu:
                return existing
            raise
        return Role.from_json(d) if d else (self.get_role(rid) or Role(rid, name, bu))

    def rename_role(self, role_id: str, name: str) -> None:
        """PATCH the role's name (``If-Match: *``: update only)."""
        rid = url_guid(role_id, "role id")
        self._json("PATCH", f"roles({rid})", body={"name": name}, headers={"If-Match": "*"})

    def delete_role(self, role_id: str) -> bool:
        """Delete; ``False`` when it was already gone."""
        return self._delete(f"roles({url_guid(role_id, 'role id')})")

    # --- privileges -------------------------------------------------------------------------

    def privileges_by_name(self, names: Iterable[str]) -> dict[str, Privilege]:
        """Catalog entries for ``names`` in ONE request (``Microsoft.Dynamics.CRM.In``), keyed by
        the caller's spelling (Dataverse compares names case-insensitively).

        Names absent from the catalog are absent from the result; the caller reports them.
        """
        wanted = sorted(set(names))
        found: dict[str, Privilege] = {}
        for start in range(0, len(wanted), PRIVILEGE_NAMES_PER_QUERY):
            chunk = wanted[start:start + PRIVILEGE_NAMES_PER_QUERY]
            params = {"$select": PRIVILEGE_SELECT, "$filter": _in("name", chunk)}
            for row in self.get_all("privileges", params, page_size=5000):
                p = Privilege.from_json(row)
                found[p.name] = p
        by_lower = {k.lower(): v for k, v in found.items()}
        return {n: by_lower[n.lower()] for n in wanted if n.lower() in by_lower}

    def role_privileges(self, role_id: str) -> list[RolePrivilege]:
        """The role's privileges and depths (``RetrieveRolePrivilegesRole``)."""
        rid = url_guid(role_id, "role id")
        d = self.get(f"RetrieveRolePrivilegesRole(RoleId={rid})") or {}
        return [RolePrivilege.from_json(p) for p in d.get("RolePrivileges", [])]

    def _privilege_bodies(self, privileges: Iterable[RolePrivilege] | Mapping[str, str],
                          business_unit_id: str | None) -> list[dict[str, Any]]:
        items = (
            [RolePrivilege(url_guid(k, "privilege id"), wire_depth(v)) for k, v in privileges.items()]
            if isinstance(privileges, Mapping) else list(privileges)
        )
        return [p.to_json(business_unit_id) for p in items]

    def replace_role_privileges(self, role_id: str, privileges: Iterable[RolePrivilege] | Mapping[str, str],
                                *, business_unit_id: str | None = None) -> None:
        """Make the role hold exactly ``privileges`` (privilege id -> depth, or RolePrivilege)."""
        rid = url_guid(role_id, "role id")
        body = {"Privileges": self._privilege_bodies(privileges, business_unit_id)}
        self._json("POST", f"roles({rid})/Microsoft.Dynamics.CRM.ReplacePrivilegesRole", body=body, idempotent=True)

    def add_role_privileges(self, role_id: str, privileges: Iterable[RolePrivilege] | Mapping[str, str],
                            *, business_unit_id: str | None = None) -> None:
        """Add privileges or raise their depth (idempotent)."""
        rid = url_guid(role_id, "role id")
        body = {"Privileges": self._privilege_bodies(privileges, business_unit_id)}
        self._json("POST", f"roles({rid})/Microsoft.Dynamics.CRM.AddPrivilegesRole", body=body, idempotent=True)

    def remove_role_privilege(self, role_id: str, privilege_id: str) -> None:
        """Remove one privilege.  The action's only parameter is ``Privilege``, typed as the
        ``privilege`` entity (learn.microsoft.com, "RemovePrivilegeRole Action"), so it is sent
        as an entity reference; a bare ``PrivilegeId`` GUID is rejected by the real service."""
        rid = url_guid(role_id, "role id")
        pid = url_guid(privilege_id, "privilege id")
        body = {"Privilege": {"@odata.type": "Microsoft.Dynamics.CRM.privilege", "privilegeid": pid}}
        self._json("POST", f"roles({rid})/Microsoft.Dynamics.CRM.RemovePrivilegeRole", body=body, idempotent=True)
