"""OData $batch (multipart/mixed) with atomic change sets, as Dataverse implements it.

Parts run through the same dispatcher as top-level requests, with the batch's caller; the router
passes its ``dispatch`` in, so this module does not import the router that hands it ``$batch``.
A change set is atomic: on the first failing request the store is restored to its state before
the change set and only that failure is returned for it. GET is not allowed inside a change set;
at most 1000 requests per batch; processing stops at the first failure unless the request has
``Prefer: odata.continue-on-error``. Change sets are not isolated from requests that run
concurrently (a rollback restores the whole store), which is fine for tests.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Awaitable, Callable
from urllib.parse import parse_qsl, urlsplit

from .bigbody import blob_from_json
from .errors import BATCH_LIMIT, DataverseError, bad_request
from .http import BASE_PATH, JSON_TYPE, DvRequest, DvResponse, Env, json_body

MAX_REQUESTS = 1000
CRLF = "\r\n"
#: runs one request and turns Dataverse errors into error responses (router.dispatch)
Dispatch = Callable[[Env, DvRequest], Awaitable[DvResponse]]


@dataclass
class Part:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None


@dataclass
class ChangeSet:
    parts: list[Part] = field(default_factory=list)


def _boundary(content_type: str | None) -> str:
    m = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not m or not (content_type or "").lower().startswith("multipart/mixed"):
        raise bad_request("A $batch request needs Content-Type: multipart/mixed; boundary=batch_<id>.")
    return m.group(1)


def _split(body: bytes, boundary: str) -> list[bytes]:
    delim = b"--" + boundary.encode()
    pieces = body.split(delim)
    if len(pieces) < 2 or not pieces[-1].lstrip().startswith(b"--"):
        raise bad_request(f"The $batch body is not terminated by --{boundary}--.")
    return [p[2:] if p.startswith(b"\r\n") else p.lstrip(b"\n") for p in pieces[1:-1]]


def _headers_and_body(chunk: bytes) -> tuple[dict[str, str], bytes]:
    text = chunk.replace(b"\r\n", b"\n")
    head, _, rest = text.partition(b"\n\n")
    headers = {}
    for line in head.decode("utf-8").split("\n"):
        if ":" in line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    return headers, rest


def _http_part(chunk: bytes, outer: dict[str, str]) -> Part:
    _, inner = _headers_and_body(chunk)
    request_line, _, after = inner.partition(b"\n")
    line = request_line.decode("utf-8").strip()
    method, _, target = line.partition(" ")
    if target.rsplit(" ", 1)[-1].startswith("HTTP/"):
        target = target.rsplit(" ", 1)[0]
    fields = [method, target.strip()]
    if not method or not fields[1]:
        raise bad_request(f"$batch part has no request line: {request_line[:80]!r}.")
    if after.startswith(b"\n"):          # no headers: a blank line, then the body
        headers, body = {}, after[1:]
    else:
        headers, body = _headers_and_body(after)
    return Part(fields[0].upper(), fields[1], headers, body.rstrip(b"\n"), outer.get("content-id"))


def parse(body: bytes, content_type: str | None) -> list[Part | ChangeSet]:
    items: list[Part | ChangeSet] = []
    for chunk in _split(body, _boundary(content_type)):
        headers, rest = _headers_and_body(chunk)
        ctype = headers.get("content-type", "")
        if ctype.lower().startswith("multipart/mixed"):
            cs = ChangeSet()
            for sub in _split(rest, _boundary(ctype)):
                sub_headers, _ = _headers_and_body(sub)
                part = _http_part(sub, sub_headers)
                if part.method == "GET":
                    raise bad_request("GET requests are not allowed inside a change set.")
                cs.parts.append(part)
            items.append(cs)
        elif ctype.lower().startswith("application/http"):
            items.append(_http_part(chunk, headers))
        else:
            raise bad_request(f"$batch part has Content-Type {ctype!r}; expected application/http or multipart/mixed.")
    return items


def _relative(url: str, ids: dict[str, str]) -> tuple[str, dict[str, str]]:
    if url.startswith("$"):
        ref, _, tail = url[1:].partition("/")
        if ref not in ids:
            raise bad_request(f"$batch reference ${ref} does not name an earlier Content-ID in this change set.")
        url = ids[ref] + ("/" + tail if tail else "")
    parts = urlsplit(url)
    path = parts.path
    if BASE_PATH in path:
        path = path.split(BASE_PATH, 1)[1]
    return path.lstrip("/"), dict(parse_qsl(parts.query, keep_blank_values=True))


async def _run(env: Env, batch_req: DvRequest, part: Part, ids: dict[str, str], dispatch: Dispatch) -> DvResponse:
    try:
        path, params = _relative(part.url, ids)
        req = DvRequest(part.method, path, params, part.headers, caller=batch_req.caller)
        if "prefer" not in req.headers and batch_req.header("prefer"):
            req.headers["prefer"] = batch_req.header("prefer") or ""
        req.body = json_body(part.body, path.split("(")[0]) if part.body.strip() else None
        if req.body is not None and "CustomizationFile" in req.body:
            req.body, req.blob, req.blob_size = blob_from_json(req.body)
    except DataverseError as exc:
        return DvResponse(exc.status, exc.body(), exc.headers)
    return await dispatch(env, req)


def _render(resp: DvResponse, content_id: str | None) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id:
        lines.append(f"Content-ID: {content_id}")
    reason = HTTPStatus(resp.status).phrase if resp.status in HTTPStatus._value2member_map_ else ""
    lines += ["", f"HTTP/1.1 {resp.status} {reason}"]
    headers = {"OData-Version": "4.0", **resp.headers}
    body = ""
    if resp.body is not None:
        headers["Content-Type"] = JSON_TYPE
        body = json.dumps(resp.body)
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines += ["", body]
    return CRLF.join(lines)


async def handle(env: Env, req: DvRequest, dispatch: Dispatch) -> DvResponse:
    """Answer ``POST $batch``: run each part (in order, change sets atomically) through
    ``dispatch`` and return a 200 multipart/mixed response with one part per request or change
    set ("Execute batch operations using the Web API", Dataverse Web API v9.2).

    Raises ``DataverseError`` (400) for a malformed body or more than ``MAX_REQUESTS`` requests.
    """
    items = parse(req.raw_body, req.header("content-type"))
    count = sum(len(i.parts) if isinstance(i, ChangeSet) else 1 for i in items)
    if count > MAX_REQUESTS:
        raise DataverseError(400, BATCH_LIMIT,
                             f"The number of requests in a batch ({count}) exceeds the limit of {MAX_REQUESTS}.")
    continue_on_error = req.prefers("odata.continue-on-error")
    boundary = f"batchresponse_{uuid.uuid4()}"
    out: list[str] = []
    for item in items:
        failed = False
        if isinstance(item, Part):
            resp = await _run(env, req, item, {}, dispatch)
            out.append(_render(resp, item.content_id))
            failed = resp.status >= 400
        else:
            before = env.store.snapshot()
            ids: dict[str, str] = {}
            rendered: list[str] = []
            for part in item.parts:
                resp = await _run(env, req, part, ids, dispatch)
                if resp.status >= 400:
                    env.store.restore(before)
                    rendered = [_render(resp, part.content_id)]
                    failed = True
                    break
                if part.content_id and "OData-EntityId" in resp.headers:
                    ids[part.content_id] = resp.headers["OData-EntityId"]
                rendered.append(_render(resp, part.content_id))
            if failed:
                out.append(rendered[0])
            else:
                cs = f"changesetresponse_{uuid.uuid4()}"
                inner = "".join(f"--{cs}{CRLF}{r}{CRLF}" for r in rendered) + f"--{cs}--{CRLF}"
                out.append(f"Content-Type: multipart/mixed; boundary={cs}{CRLF}{CRLF}{inner}")
        if failed and not continue_on_error:
            break
    payload = "".join(f"--{boundary}{CRLF}{p}{CRLF}" for p in out) + f"--{boundary}--{CRLF}"
    headers = {"Content-Type": f"multipart/mixed; boundary={boundary}"}
    if continue_on_error:
        headers["Preference-Applied"] = "odata.continue-on-error"
    return DvResponse(200, payload.encode("utf-8"), headers)


