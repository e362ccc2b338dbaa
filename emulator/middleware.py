"""Pure-ASGI middleware (no BaseHTTPMiddleware, so streaming and connection control work).

Order, outermost first: RequestLog -> Faults -> ServiceProtection -> Latency -> app.
Admin paths (/_emulator) bypass all of them except routing.
"""

from __future__ import annotations

import asyncio
import math
import socket
import struct
import time
from collections import defaultdict, deque
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .app import origin_surface
from .context import EmulatorContext, ServiceProtection
from .errors import dataverse_error, surface_error
from .faults import FaultRule
from .log import RequestRecord
from .entra.tokens import unverified_caller

RAW_SEND = "emulator.raw_send"
FAULT = "emulator.fault"
CALLER = "emulator.caller"
SURFACE = "emulator.surface"
DATAVERSE_PREFIX = "/api/data/"


def _is_admin(scope: Scope) -> bool:
    return scope["type"] != "http" or scope["path"].startswith("/_emulator")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


async def abort_connection(scope: Scope) -> None:
    """Drop the TCP connection with a RST and no response (uvicorn's transport, found via its send)."""
    raw_send = scope.get(RAW_SEND)
    cycle = getattr(raw_send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:  # not uvicorn: make the server fail the request instead
        raise ConnectionAbortedError("emulator fault: reset")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()
    for _ in range(20):  # let connection_lost run so uvicorn does not log "returned without response"
        if getattr(cycle, "disconnected", True):
            break
        await asyncio.sleep(0)


class RequestLogMiddleware:
    """Records every non-admin request (status 0 = no response sent) and marks state dirty on writes."""

    def __init__(self, app: ASGIApp, ctx: EmulatorContext) -> None:
        self.app, self.ctx = app, ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _is_admin(scope):
            await self.app(scope, receive, send)
            return
        scope[RAW_SEND] = send
        caller = unverified_caller(_header(scope, b"authorization"))
        scope[CALLER] = caller
        scope[SURFACE] = origin_surface(scope, self.ctx.urls)
        status = 0
        logged = False
        started = time.time()
        t0 = time.perf_counter()
        log = self.ctx.log
        assert log is not None

        def record() -> None:
            nonlocal logged
            logged = True
            log.add(RequestRecord(method=scope["method"], path=scope["path"],
                                  query=scope.get("query_string", b"").decode("latin-1"), status=status,
                                  duration_ms=(time.perf_counter() - t0) * 1000.0, started=started, ended=time.time(),
                                  caller=caller, fault=scope.get(FAULT), surface=scope.get(SURFACE)))

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body") and not logged:
                # Log before the last byte leaves: a client that has its response can rely on the record.
                record()
            await send(message)

        log.started()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if not logged:
                record()
            if scope["method"] not in ("GET", "HEAD", "OPTIONS"):
                self.ctx.changed()


class FaultMiddleware:
    """Applies the first firing FaultRule: 429/503 responses, a reset, or a body cut in half."""

    def __init__(self, app: ASGIApp, ctx: EmulatorContext) -> None:
        self.app, self.ctx = app, ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        faults = self.ctx.faults
        if _is_admin(scope) or faults is None:
            await self.app(scope, receive, send)
            return
        rule = faults.pick(scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"))
        if rule is None:
            await self.app(scope, receive, send)
            return
        scope[FAULT] = rule.kind
        if rule.kind in ("429", "503"):
            await _drain(receive)
            await surface_error(scope["path"], int(rule.kind), rule.kind, rule.retry_after,
                                surface=scope.get(SURFACE))(scope, receive, send)
        elif rule.kind == "hold":
            rule.holding.set()
            deadline = asyncio.get_running_loop().time() + rule.hold_seconds
            while not rule.released.is_set() and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.005)
            await self.app(scope, receive, send)
        elif rule.kind == "reset" and rule.phase == "before":
            await abort_connection(scope)
        elif rule.kind == "reset":
            await self.app(scope, receive, _swallow)
            await abort_connection(scope)
        else:
            await self._cut(rule, scope, receive, send)

    async def _cut(self, rule: FaultRule, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message | None = None
        body = bytearray()

        async def collect(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        await self.app(scope, receive, collect)
        if start is None:
            await abort_connection(scope)
            return
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": bytes(body[: len(body) // 2]), "more_body": True})
        await asyncio.sleep(0.01)  # let the partial body reach the socket before the RST
        await abort_connection(scope)


async def _swallow(message: Message) -> None:
    """A send() that discards the response (the 'after' reset: work done, answer lost)."""


async def _drain(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


class ServiceProtectionMiddleware:
    """Dataverse service-protection limits per caller: concurrency, requests and execution time per window."""

    def __init__(self, app: ASGIApp, ctx: EmulatorContext) -> None:
        self.app, self.ctx = app, ctx
        self.in_flight: dict[str, int] = defaultdict(int)
        self.requests: dict[str, deque[float]] = defaultdict(deque)
        self.execution: dict[str, deque[tuple[float, float]]] = defaultdict(deque)
        self.execution_total: dict[str, float] = defaultdict(float)  # running sum of the deque, in ms

    def reset(self) -> None:
        self.in_flight.clear()
        self.requests.clear()
        self.execution.clear()
        self.execution_total.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limits = self.ctx.settings.service_protection
        if limits is None or _is_admin(scope) or scope.get(SURFACE, "dataverse") != "dataverse" \
                or not scope["path"].startswith(DATAVERSE_PREFIX):
            await self.app(scope, receive, send)
            return
        caller = scope.get(CALLER) or "anonymous"
        refusal = self._check(caller, limits)
        if refusal is not None:
            code, message, retry_after = refusal
            scope[FAULT] = f"throttle:{code}"
            if self.ctx.log is not None:
                self.ctx.log.count(f"throttled:{code}")
            await _drain(receive)
            await dataverse_error(429, code, message, {"Retry-After": str(retry_after)})(scope, receive, send)
            return
        now = self.ctx.clock()
        self.requests[caller].append(now)
        self.in_flight[caller] += 1
        t0 = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight[caller] -= 1
            spent_ms = (time.perf_counter() - t0) * 1000.0
            self.execution[caller].append((self.ctx.clock(), spent_ms))
            self.execution_total[caller] += spent_ms

    def _check(self, caller: str, limits: ServiceProtection) -> tuple[str, str, int] | None:
        now = self.ctx.clock()
        horizon = now - limits.window_s
        reqs = self.requests[caller]
        while reqs and reqs[0] <= horizon:
            reqs.popleft()
        execs = self.execution[caller]
        while execs and execs[0][0] <= horizon:
            self.execution_total[caller] -= execs.popleft()[1]
        if self.in_flight[caller] >= limits.max_concurrent:
            return ("0x80072326", f"Number of concurrent requests exceeded the limit of {limits.max_concurrent}.", 1)
        if len(reqs) >= limits.requests_per_window:
            wait = max(1, math.ceil(reqs[0] + limits.window_s - now))
            return ("0x80072322", f"Number of requests exceeded the limit of {limits.requests_per_window} "
                                  f"over time window of {int(limits.window_s)} seconds.", wait)
        if execs and self.execution_total[caller] >= limits.execution_ms_per_window:
            wait = max(1, math.ceil(execs[0][0] + limits.window_s - now))
            return ("0x80072321", f"Combined execution time of requests exceeded the limit of "
                                  f"{limits.execution_ms_per_window} ms over time window of {int(limits.window_s)} seconds.", wait)
        return None


class LatencyMiddleware:
    """Adds ``settings.latency_ms`` before each non-admin request is handled (read per request)."""

    def __init__(self, app: ASGIApp, ctx: EmulatorContext) -> None:
        self.app, self.ctx = app, ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        delay = self.ctx.settings.latency_ms
        if delay and not _is_admin(scope):
            await asyncio.sleep(delay / 1000.0)
        await self.app(scope, receive, send)


def wrap(app: ASGIApp, ctx: EmulatorContext) -> tuple[ASGIApp, dict[str, Any]]:
    """Wrap ``app`` with the full middleware stack; returns the app and the stateful middlewares."""
    latency = LatencyMiddleware(app, ctx)
    protection = ServiceProtectionMiddleware(latency, ctx)
    faults = FaultMiddleware(protection, ctx)
    logged = RequestLogMiddleware(faults, ctx)
    return logged, {"service_protection": protection}

