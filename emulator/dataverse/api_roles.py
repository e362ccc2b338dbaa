"""Roles (create with caller-chosen id, rename, delete, upsert) and their privileges."""

from __future__ import annotations

from typing import Any

from .errors import DataverseError, bad_request
from .http import (DvRequest, DvResponse, Env, bind_target, check_body, check_preconditions, guid_key,
                   write_response)
from .schema import ROLE

_ENTRY_KEYS = {"PrivilegeId", "Depth", "BusinessUnitId", "PrivilegeName", "@odata.type"}


def _create(env: Env, req: DvRequest, body: dict[str, Any], role_id: str | None) -> dict[str, Any]:
    env.store.require_admin(req.caller, "prvCreateRole", "role")
    if "name" not in body:
        raise bad_request("name is required to create a role.")
    bu = bind_target(body["businessunitid@odata.bind"], "businessunits") if "businessunitid@odata.bind" in body \
        else env.store.root_business_unit()["businessunitid"]
    solution = req.header("mscrm.solutionuniquename")
    sol_id = None
    if solution:
        from .solutions import find_solution
        sol = find_solution(env.store, solution)
        if sol is None or sol["ismanaged"]:
            raise DataverseError(400, "0x80040203",
                                 f"MSCRM.SolutionUniqueName {solution!r} is not an unmanaged solution of this environment.")
        sol_id = sol["solutionid"]
    rid = role_id or (guid_key(str(body["roleid"]), "roleid") if body.get("roleid") else None)
    rec = env.store.create_role(rid, body["name"], bu, description=body.get("description"), solution_id=sol_id,
                                isinherited=body.get("isinherited", 1))
    if solution:
        comps = env.store.solution_components.setdefault(solution, {"roles": [], "tables": {}})
        comps["roles"].append(rec["roleid"])
    return rec


def create_role(env: Env, req: DvRequest) -> DvResponse:
    body = check_body(ROLE, req.body, ROLE.creatable, "create")
    return write_response(env, req, "roles", _create(env, req, body, None), created=True)


def patch_role(env: Env, req: DvRequest, key: str) -> DvResponse:
    rec = env.store.roles.get(key)
    check_preconditions(req, rec, ROLE, key)
    if rec is None:  # PATCH without If-Match is an upsert in Dataverse
        body = check_body(ROLE, req.body, ROLE.creatable, "create")
        return write_response(env, req, "roles", _create(env, req, body, key), created=True)
    body = check_body(ROLE, req.body, ROLE.updatable, "update")
    env.store.require_admin(req.caller, "prvWriteRole", "role")
    return write_response(env, req, "roles", env.store.update_role(key, body), created=False)


def delete_role(env: Env, req: DvRequest, key: str) -> DvResponse:
    env.store.get_role(key)
    env.store.require_admin(req.caller, "prvDeleteRole", "role")
    env.store.delete_role(key)
    return DvResponse(204)


def retrieve_role_privileges(env: Env, req: DvRequest, args: dict[str, str]) -> DvResponse:
    if set(args) != {"RoleId"}:
        raise bad_request("RetrieveRolePrivilegesRole takes exactly one parameter: RoleId=<guid>.")
    role_id = guid_key(args["RoleId"], "RoleId")
    return DvResponse(200, {"@odata.context": f"{env.base_url}/$metadata#Microsoft.Dynamics.CRM.RetrieveRolePrivilegesRoleResponse",
                            "RolePrivileges": env.store.role_privileges(role_id)})


def _entries(body: dict[str, Any] | None) -> list[tuple[str, Any]]:
    if not body or set(body) - {"Privileges"} or not isinstance(body.get("Privileges"), list):
        raise DataverseError(400, "0x80048d19", 'The body must be {"Privileges": [{"PrivilegeId", "Depth", "BusinessUnitId"}]}.')
    out = []
    for i, entry in enumerate(body["Privileges"]):
        if not isinstance(entry, dict) or "PrivilegeId" not in entry or "Depth" not in entry:
            raise bad_request(f"Privileges[{i}] needs PrivilegeId and Depth.")
        unknown = set(entry) - _ENTRY_KEYS
        if unknown:
            raise DataverseError(400, "0x80048d19", f"Privileges[{i}]: unknown propert{'y' if len(unknown) == 1 else 'ies'} "
                                 f"{', '.join(sorted(unknown))} on Microsoft.Dynamics.CRM.RolePrivilege.")
        out.append((guid_key(str(entry["PrivilegeId"]), "PrivilegeId"), entry["Depth"]))
    return out


def change_privileges(env: Env, req: DvRequest, key: str, *, replace: bool) -> DvResponse:
    entries = _entries(req.body)
    env.store.get_role(key)
    env.store.require_admin(req.caller, "prvWriteRole", "role")
    env.store.change_role_privileges(key, entries, replace=replace)
    return DvResponse(204)


def remove_privilege(env: Env, req: DvRequest, key: str) -> DvResponse:
    """Body {"Privilege": {"privilegeid": "<id>"}}: the real action's one parameter is an entity
    reference typed ``privilege`` (learn.microsoft.com "RemovePrivilegeRole Action"); a bare
    ``PrivilegeId`` is refused as the real service refuses an unknown action parameter."""
    body = req.body or {}
    ref = body.get("Privilege")
    if set(body) != {"Privilege"} or not isinstance(ref, dict) or "privilegeid" not in ref:
        raise DataverseError(400, "0x80048d19",
                             'The body must be {"Privilege": {"privilegeid": "<guid>"}} (an entity reference).')
    odata_type = ref.get("@odata.type")
    if odata_type is not None and odata_type not in ("Microsoft.Dynamics.CRM.privilege", "#Microsoft.Dynamics.CRM.privilege"):
        raise DataverseError(400, "0x80048d19", f"Parameter Privilege must be a privilege, not {odata_type}.")
    env.store.get_role(key)
    env.store.require_admin(req.caller, "prvWriteRole", "role")
    env.store.remove_role_privilege(key, guid_key(str(ref["privilegeid"]), "privilegeid"))
    return DvResponse(204)
