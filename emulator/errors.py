"""Error bodies in each emulated service's own shape, shared by routes and middleware."""

from __future__ import annotations

import time
import uuid
from typing import Any

from starlette.responses import JSONResponse

from .log import surface_of


def graph_error(status: int, code: str, message: str, client_request_id: str | None = None,
                headers: dict[str, str] | None = None) -> JSONResponse:
    """Graph's error JSON: {"error": {"code", "message", "innerError": {"request-id", "date", "client-request-id"}}}."""
    request_id = str(uuid.uuid4())
    inner = {"date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()), "request-id": request_id,
             "client-request-id": client_request_id or request_id}
    h = {"request-id": request_id, "client-request-id": inner["client-request-id"], **(headers or {})}
    return JSONResponse({"error": {"code": code, "message": message, "innerError": inner}}, status_code=status, headers=h)


def dataverse_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Dataverse's error JSON: {"error": {"code": "0x...", "message"}}."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers={"OData-Version": "4.0", **(headers or {})})


def entra_error(status: int, error: str, aadsts: int, description: str,
                headers: dict[str, str] | None = None, correlation_id: str | None = None) -> JSONResponse:
    """Entra's OAuth error JSON; ``error_description`` starts with "AADSTSnnnnn:" like the real one.
    ``correlation_id`` echoes the client's ``client-request-id`` header when it sent one (as Entra does)."""
    trace_id = str(uuid.uuid4())
    correlation_id = correlation_id or str(uuid.uuid4())
    ts = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    body: dict[str, Any] = {
        "error": error,
        "error_description": f"AADSTS{aadsts}: {description} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {ts}",
        "error_codes": [aadsts],
        "timestamp": ts,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
    }
    if error == "invalid_client":
        body["error_uri"] = "https://login.microsoftonline.com/error?code=%d" % aadsts
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store", "Pragma": "no-cache", **(headers or {})})


def surface_error(path: str, status: int, kind: str, retry_after: int | None, surface: str | None = None) -> JSONResponse:
    """An injected 429/503 in the shape of the service that owns ``path``.

    Dataverse 503 code and Entra throttling texts are best guesses (GUESS): only the status and
    Retry-After matter to clients.
    """
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    surface = surface or surface_of(path)
    if surface == "dataverse":
        if status == 429:
            return dataverse_error(429, "0x80072322", "Number of requests exceeded the limit (injected fault).", headers)
        return dataverse_error(503, "0x80040216", "Service unavailable (injected fault).", headers)  # GUESS code
    if surface == "graph":
        if status == 429:
            return graph_error(429, "TooManyRequests", "Too many requests (injected fault).", headers=headers)
        return graph_error(503, "serviceNotAvailable", "Service unavailable (injected fault).", headers=headers)
    if status == 429:
        return entra_error(429, "temporarily_unavailable", 50196, "Too many requests (injected fault).", headers)  # GUESS code
    return entra_error(503, "temporarily_unavailable", 90033, "A transient error has occurred (injected fault).", headers)
