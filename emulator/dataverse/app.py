"""Starlette glue: authentication, body reading (streamed for solution uploads), responses."""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import admin_mode
from .bigbody import read_blob_body
from .errors import ODATA_HEADERS, UNAUTHORIZED, DataverseError
from .http import JSON_TYPE, DvRequest, DvResponse, Env, json_body
from .router import BLOB_ACTIONS, dispatch
from .store import DataverseStore

METHODS = ["GET", "POST", "PATCH", "DELETE", "PUT"]
MAX_PLAIN_BODY = 64 << 20   # $batch and JSON bodies; solution uploads are streamed instead


def to_starlette(resp: DvResponse) -> Response:
    headers = {**ODATA_HEADERS, **resp.headers}
    if resp.body is None or resp.status in (204, 304):
        return Response(status_code=resp.status, headers=headers)
    if isinstance(resp.body, bytes):
        return Response(resp.body, status_code=resp.status, headers=headers)
    return Response(json.dumps(resp.body), status_code=resp.status, headers=headers, media_type=JSON_TYPE)


def _authenticate(env: Env, request: Request) -> dict[str, Any]:
    """Bearer token for the environment URL (401 + WWW-Authenticate), then the caller's systemuser."""
    from ..entra.tokens import TokenError
    ctx = env.ctx
    try:
        claims = ctx.tokens.validate_bearer(request.headers.get("authorization"), ctx.urls.environment_url)
    except TokenError as exc:
        raise DataverseError(401, UNAUTHORIZED, exc.message, {
            "WWW-Authenticate": exc.www_authenticate(ctx.urls.authority, ctx.urls.environment_url)}) from None
    app_id = claims.get("appid") or claims.get("azp")
    if not app_id:
        raise DataverseError(401, UNAUTHORIZED, "The token has no appid claim (app-only tokens are required).")
    caller = env.store.caller_for_app(str(app_id))
    admin_mode.enforce(env.store, caller)
    return caller


def build_app(ctx: Any) -> Starlette:
    """The Dataverse surface, mounted by the core at /api/data/v9.2. Sets ``ctx.dataverse``."""
    store = DataverseStore(ctx.seed, clock=lambda: ctx.clock())
    store.on_change = ctx.changed
    ctx.dataverse = store
    env = Env(store, ctx)

    async def endpoint(request: Request) -> Response:
        path = request.path_params.get("path", "")
        req = DvRequest(request.method, path, dict(request.query_params),
                        {k.lower(): v for k, v in request.headers.items()})
        try:
            req.caller = _authenticate(env, request)
            if request.method == "POST" and path in BLOB_ACTIONS:
                blob = await read_blob_body(request.stream(), path)
                req.body, req.blob, req.blob_size = blob.data, blob.blob, blob.blob_size
            else:
                raw = await request.body()
                if len(raw) > MAX_PLAIN_BODY:
                    raise DataverseError(413, "0x80040216", "Request body is too large.")
                if path == "$batch":
                    req.raw_body = raw
                else:
                    req.body = json_body(raw, path.split("(")[0])
        except DataverseError as exc:
            return to_starlette(DvResponse(exc.status, exc.body(), exc.headers))
        try:
            return to_starlette(await dispatch(env, req))
        finally:
            if req.blob is not None:
                req.blob.close()

    return Starlette(routes=[Route("/{path:path}", endpoint, methods=METHODS)])
