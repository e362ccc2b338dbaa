"""Maps an OData URL (relative to /api/data/v9.2) and method to a handler.

OData paths carry keys and function parameters in parentheses (``roles(<id>)``,
``RetrieveRolePrivilegesRole(RoleId=<id>)``), which path-template routers do not express well,
so dispatch is a small explicit parser.
"""

from __future__ import annotations

import inspect
import re
import sys
import traceback
from typing import Any

from . import api_roles, api_solutions, api_users, batch, metadata, solutions
from .errors import METHOD_NOT_ALLOWED, RESOURCE_NOT_FOUND, DataverseError, bad_request
from .http import (DvRequest, DvResponse, Env, collection_response, count_response, find_record, guid_key, records_of,
                   single_response)
from .schema import ENTITY_SETS, SYSTEMUSER

UNBOUND_ACTIONS = {
    "StageSolution": api_solutions.stage_solution,
    "ImportSolutionAsync": api_solutions.import_solution_async,
    "StageAndUpgradeAsync": lambda env, req: api_solutions.import_solution_async(env, req, upgrade=True),
    "ImportSolution": api_solutions.import_solution,
    "UninstallSolutionAsync": api_solutions.uninstall_solution_async,
    "PublishAllXml": api_solutions.publish_all,
}
#: actions whose body may carry a huge base64 CustomizationFile (streamed, see bigbody.py)
BLOB_ACTIONS = frozenset({"StageSolution", "ImportSolutionAsync", "StageAndUpgradeAsync", "ImportSolution"})
FUNCTIONS = {
    "RetrieveRolePrivilegesRole": api_roles.retrieve_role_privileges,
    "RetrieveSolutionImportResult": api_solutions.retrieve_import_result,
}
_SEGMENT = re.compile(r"^(?P<set>\w+)(?:\((?P<key>[^)]*)\))?(?:/(?P<rest>.+))?$")
_FUNC = re.compile(r"^(?P<name>\w+)\((?P<args>.*)\)$")
_NAV = re.compile(r"^(?P<nav>\w+)(?:\((?P<key>[^)]*)\))?(?P<ref>/\$ref)?$")
_CRM = "Microsoft.Dynamics.CRM."
_BOUND_OPERATIONS = {("systemusers", "RetrieveUserPrivileges"), ("roles", "AddPrivilegesRole"),
                     ("roles", "ReplacePrivilegesRole"), ("roles", "RemovePrivilegeRole")}


def method_not_allowed(method: str, path: str) -> DataverseError:
    return DataverseError(405, METHOD_NOT_ALLOWED, f"The HTTP method '{method}' is not allowed on '{path}'.")


def no_http_resource(env: Env, req: DvRequest) -> DataverseError:
    """A function or action called with the wrong method: 404, empty code, "No HTTP resource was found that
    matches the request URI '...'" (https://learn.microsoft.com/troubleshoot/power-platform/dataverse/
    dataverse-web-api-and-sdk/web-api-client-errors#no-http-resource-was-found-that-matches-the-request-uri)."""
    return DataverseError(404, "", f"No HTTP resource was found that matches the request URI '{env.base_url}/{req.path}'.")


def function_args(text: str, params: dict[str, str]) -> dict[str, str]:
    args = {}
    for part in [p for p in text.split(",") if p.strip()]:
        name, sep, value = part.partition("=")
        if not sep:
            raise bad_request(f"Function parameter '{part}' must be Name=value.")
        value = value.strip()
        if value.startswith("@"):
            if value not in params:
                raise bad_request(f"Parameter alias {value} has no value in the query string.")
            value = params[value]
        args[name.strip()] = value.strip("'")
    return args


def provision(env: Env) -> None:
    """Licensed Entra users become systemusers once their provisioning delay has passed."""
    graph = getattr(env.ctx, "graph", None)
    if graph is None or not hasattr(graph, "licensed_users"):
        return
    env.store.provision_licensed_users(
        ((u.object_id, u.licensed_at, u.upn, u.display_name) for u in graph.licensed_users()),
        float(env.ctx.settings.provisioning_delay_s))


async def dispatch(env: Env, req: DvRequest) -> DvResponse:
    """Run one request (top-level or a $batch part); errors become Dataverse error responses."""
    try:
        with env.store.lock:   # tests may edit the store from their own thread
            solutions.advance(env.store)
            provision(env)
            result: Any = route(env, req)   # coroutines ($batch, ImportSolution) lock per step
        if inspect.isawaitable(result):
            result = await result
        return result
    except DataverseError as exc:
        return DvResponse(exc.status, exc.body(), exc.headers)
    except Exception as exc:  # an emulator bug: answer like the service would, keep the trace visible
        traceback.print_exc(file=sys.stderr)
        return DvResponse(500, {"error": {"code": "0x80040216",
                                          "message": f"emulator internal error: {type(exc).__name__}"}})


def route(env: Env, req: DvRequest) -> Any:
    path, method = req.path.strip("/"), req.method
    if path in ("", "$metadata") or path.startswith("EntityDefinitions"):
        return _metadata(env, req, path)
    if path in ("WhoAmI", "WhoAmI()"):
        if method != "GET":
            raise no_http_resource(env, req)
        return api_users.whoami(env, req)
    if path == "$batch":
        if method != "POST":
            raise method_not_allowed(method, path)
        return batch.handle(env, req, dispatch)  # dispatch passed in: batch.py does not import the router
    if path in UNBOUND_ACTIONS:
        if method != "POST":
            raise no_http_resource(env, req)
        return UNBOUND_ACTIONS[path](env, req)
    fm = _FUNC.match(path)
    if fm and fm.group("name") in FUNCTIONS:
        if method != "GET":
            raise no_http_resource(env, req)
        return FUNCTIONS[fm.group("name")](env, req, function_args(fm.group("args"), req.params))
    m = _SEGMENT.match(path)
    if not m or m.group("set") not in ENTITY_SETS:
        segment = (m.group("set") if m else path.split("/")[0]) or path
        raise DataverseError(404, RESOURCE_NOT_FOUND, f"Resource not found for the segment '{segment}'.")
    set_name, key_text, rest = m.group("set"), m.group("key"), m.group("rest")
    if key_text is None:
        if rest == "$count" and method == "GET":
            return count_response(env, req, set_name, records_of(env, set_name))
        if rest:
            raise DataverseError(404, RESOURCE_NOT_FOUND, f"Resource not found for the segment '{rest}'.")
        if method == "GET":
            return collection_response(env, req, set_name, records_of(env, set_name))
        if method == "POST" and set_name == "systemusers":
            return api_users.create_systemuser(env, req)
        if method == "POST" and set_name == "roles":
            return api_roles.create_role(env, req)
        raise method_not_allowed(method, path)
    key = guid_key(key_text, ENTITY_SETS[set_name].logical_name)
    if not rest:
        return _entity(env, req, set_name, key, path)
    return _bound(env, req, set_name, key, rest, path)


def _entity(env: Env, req: DvRequest, set_name: str, key: str, path: str) -> Any:
    method = req.method
    if method == "GET":
        rec = find_record(env, set_name, key)
        if rec is None:
            raise DataverseError(404, "0x80040217", f"{ENTITY_SETS[set_name].logical_name} With Ids = {key} Do Not Exist")
        return single_response(env, req, set_name, rec)
    if method == "PATCH" and set_name == "systemusers":
        return api_users.patch_systemuser(env, req, key)
    if method == "PATCH" and set_name == "roles":
        return api_roles.patch_role(env, req, key)
    if method == "DELETE" and set_name == "roles":
        return api_roles.delete_role(env, req, key)
    if method == "DELETE" and set_name == "solutions":
        return api_solutions.delete_solution(env, req, key)
    raise method_not_allowed(method, path)


def _bound(env: Env, req: DvRequest, set_name: str, key: str, rest: str, path: str) -> Any:
    method = req.method
    if rest.startswith(_CRM):
        op = rest[len(_CRM):].removesuffix("()")
        if set_name == "systemusers" and op == "RetrieveUserPrivileges" and method == "GET":
            return api_users.retrieve_user_privileges(env, req, key)
        if set_name == "roles" and op in ("AddPrivilegesRole", "ReplacePrivilegesRole") and method == "POST":
            return api_roles.change_privileges(env, req, key, replace=op == "ReplacePrivilegesRole")
        if set_name == "roles" and op == "RemovePrivilegeRole" and method == "POST":
            return api_roles.remove_privilege(env, req, key)
        if (set_name, op) in _BOUND_OPERATIONS:
            raise no_http_resource(env, req)
        raise DataverseError(404, RESOURCE_NOT_FOUND, f"Resource not found for the segment '{rest}'.")
    nm = _NAV.match(rest)
    entity = ENTITY_SETS[set_name]
    if not nm or nm.group("nav") not in entity.navigations:
        raise DataverseError(404, RESOURCE_NOT_FOUND, f"Resource not found for the segment '{rest.split('/')[0]}'.")
    nav, nav_key, ref = nm.group("nav"), nm.group("key"), nm.group("ref")
    if nav != "systemuserroles_association":
        raise DataverseError(501, "0x80060888", f"Navigating '{nav}' is not supported by the emulator.")
    if set_name == "systemusers":
        if method == "GET" and not ref and nav_key is None:
            return api_users.user_roles(env, req, key)
        if method == "POST" and ref and nav_key is None:
            return api_users.associate(env, req, key)
        if method == "DELETE" and ref:
            role_key = nav_key if nav_key is not None else _ref_id(req)
            return api_users.disassociate(env, req, key, guid_key(role_key, "role"))
    if set_name == "roles" and method == "GET" and not ref and nav_key is None:
        from .api_users import related
        return collection_response(env, req, "systemusers", related(env, "roles", key, nav), SYSTEMUSER)
    raise method_not_allowed(method, path)


def _metadata(env: Env, req: DvRequest, path: str) -> DvResponse:
    """The service document, the CSDL $metadata and EntityDefinitions (all generated from schema.py)."""
    if path == "":
        if req.method != "GET":
            raise no_http_resource(env, req)
        return DvResponse(200, metadata.service_document(env.base_url))
    if path == "$metadata":
        if req.method != "GET":
            raise no_http_resource(env, req)
        return DvResponse(200, metadata.csdl(env.base_url).encode(), {"Content-Type": "application/xml"})
    status, body = metadata.handle(env.base_url, req.method, path, req.params)
    return DvResponse(status, body)


def _ref_id(req: DvRequest) -> str:
    """DELETE .../systemuserroles_association/$ref?$id=<base>/roles(<id>)"""
    target = req.params.pop("$id", "")
    m = re.search(r"roles\(([^)]+)\)", target)
    if not m:
        raise bad_request("DELETE .../$ref needs the role: .../systemuserroles_association(<roleid>)/$ref.")
    return m.group(1)


