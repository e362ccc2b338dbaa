"""Microsoft Graph users: get, list (``$filter``, ``$select``, ``$top``, ``$count``, paging), ``$count``
and update, as https://learn.microsoft.com/graph/api/resources/user documents them."""

from __future__ import annotations

import base64
import json
from typing import Any, Callable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..context import EmulatorContext
from . import groups as graph_groups
from .odata import (DEFAULT_PAGE, EVENTUAL, MAX_TOP, GraphRequestError, ODataJSONResponse, parse_filter, parse_select,
                    project, require_user)
from .payload import json_body
from .store import GraphUser

READ_USERS = {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
WRITE_USERS = {"User.ReadWrite.All", "Directory.ReadWrite.All"}


def user_json(ctx: EmulatorContext, user: GraphUser) -> dict[str, Any]:
    """Every property we emulate; callers cut it down to the default set or ``$select``."""
    skus = ctx.graph.skus
    held = sorted(ctx.graph.active_sku_ids(user), key=lambda s: (s not in user.sku_ids, s))  # direct first
    given, _, surname = user.display_name.partition(" ")
    return {
        "businessPhones": [], "displayName": user.display_name, "givenName": given or None, "jobTitle": None,
        "mail": user.mail, "mobilePhone": None, "officeLocation": None, "preferredLanguage": None,
        "surname": surname or None, "userPrincipalName": user.upn, "id": user.object_id,
        "accountEnabled": user.account_enabled, "usageLocation": user.usage_location, "userType": "Member",
        "onPremisesSyncEnabled": None,
        "assignedLicenses": [{"disabledPlans": user.disabled_plans.get(s, []), "skuId": s} for s in held],
        "licenseAssignmentStates": graph_groups.licence_assignment_states(ctx.graph, user),
        "assignedPlans": [{"assignedDateTime": None, "capabilityStatus": "Enabled", "service": p["service_plan_name"],
                           "servicePlanId": p["service_plan_id"]}
                          for s in held if s in skus for p in skus[s].service_plans],
    }


def routes(ctx: EmulatorContext, guarded: Callable[..., Any], base: Callable[[], str]) -> list[Route]:
    """The ``/v1.0/users`` routes; ``guarded(permissions, handler)`` checks the token first."""

    async def get_user(request: Request, claims: dict[str, Any]) -> Response:
        user = require_user(ctx, request.path_params["key"])
        select = parse_select(request.query_params.get("$select"))
        ctx_sel = f"({','.join(select)})" if select else ""
        return ODataJSONResponse({"@odata.context": f"{base()}/$metadata#users{ctx_sel}/$entity",
                             **project(user_json(ctx, user), select)})

    async def list_users(request: Request, claims: dict[str, Any]) -> Response:
        params = dict(request.query_params)
        offset = 0
        if "$skiptoken" in params:
            try:
                state = json.loads(base64.urlsafe_b64decode(params["$skiptoken"] + "=" * (-len(params["$skiptoken"]) % 4)))
                params, offset = state["p"], int(state["o"])
            except (ValueError, KeyError, TypeError):
                raise GraphRequestError(400, "Directory_InvalidSkipToken", "The specified page token value has expired or is invalid.") from None  # GUESS code
        unknown = {k for k in params if k.startswith("$")} - {"$filter", "$select", "$top", "$count"}
        if unknown:
            raise GraphRequestError(400, "BadRequest", f"Query option '{sorted(unknown)[0]}' is not supported by this emulator.")
        select = parse_select(params.get("$select"))
        top = DEFAULT_PAGE
        if "$top" in params:
            if not params["$top"].isdigit() or not 1 <= int(params["$top"]) <= MAX_TOP:
                raise GraphRequestError(400, "Request_BadRequest", f"Invalid page size specified: '{params['$top']}'. Must be between 1 and {MAX_TOP} inclusive.")
            top = int(params["$top"])
        rows = [user_json(ctx, u) for u in ctx.graph.list_users()]
        if params.get("$filter"):
            predicate = parse_filter(params["$filter"])
            rows = [r for r in rows if predicate(r)]
        page = rows[offset: offset + top]
        body: dict[str, Any] = {"@odata.context": f"{base()}/$metadata#users" + (f"({','.join(select)})" if select else "")}
        # $count=true is an advanced query: honoured with ConsistencyLevel: eventual, silently ignored without
        # it (https://learn.microsoft.com/graph/aad-advanced-queries#error-handling-for-advanced-queries-on-directory-objects).
        if params.get("$count", "").lower() == "true" and request.headers.get("consistencylevel", "").lower() == EVENTUAL:
            body["@odata.count"] = len(rows)
        body["value"] = [project(r, select) for r in page]
        if offset + top < len(rows):
            token = base64.urlsafe_b64encode(json.dumps({"p": params, "o": offset + top}).encode()).decode().rstrip("=")
            body["@odata.nextLink"] = f"{base()}/users?$skiptoken={quote(token)}"
        return ODataJSONResponse(body)

    async def patch_user(request: Request, claims: dict[str, Any]) -> Response:
        user = require_user(ctx, request.path_params["key"])
        body = await json_body(request)
        # The body may name its type, as Microsoft's own examples and SDKs do
        # (https://learn.microsoft.com/graph/api/user-update); any other type is not a user.
        odata_type = body.pop("@odata.type", None)
        if odata_type is not None and str(odata_type).lstrip("#") != "microsoft.graph.user":
            raise GraphRequestError(400, "BadRequest",
                                    f"A type named '{odata_type}' could not be resolved by the model. When a model is available, "
                                    "each type name must resolve to a valid type.")
        ctx.graph.update_user(user.object_id, body)
        return Response(status_code=204)

    async def count_users(request: Request, claims: dict[str, Any]) -> Response:
        """GET /users/$count: advanced query only (https://learn.microsoft.com/graph/aad-advanced-queries)."""
        if request.headers.get("consistencylevel", "").lower() != EVENTUAL:
            raise GraphRequestError(400, "Request_BadRequest", "$count is not currently supported.")
        rows = [user_json(ctx, u) for u in ctx.graph.list_users()]
        if request.query_params.get("$filter"):
            predicate = parse_filter(request.query_params["$filter"])
            rows = [r for r in rows if predicate(r)]
        return Response(str(len(rows)), media_type="text/plain;charset=utf-8", headers={"OData-Version": "4.0"})

    return [
        Route("/v1.0/users", guarded(READ_USERS, list_users), methods=["GET"]),
        Route("/v1.0/users/$count", guarded(READ_USERS, count_users), methods=["GET"]),
        Route("/v1.0/users/{key}", guarded(READ_USERS, get_user), methods=["GET"]),
        Route("/v1.0/users/{key}", guarded(WRITE_USERS, patch_user), methods=["PATCH"]),
    ]
