"""Microsoft Graph v1.0: the users/licences slice this project needs, plus JSON $batch.

Strict where Graph is strict: a token for https://graph.microsoft.com with the right
application permission (``roles`` claim) is required; only default user properties come back
unless ``$select`` names others; unknown properties in ``$select``/``$filter`` are 400s.
Error codes follow Graph's; texts we could not confirm are marked GUESS.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from ..context import EmulatorContext
from ..entra.tokens import TokenError
from ..errors import graph_error
from . import batch as graph_batch
from . import groups as graph_groups
from . import licenses, users
from .odata import GraphRequestError, Handler
from .errors import GraphError

GRAPH_AUDIENCE = "https://graph.microsoft.com"


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
            except GraphError as exc:
                return graph_error(exc.status, exc.code, exc.message, client_request_id)
        return endpoint

    async def me(request: Request, claims: dict[str, Any]) -> Response:
        raise GraphRequestError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")

    async def unknown_segment(request: Request, claims: dict[str, Any]) -> Response:
        segment = request.path_params.get("rest", "").split("/")[0]
        raise GraphRequestError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")

    user_routes = [
        *users.routes(ctx, guarded, base),
        *licenses.routes(ctx, guarded, base),
        Route("/v1.0/me", guarded(None, me), methods=["GET"]),
        *graph_groups.routes(ctx, guarded, base),
    ]
    inner = Router(routes=[*user_routes, Route("/v1.0/{rest:path}", guarded(None, unknown_segment),
                                               methods=["GET", "POST", "PATCH", "PUT", "DELETE"])])
    batch = graph_batch.endpoint(inner)
    return [*user_routes, Route("/v1.0/$batch", batch, methods=["POST"]),
            Route("/v1.0/{rest:path}", guarded(None, unknown_segment), methods=["GET", "POST", "PATCH", "PUT", "DELETE"])]


def surface(ctx: EmulatorContext) -> ASGIApp:
    """The Graph origin: its routes, empty path segments ignored, and Graph's refusal of anything that
    is not under a version segment (the service answers 400 "Invalid version." there, not a 404 page)."""
    app = Starlette(routes=routes(ctx))

    async def invalid_version(scope: Scope, receive: Receive, send: Send) -> None:
        await graph_error(400, "BadRequest", "Invalid version.")(scope, receive, send)
    app.router.default = invalid_version

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "//" in scope["path"]:
            scope = {**scope, "path": graph_batch.collapse_slashes(scope["path"])}
        await app(scope, receive, send)
    return serve
