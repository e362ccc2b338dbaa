"""Microsoft Graph JSON batching (``POST /v1.0/$batch``), as https://learn.microsoft.com/graph/json-batching
documents it: up to 20 requests, ``dependsOn`` ordering, each run in-process through the Graph routes.

Texts we could not confirm are marked GUESS.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any, Awaitable, Callable
from urllib.parse import unquote, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Router
from starlette.types import Scope

from ..errors import graph_error

MAX_BATCH = 20


def endpoint(inner: Router) -> Callable[[Request], Awaitable[Response]]:
    """The ``$batch`` handler; each request of a batch is sent through ``inner`` (the Graph routes)."""

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
    return batch


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

