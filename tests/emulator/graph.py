"""Microsoft Graph v1.0: the users/licences slice this project needs, plus JSON $batch.

Strict where Graph is strict: a token for https://graph.microsoft.com with the right
application permission (``roles`` claim) is required; only default user properties come back
unless ``$select`` names others; unknown properties in ``$select``/``$filter`` are 400s.
Error codes follow Graph's; texts we could not confirm are marked GUESS.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any, Awaitable, Callable
from urllib.parse import quote, unquote, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from .context import EmulatorContext
from .errors import graph_error
from . import graph_groups
from .graph_store import GraphError, GraphUser
from .tokens import TokenError

GRAPH_AUDIENCE = "https://graph.microsoft.com"
MAX_BATCH = 20
DEFAULT_PAGE = 100
MAX_TOP = 999

#: Graph's success bodies: OData JSON, minimal metadata (the headers in the responses of
#: https://learn.microsoft.com/graph/json-batching).
ODATA_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
EVENTUAL = "eventual"

READ_USERS = {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
WRITE_USERS = {"User.ReadWrite.All", "Directory.ReadWrite.All"}
READ_SKUS = {"Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All",
             "Directory.ReadWrite.All", "LicenseAssignment.Read.All", "LicenseAssignment.ReadWrite.All"}
ASSIGN_LICENSES = {"LicenseAssignment.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
READ_LICENSE_DETAILS = READ_USERS | {"LicenseAssignment.Read.All", "LicenseAssignment.ReadWrite.All"}

DEFAULT_USER_PROPS = ["businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
                      "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"]
EXTRA_USER_PROPS = ["accountEnabled", "usageLocation", "assignedLicenses", "licenseAssignmentStates", "userType",
                    "assignedPlans", "onPremisesSyncEnabled"]
FILTERABLE = {"id", "userPrincipalName", "mail", "displayName", "accountEnabled", "usageLocation"}


class ODataJSONResponse(JSONResponse):
    """A Graph success body: OData minimal-metadata JSON with ``OData-Version: 4.0``."""

    media_type = ODATA_JSON

    def __init__(self, content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> None:
        super().__init__(content, status_code=status_code, headers={"OData-Version": "4.0", **(headers or {})})


class GraphRequestError(Exception):
    """Raised inside handlers; rendered as Graph's error JSON."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# -- $filter ------------------------------------------------------------------------------------
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<punct>[(),])|(?P<word>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[A-Za-z_][\w/]*(?::[\w/]+)?))")


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise GraphRequestError(400, "BadRequest", f"Invalid filter clause: syntax error at position {pos} in '{text}'.")
        kind = m.lastgroup or ""
        value = m.group(kind)
        out.append((kind, value[1:-1].replace("''", "'") if kind == "str" else value))
        pos = m.end()
        while pos < len(text) and text[pos] == " ":
            pos += 1
    return out


def parse_filter(text: str) -> Callable[[dict[str, Any]], bool]:
    """Compile ``prop eq 'v'``, ``prop ne ...``, ``prop in ('a','b')``, ``startswith(prop,'x')``,
    ``assignedLicenses/any(x:x/skuId eq <guid>)`` joined by ``and`` / ``or`` (and binds tighter)."""
    toks = _tokens(text)
    pos = 0

    def peek() -> tuple[str, str] | None:
        return toks[pos] if pos < len(toks) else None

    def take(expected: str | None = None) -> tuple[str, str]:
        nonlocal pos
        tok = peek()
        if tok is None or (expected is not None and tok[1].lower() != expected):
            raise GraphRequestError(400, "BadRequest", f"Invalid filter clause: expected {expected or 'more input'} in '{text}'.")
        pos += 1
        return tok

    def literal() -> Any:
        kind, value = take()
        if kind == "str":
            return value
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        if value.lower() == "null":
            return None
        if re.fullmatch(r"[0-9a-fA-F-]{36}", value):
            return value.lower()
        raise GraphRequestError(400, "BadRequest", f"Invalid filter clause: '{value}' is not a literal.")

    def prop(name: str) -> str:
        if name not in FILTERABLE:
            raise GraphRequestError(400, "Request_UnsupportedQuery",  # GUESS text
                                    f"Unsupported or invalid query filter clause specified for property '{name}' of resource 'User'.")
        return name

    def comparison() -> Callable[[dict[str, Any]], bool]:
        kind, word = take()
        if kind == "punct" and word == "(":
            inner = disjunction()
            take(")")
            return inner
        if word.lower() == "startswith":
            take("(")
            name = prop(take()[1])
            take(",")
            value = literal()
            take(")")
            return lambda u: isinstance(u.get(name), str) and str(u[name]).lower().startswith(str(value).lower())
        if word.startswith("assignedLicenses/any"):
            take("(")
            _, lhs = take()
            if not lhs.endswith("/skuId") or ":" not in lhs:
                raise GraphRequestError(400, "Request_UnsupportedQuery", f"Unsupported lambda in filter '{text}'.")
            take("eq")
            sku = literal()
            take(")")
            return lambda u: any(a["skuId"] == sku for a in u.get("assignedLicenses", []))
        name = prop(word)
        _, op = take()
        op = op.lower()
        if op == "in":
            take("(")
            values = [literal()]
            while peek() and peek()[1] == ",":
                take(",")
                values.append(literal())
            take(")")
            lowered = {str(v).lower() for v in values}
            return lambda u: str(u.get(name)).lower() in lowered
        if op not in ("eq", "ne"):
            raise GraphRequestError(400, "BadRequest", f"Invalid filter clause: operator '{op}' is not supported.")
        value = literal()

        def eq(u: dict[str, Any]) -> bool:
            actual = u.get(name)
            if isinstance(actual, str) and isinstance(value, str):
                return actual.lower() == value.lower()
            return actual == value
        return eq if op == "eq" else (lambda u: not eq(u))

    def conjunction() -> Callable[[dict[str, Any]], bool]:
        parts = [comparison()]
        while peek() and peek()[1].lower() == "and":
            take()
            parts.append(comparison())
        return lambda u: all(p(u) for p in parts)

    def disjunction() -> Callable[[dict[str, Any]], bool]:
        parts = [conjunction()]
        while peek() and peek()[1].lower() == "or":
            take()
            parts.append(conjunction())
        return lambda u: any(p(u) for p in parts)

    result = disjunction()
    if pos != len(toks):
        raise GraphRequestError(400, "BadRequest", f"Invalid filter clause: unexpected '{toks[pos][1]}' in '{text}'.")
    return result


# -- rendering ----------------------------------------------------------------------------------
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


def parse_select(raw: str | None) -> list[str] | None:
    if not raw:
        return None
    names = [n.strip() for n in raw.split(",") if n.strip()]
    for n in names:
        if n not in DEFAULT_USER_PROPS and n not in EXTRA_USER_PROPS:
            raise GraphRequestError(400, "Request_BadRequest",
                                    f"Could not find a property named '{n}' on type 'Microsoft.DirectoryServices.User'.")
    return names


def project(full: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    names = select if select is not None else DEFAULT_USER_PROPS
    return {n: full[n] for n in names if n in full}


# -- routes -------------------------------------------------------------------------------------
Handler = Callable[[Request, dict[str, Any]], Awaitable[Response]]


def routes(ctx: EmulatorContext) -> list[Route]:
    base = lambda: f"{ctx.urls.graph_url}/v1.0"  # noqa: E731 - urls may be set after routes are built

    def guarded(required: set[str] | None, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            client_request_id = request.headers.get("client-request-id")
            try:
                try:
                    claims = ctx.tokens.validate_bearer(request.headers.get("authorization"), GRAPH_AUDIENCE)
                except TokenError as exc:
                    msg = {"missing_token": "Access token is empty.",
                           "token_expired": "Lifetime validation failed, the token is expired.",
                           "invalid_audience": "Access token validation failure. Invalid audience.",
                           }.get(exc.code, "Access token validation failure.")
                    return graph_error(401, "InvalidAuthenticationToken", msg, client_request_id,
                                       headers={"WWW-Authenticate": f'Bearer realm="", authorization_uri="{ctx.urls.authority}/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"'})
                if required is not None and not required.intersection(claims.get("roles") or []):
                    return graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.",
                                       client_request_id)
                return await handler(request, claims)
            except GraphRequestError as exc:
                return graph_error(exc.status, exc.code, exc.message, client_request_id)
            except GraphError as exc:
                return graph_error(exc.status, exc.code, exc.message, client_request_id)
        return endpoint

    def require_user(key: str) -> GraphUser:
        user = ctx.graph.get_user(key)
        if user is None:
            raise GraphRequestError(404, "Request_ResourceNotFound",
                                    f"Resource '{key}' does not exist or one of its queried reference-property objects are not present.")
        return user

    async def json_body(request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            raise GraphRequestError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.") from None
        if not isinstance(body, dict):
            raise GraphRequestError(400, "BadRequest", "Unable to read JSON request payload: expected a JSON object.")
        return body

    async def get_user(request: Request, claims: dict[str, Any]) -> Response:
        user = require_user(request.path_params["key"])
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
        user = require_user(request.path_params["key"])
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

    async def assign_license(request: Request, claims: dict[str, Any]) -> Response:
        user = require_user(request.path_params["key"])
        body = await json_body(request)
        missing = [k for k in ("addLicenses", "removeLicenses") if k not in body]
        if missing:
            raise GraphRequestError(400, "Request_BadRequest",
                                    "One or more parameters of the operation 'assignLicense' are missing from the request "
                                    f"payload. The missing parameters are: {', '.join(missing)}.")
        add, remove = body["addLicenses"], body["removeLicenses"]
        if not isinstance(add, list) or not all(isinstance(a, dict) for a in add) or not isinstance(remove, list):
            raise GraphRequestError(400, "Request_BadRequest", "addLicenses must be a list of {skuId, disabledPlans} and removeLicenses a list of SKU ids.")
        for a in add:
            if not re.fullmatch(r"[0-9a-fA-F-]{36}", str(a.get("skuId", ""))):
                raise GraphRequestError(400, "Request_BadRequest", "Cannot convert a primitive value to the expected type 'Edm.Guid'. See the inner exception for more details.")
        updated = ctx.graph.assign_license(user.object_id, add, [str(r) for r in remove])
        return ODataJSONResponse({"@odata.context": f"{base()}/$metadata#users/$entity",
                             **project(user_json(ctx, updated), None)})

    async def license_details(request: Request, claims: dict[str, Any]) -> Response:
        user = require_user(request.path_params["key"])
        skus = ctx.graph.skus
        value = []
        for sku_id in sorted(ctx.graph.active_sku_ids(user), key=lambda s: (s not in user.sku_ids, s)):
            sku = skus[sku_id]
            disabled = set(user.disabled_plans.get(sku_id, []))
            value.append({"id": f"{sku_id}-{user.object_id}", "skuId": sku_id, "skuPartNumber": sku.sku_part_number,
                          "servicePlans": [{"servicePlanId": p["service_plan_id"], "servicePlanName": p["service_plan_name"],
                                            "provisioningStatus": "Disabled" if p["service_plan_id"] in disabled else "Success",
                                            "appliesTo": p.get("applies_to", "User")} for p in sku.service_plans]})
        return ODataJSONResponse({"@odata.context": f"{base()}/$metadata#users('{user.object_id}')/licenseDetails", "value": value})

    async def subscribed_skus(request: Request, claims: dict[str, Any]) -> Response:
        tid = ctx.graph.tenant_id
        value = [{"accountName": "contoso", "accountId": tid, "appliesTo": "User", "capabilityStatus": "Enabled",
                  "consumedUnits": ctx.graph.consumed(s.sku_id), "id": f"{tid}_{s.sku_id}", "skuId": s.sku_id,
                  "skuPartNumber": s.sku_part_number, "subscriptionIds": [],
                  "prepaidUnits": {"enabled": s.enabled, "suspended": 0, "warning": 0, "lockedOut": 0},
                  "servicePlans": [{"servicePlanId": p["service_plan_id"], "servicePlanName": p["service_plan_name"],
                                    "provisioningStatus": "Success", "appliesTo": p.get("applies_to", "User")}
                                   for p in s.service_plans]}
                 for s in ctx.graph.skus.values()]
        return ODataJSONResponse({"@odata.context": f"{base()}/$metadata#subscribedSkus", "value": value})

    async def me(request: Request, claims: dict[str, Any]) -> Response:
        raise GraphRequestError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")

    async def unknown_segment(request: Request, claims: dict[str, Any]) -> Response:
        segment = request.path_params.get("rest", "").split("/")[0]
        raise GraphRequestError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")

    user_routes = [
        Route("/v1.0/users", guarded(READ_USERS, list_users), methods=["GET"]),
        Route("/v1.0/users/$count", guarded(READ_USERS, count_users), methods=["GET"]),
        Route("/v1.0/users/{key}", guarded(READ_USERS, get_user), methods=["GET"]),
        Route("/v1.0/users/{key}", guarded(WRITE_USERS, patch_user), methods=["PATCH"]),
        Route("/v1.0/users/{key}/assignLicense", guarded(ASSIGN_LICENSES, assign_license), methods=["POST"]),
        Route("/v1.0/users/{key}/licenseDetails", guarded(READ_LICENSE_DETAILS, license_details), methods=["GET"]),
        Route("/v1.0/subscribedSkus", guarded(READ_SKUS, subscribed_skus), methods=["GET"]),
        Route("/v1.0/me", guarded(None, me), methods=["GET"]),
        *graph_groups.routes(ctx, guarded, base, GraphRequestError),
    ]
    inner = Router(routes=[*user_routes, Route("/v1.0/{rest:path}", guarded(None, unknown_segment),
                                               methods=["GET", "POST", "PATCH", "PUT", "DELETE"])])

    async def batch(request: Request) -> Response:
        client_request_id = request.headers.get("client-request-id")
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            return graph_error(400, "BadRequest", "Invalid batch payload format.", client_request_id)
        reqs = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(reqs, list) or not reqs:
            return graph_error(400, "BadRequest", "Invalid batch payload format.", client_request_id)
        if len(reqs) > MAX_BATCH:
            return graph_error(400, "BadRequest", f"Invalid batch payload format: the number of requests ({len(reqs)}) exceeds the limit of {MAX_BATCH}.", client_request_id)  # GUESS text
        ids = [str(r.get("id", "")) if isinstance(r, dict) else "" for r in reqs]
        if "" in ids or len(set(ids)) != len(ids):
            return graph_error(400, "BadRequest", "Batch request ids must be present and unique.", client_request_id)  # GUESS text
        for r in reqs:
            for dep in r.get("dependsOn") or []:
                if str(dep) not in ids:
                    return graph_error(400, "BadRequest", f"Request {r['id']} depends on unknown request {dep}.", client_request_id)  # GUESS text
            if not isinstance(r.get("method"), str) or not isinstance(r.get("url"), str):
                return graph_error(400, "BadRequest", f"Request {r['id']}: method and url are required.", client_request_id)
            if urlsplit(str(r["url"])).scheme:
                # "url: Required. The relative resource URL" -- an absolute one makes the batch malformed, and a
                # malformed batch is answered 400 as a whole (https://learn.microsoft.com/graph/json-batching).
                return graph_error(400, "BadRequest", f"Invalid request: the url of request {r['id']} must be a relative URL "
                                   "such as /users/{id}, not an absolute one.", client_request_id)  # GUESS text
        results: dict[str, dict[str, Any]] = {}
        pending = {str(r["id"]): r for r in reqs}
        auth = request.headers.get("authorization")
        while pending:
            ready = [rid for rid, r in pending.items() if all(str(d) in results for d in r.get("dependsOn") or [])]
            if not ready:  # dependency cycle
                for rid in list(pending):
                    results[rid] = {"id": rid, "status": 424, "headers": {},
                                    "body": {"error": {"code": "FailedDependency", "message": "Dependency cycle."}}}
                break
            for rid in ready:
                r = pending.pop(rid)
                failed_dep = [d for d in r.get("dependsOn") or [] if results[str(d)]["status"] >= 400]
                if failed_dep:
                    results[rid] = {"id": rid, "status": 424, "headers": {},
                                    "body": {"error": {"code": "FailedDependency",
                                                       "message": f"Dependent request {failed_dep[0]} failed."}}}
                    continue
                results[rid] = await _sub_request(inner, rid, r, auth)
        return JSONResponse({"responses": [results[i] for i in ids]})

    return [*user_routes, Route("/v1.0/$batch", batch, methods=["POST"]),
            Route("/v1.0/{rest:path}", guarded(None, unknown_segment), methods=["GET", "POST", "PATCH", "PUT", "DELETE"])]


def collapse_slashes(path: str) -> str:
    """``/v1.0//users`` -> ``/v1.0/users``: Graph ignores empty path segments, and msgraph-sdk sends them
    (its base URL ends with ``/`` and its URL templates start with one)."""
    return re.sub(r"/{2,}", "/", path)


async def _sub_request(app: Router, rid: str, r: dict[str, Any], auth: str | None) -> dict[str, Any]:
    """Run one $batch request through the Graph routes in-process and capture its response."""
    url = str(r["url"])
    if not url.startswith("/"):
        url = "/" + url
    raw, _, query = url.partition("?")
    # Clients percent-encode item URLs (/users/sales01%40contoso.example); decode the path the way the
    # server decodes a top-level request's path, every segment.
    path = collapse_slashes(unquote(raw))
    headers = [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in (r.get("headers") or {}).items()]
    body = b""
    if r.get("body") is not None:
        body = json.dumps(r["body"]).encode() if not isinstance(r["body"], str) else r["body"].encode()
        if not any(k == b"content-type" for k, _ in headers):
            return {"id": rid, "status": 400, "headers": {},
                    "body": {"error": {"code": "BadRequest", "message": "Content-Type header is required for a request with a body."}}}  # GUESS text
    if auth:
        headers.append((b"authorization", auth.encode("latin-1")))
    scope: Scope = {"type": "http", "http_version": "1.1", "method": str(r["method"]).upper(), "scheme": "https",
                    "path": "/v1.0" + path, "raw_path": ("/v1.0" + raw).encode("latin-1", "replace"), "root_path": "",
                    "query_string": query.encode("latin-1"), "headers": headers, "server": ("127.0.0.1", 443),
                    "client": ("127.0.0.1", 0)}
    sent = False
    status = 500
    resp_headers: dict[str, str] = {}
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            for k, v in message.get("headers", []):
                name = k.decode("latin-1").lower()
                if name != "content-length":  # item headers are shown with their usual casing (json-batching)
                    pretty = "OData-Version" if name == "odata-version" else "-".join(w.capitalize() for w in name.split("-"))
                    resp_headers[pretty] = v.decode("latin-1")
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)  # type: ignore[arg-type]
    raw = b"".join(chunks)
    parsed: Any = None
    if raw:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = base64.b64encode(raw).decode()
    out: dict[str, Any] = {"id": rid, "status": status, "headers": resp_headers}
    if parsed is not None:
        out["body"] = parsed
    return out


def surface(ctx: EmulatorContext) -> ASGIApp:
    """The Graph origin: its routes, empty path segments ignored, and Graph's refusal of anything that
    is not under a version segment (the service answers 400 "Invalid version." there, not a 404 page)."""
    app = Starlette(routes=routes(ctx))

    async def invalid_version(scope: Scope, receive: Receive, send: Send) -> None:
        await graph_error(400, "BadRequest", "Invalid version.")(scope, receive, send)
    app.router.default = invalid_version

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "//" in scope["path"]:
            scope = {**scope, "path": collapse_slashes(scope["path"])}
        await app(scope, receive, send)
    return serve
