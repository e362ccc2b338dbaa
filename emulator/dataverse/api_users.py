"""WhoAmI, business units, systemusers, role assignment and RetrieveUserPrivileges."""

from __future__ import annotations

from .errors import DataverseError
from .http import (DvRequest, DvResponse, Env, bind_target, check_body, check_preconditions, collection_response,
                   guid_key, related, write_response)
from .schema import ROLE, SYSTEMUSER


def whoami(env: Env, req: DvRequest) -> DvResponse:
    body = {"@odata.context": f"{env.base_url}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
            **env.store.whoami(req.caller)}
    return DvResponse(200, body)


def create_systemuser(env: Env, req: DvRequest) -> DvResponse:
    """Only application users can be created (normal users arrive from Entra after licensing)."""
    body = check_body(SYSTEMUSER, req.body, SYSTEMUSER.creatable, "create")
    env.store.require_admin(req.caller, "prvCreateUser", "systemuser")
    if not body.get("applicationid"):
        raise DataverseError(400, "0x80040203",
                             "The emulator creates only application users (applicationid is required); "
                             "interactive users are synchronised from Entra ID after they are licensed.")
    bu = bind_target(body["businessunitid@odata.bind"], "businessunits") if "businessunitid@odata.bind" in body \
        else env.store.root_business_unit()["businessunitid"]
    app_id = guid_key(str(body["applicationid"]), "applicationid")
    name = next((a.get("display_name") for a in env.ctx.seed.get("apps", []) if a.get("client_id") == app_id), None)
    accessmode = body.get("accessmode", 4)
    if not isinstance(accessmode, int) or isinstance(accessmode, bool):
        raise DataverseError(400, "0x80040203", f"accessmode {accessmode!r} must be an integer (4 for application users).")
    user_id = guid_key(str(body["systemuserid"]), "systemuserid") if body.get("systemuserid") else None
    rec = env.store.create_application_user(
        app_id, bu, user_id=user_id, accessmode=accessmode,
        isdisabled=bool(body.get("isdisabled", False)), fullname=f"# {name}" if name else None)
    return write_response(env, req, "systemusers", rec, created=True)


def patch_systemuser(env: Env, req: DvRequest, key: str) -> DvResponse:
    body = check_body(SYSTEMUSER, req.body, SYSTEMUSER.updatable, "update")
    rec = env.store.systemusers.get(key)
    check_preconditions(req, rec, SYSTEMUSER, key)
    if rec is None:
        raise DataverseError(404, "0x80040217", f"systemuser With Ids = {key} Do Not Exist")
    env.store.require_admin(req.caller, "prvWriteUser", "systemuser")
    rec = env.store.update_user(key, body)
    return write_response(env, req, "systemusers", rec, created=False)


def user_roles(env: Env, req: DvRequest, key: str) -> DvResponse:
    return collection_response(env, req, "roles", related(env, "systemusers", key, "systemuserroles_association"), ROLE)


def associate(env: Env, req: DvRequest, key: str) -> DvResponse:
    if not req.body or set(req.body) - {"@odata.id", "@odata.context"} or "@odata.id" not in req.body:
        raise DataverseError(400, "0x80048d19", 'The body must be {"@odata.id": "<base>/roles(<id>)"}.')
    role_id = bind_target(req.body["@odata.id"], "roles")
    env.store.require_admin(req.caller, "prvWriteUser", "systemuser")
    env.store.associate_role(key, role_id)
    return DvResponse(204)


def disassociate(env: Env, req: DvRequest, key: str, role_key: str) -> DvResponse:
    env.store.require_admin(req.caller, "prvWriteUser", "systemuser")
    env.store.disassociate_role(key, role_key)
    return DvResponse(204)


def retrieve_user_privileges(env: Env, req: DvRequest, key: str) -> DvResponse:
    env.store.get_user(key)
    return DvResponse(200, {"@odata.context": f"{env.base_url}/$metadata#Microsoft.Dynamics.CRM.RetrieveUserPrivilegesResponse",
                            "RolePrivileges": env.store.user_privileges(key)})
