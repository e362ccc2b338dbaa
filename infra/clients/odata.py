"""Small OData helpers shared by the Dataverse and Graph clients: literals, ids and ``$batch``.

``$batch`` bodies are ``multipart/mixed``: each part is an ``application/http`` message; a change
set is a nested multipart whose requests succeed or fail together.  The same wire format is used
by Dataverse; Graph's ``$batch`` is JSON and lives in :mod:`infra.clients.graph`.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from typing import Any, Iterable, Mapping

from infra.clients.errors import ConfigurationError
from infra.model import terms

__all__ = ["url_guid", "quote", "BatchRequest", "BatchResponse", "build_batch", "parse_batch_response"]

CRLF = "\r\n"


def url_guid(value: Any, what: str = "id") -> str:
    """``value`` as a canonical GUID (lower case, no braces) for a URL or a filter.

    Ids go into URLs, so nothing else may pass: raises :class:`ConfigurationError` naming ``what``
    otherwise (the GUID itself is :func:`infra.model.terms.guid`).
    """
    try:
        return terms.guid(str(value) if value is not None else value)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"{what} must be a GUID like 00000000-0000-0000-0000-000000000000, got {value!r}") from None


def quote(value: str) -> str:
    """An OData string literal: single quotes, embedded quotes doubled."""
    return "'" + str(value).replace("'", "''") + "'"


@dataclass(frozen=True)
class BatchRequest:
    """One request of a ``$batch``: method, URL (absolute, or relative to the API root), JSON body, headers."""

    method: str
    url: str  # absolute, or relative to the API root
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchResponse:
    """One answer of a ``$batch``: status, headers, body (parsed JSON, text, or "" when empty)."""

    status: int
    headers: Mapping[str, str]
    body: Any  # parsed JSON or text ("" when empty)
    content_id: str | None = None


def _http_part(req: BatchRequest, content_id: int | None) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id is not None:
        lines.append(f"Content-ID: {content_id}")
    lines += ["", f"{req.method.upper()} {req.url} HTTP/1.1"]
    headers = {"Accept": "application/json", **dict(req.headers)}
    payload = ""
    if req.body is not None:
        headers.setdefault("Content-Type", "application/json; type=entry")
        payload = json.dumps(req.body, separators=(",", ":"))
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines += ["", payload]
    return CRLF.join(lines)


def build_batch(requests: Iterable[BatchRequest], *, atomic: bool) -> tuple[str, bytes]:
    """Return ``(content_type, body)``.  ``atomic`` puts all requests in one change set (no GETs)."""
    reqs = list(requests)
    batch_boundary = f"batch_{uuid.uuid4().hex}"
    out: list[str] = []
    if atomic:
        if any(r.method.upper() == "GET" for r in reqs):
            raise ConfigurationError("a change set cannot contain GET requests")
        cs = f"changeset_{uuid.uuid4().hex}"
        out.append(f"--{batch_boundary}")
        out.append(f"Content-Type: multipart/mixed; boundary={cs}")
        out.append("")
        for i, req in enumerate(reqs, start=1):
            out.append(f"--{cs}")
            out.append(_http_part(req, i))
        out.append(f"--{cs}--")
    else:
        for req in reqs:
            out.append(f"--{batch_boundary}")
            out.append(_http_part(req, None))
    out.append(f"--{batch_boundary}--")
    out.append("")
    return f"multipart/mixed; boundary={batch_boundary}", CRLF.join(out).encode("utf-8")


def _boundary(content_type: str) -> str | None:
    match = re.search(r'boundary="?([^";]+)"?', content_type or "", re.I)
    return match.group(1) if match else None


def _split(body: bytes, boundary: str) -> list[bytes]:
    delimiter = b"--" + boundary.encode()
    parts = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        parts.append(chunk.strip(b"\r\n"))
    return parts


def _headers_and_body(blob: bytes) -> tuple[dict[str, str], bytes]:
    normalized = blob.replace(b"\r\n", b"\n")
    if normalized.startswith(b"\n"):  # no headers at all: the blank line comes first
        return {}, normalized[1:]
    head, _, rest = normalized.partition(b"\n\n")
    parsed = BytesHeaderParser().parsebytes(head + b"\n\n")
    return {k: v for k, v in parsed.items()}, rest


def parse_batch_response(content_type: str, body: bytes) -> list[BatchResponse]:
    """Flatten a ``$batch`` response (change sets included) into responses, in order."""
    boundary = _boundary(content_type)
    if not boundary:
        raise ValueError("batch response without a multipart boundary")
    out: list[BatchResponse] = []
    for part in _split(body, boundary):
        headers, rest = _headers_and_body(part)
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if ctype.lower().startswith("multipart/"):
            out.extend(parse_batch_response(ctype, rest))
            continue
        content_id = next((v for k, v in headers.items() if k.lower() == "content-id"), None)
        status_line, _, http_rest = rest.partition(b"\n")
        try:
            status = int(status_line.split()[1])
        except (IndexError, ValueError):
            raise ValueError(f"unreadable status line in batch response: {status_line[:80]!r}") from None
        inner_headers, inner_body = _headers_and_body(http_rest)
        text = inner_body.decode("utf-8", "replace").strip()
        parsed: Any = text
        if text[:1] in "{[":
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = text
        out.append(BatchResponse(status, inner_headers, parsed, content_id))
    return out
