"""ServiceHttp over a fake transport: retry classes, Retry-After, ambiguity, 401 refresh, caps."""

from __future__ import annotations

import email.utils
import time
from typing import Callable

import httpx
import pytest

from infra.clients.errors import (
    AmbiguousOutcomeError,
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    ThrottledError,
)
from infra.clients.http import ConnectionFailedError, RetryPolicy, ServiceHttp, parse_retry_after

from .conftest import FakeCredential

BASE = "https://svc.example/api"


def make(handler: Callable[[httpx.Request], httpx.Response], **kw) -> tuple[ServiceHttp, list[float], FakeCredential]:
    waits: list[float] = []
    cred = FakeCredential()
    http = ServiceHttp(BASE, cred, "https://svc.example/.default", service="test",
                       transport=httpx.MockTransport(handler), sleep=waits.append,
                       retry=kw.pop("retry", RetryPolicy(max_attempts=5, backoff_initial_s=0.01, jitter_s=0.0,
                                                        shared_backoff=False)), **kw)
    return http, waits, cred


def scripted(*responses) -> Callable[[httpx.Request], httpx.Response]:
    seq = list(responses)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = seq.pop(0) if len(seq) > 1 else seq[0]
        if isinstance(item, Exception):
            raise item
        return item

    handler.seen = seen  # type: ignore[attr-defined]
    return handler


def test_parse_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert 28 <= parse_retry_after(date, now=now) <= 31
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_429_is_retried_for_post_and_honours_retry_after() -> None:
    handler = scripted(httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json={"ok": 1}))
    http, waits, _ = make(handler)
    r = http.request("POST", "action", json={}, idempotent=False)
    assert r.json() == {"ok": 1}
    assert len(handler.seen) == 2 and 3.0 <= waits[0] <= 3.3
    assert http.stats.retries == 1 and http.stats.statuses[429] == 1


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_retried_for_idempotent_calls(status: int) -> None:
    handler = scripted(httpx.Response(status), httpx.Response(status), httpx.Response(200, json={}))
    http, waits, _ = make(handler)
    assert http.request("GET", "x").status_code == 200
    assert len(handler.seen) == 3 and len(waits) == 2
    assert waits[1] > waits[0]  # exponential


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_non_idempotent_post_is_ambiguous_and_not_retried(status: int) -> None:
    handler = scripted(httpx.Response(status, json={"error": {"code": "0x1", "message": "m"}}), httpx.Response(200))
    http, waits, _ = make(handler)
    with pytest.raises(AmbiguousOutcomeError) as err:
        http.request("POST", "ImportSolutionAsync", json={}, idempotent=False)
    assert len(handler.seen) == 1 and waits == []
    assert err.value.status == status and http.stats.ambiguous == 1


@pytest.mark.parametrize("exc", [httpx.ReadTimeout("t"), httpx.RemoteProtocolError("reset"), httpx.ReadError("x")])
def test_failure_after_send_is_ambiguous_for_post_but_retried_for_get(exc: Exception) -> None:
    http, _, _ = make(scripted(exc, httpx.Response(200)))
    with pytest.raises(AmbiguousOutcomeError):
        http.request("POST", "ImportSolutionAsync", json={})
    handler = scripted(exc, httpx.Response(200))
    http, waits, _ = make(handler)
    assert http.request("GET", "x").status_code == 200 and len(handler.seen) == 2


def test_connect_error_is_retried_even_for_post() -> None:
    handler = scripted(httpx.ConnectError("refused"), httpx.Response(204))
    http, _, _ = make(handler)
    assert http.request("POST", "x", json={}, idempotent=False).status_code == 204
    assert len(handler.seen) == 2


def test_patch_with_if_match_counts_as_idempotent() -> None:
    handler = scripted(httpx.Response(503), httpx.Response(204))
    http, _, _ = make(handler)
    assert http.request("PATCH", "x", json={}, headers={"If-Match": "*"}).status_code == 204
    with pytest.raises(AmbiguousOutcomeError):
        make(scripted(httpx.Response(503)))[0].request("PATCH", "x", json={})


def test_attempt_cap_then_throttled_error() -> None:
    handler = scripted(httpx.Response(429, headers={"Retry-After": "1"},
                                      json={"error": {"code": "0x80072322", "message": "Number of requests exceeded"}}))
    http, waits, _ = make(handler)
    with pytest.raises(ThrottledError) as err:
        http.request("GET", "x")
    assert len(handler.seen) == 5 and len(waits) == 4
    assert err.value.code == "0x80072322" and err.value.retry_after == 1.0


def test_total_time_cap_stops_before_a_long_wait() -> None:
    handler = scripted(httpx.Response(429, headers={"Retry-After": "120"}))
    http, waits, _ = make(handler, retry=RetryPolicy(max_attempts=10, max_total_s=60, shared_backoff=False))
    with pytest.raises(ThrottledError):
        http.request("GET", "x")
    assert len(handler.seen) == 1 and waits == []


def test_connection_failure_after_retries() -> None:
    handler = scripted(httpx.ConnectError("refused"))
    http, _, _ = make(handler)
    with pytest.raises(ConnectionFailedError):
        http.request("GET", "x")
    assert len(handler.seen) == 5


def test_401_refreshes_token_once_and_resends() -> None:
    tokens: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        tokens.append(request.headers["Authorization"])
        return httpx.Response(401 if len(tokens) == 1 else 200, json={})

    http, _, cred = make(handler)
    assert http.request("POST", "x", json={}, idempotent=False).status_code == 200
    assert tokens[0] != tokens[1] and len(cred.issued) == 2 and http.stats.token_refreshes == 1
    always = make(lambda r: httpx.Response(401, json={"error": {"code": "InvalidAuthenticationToken", "message": "no"}}))[0]
    with pytest.raises(AuthenticationError):
        always.request("GET", "x")


def test_other_errors_are_mapped_without_retry() -> None:
    handler = scripted(httpx.Response(404, json={"error": {"code": "0x80040217", "message": "Does Not Exist"}}))
    http, waits, _ = make(handler)
    with pytest.raises(NotFoundError):
        http.request("GET", "roles(1)")
    assert len(handler.seen) == 1 and waits == []


def test_https_only_and_same_origin_only() -> None:
    with pytest.raises(ConfigurationError, match="https"):
        ServiceHttp("http://svc.example", FakeCredential(), "s", service="t", transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    http, _, _ = make(lambda r: httpx.Response(200))
    with pytest.raises(ConfigurationError, match="refusing"):
        http.request("GET", "https://evil.example/steal")


def test_streamed_body_is_regenerated_for_each_attempt() -> None:
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(b"".join(request.stream))
        return httpx.Response(503 if len(bodies) == 1 else 200)

    http, _, _ = make(handler)
    http.request("POST", "x", content=lambda: iter([b"ab", b"cd"]), idempotent=True)
    assert bodies == [b"abcd", b"abcd"]


def test_concurrency_limit_clamps_the_requested_cap() -> None:
    http, _, _ = make(lambda r: httpx.Response(200), max_concurrency=200, concurrency_limit=52)
    assert http.max_concurrency == 52


def test_a_429_holds_back_other_requests_of_the_same_identity() -> None:
    """Shared backoff: after one 429 with Retry-After, the next request waits at the gate first."""
    handler = scripted(httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(200))
    waits: list[float] = []
    cred = FakeCredential()
    http = ServiceHttp(BASE, cred, "s", service="test", transport=httpx.MockTransport(handler),
                       sleep=waits.append, retry=RetryPolicy(max_attempts=1))
    with pytest.raises(ThrottledError):
        http.request("GET", "x")  # one attempt only: the 429 closes the gate
    http.request("GET", "y")  # another call: waits at the gate, then goes through
    assert len(waits) == 1 and 1.8 <= waits[0] <= 2.0
    assert 1.8 <= http.stats.gate_waits <= 2.0


def test_hooks_see_responses_and_retries() -> None:
    events: list[dict] = []
    http, _, _ = make(scripted(httpx.Response(503), httpx.Response(200)))
    http.hooks.append(events.append)
    http.request("GET", "x")
    assert [e["event"] for e in events] == ["response", "retry", "response"]
    assert events[1]["reason"] == "HTTP 503" and events[0]["status"] == 503


def test_real_connection_refused_is_retried_then_reported() -> None:
    import socket

    # Bound but not listening: Linux refuses connections to it, and no other test can take the
    # port while we hold it (closing it first left a window for a parallel worker to bind it).
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        waits: list[float] = []
        http = ServiceHttp(f"https://127.0.0.1:{port}", FakeCredential(), "s", service="test", sleep=waits.append,
                           retry=RetryPolicy(max_attempts=3, backoff_initial_s=0.01))
        with pytest.raises(ConnectionFailedError) as err:
            http.request("POST", "x", json={}, idempotent=False)  # nothing was sent: safe to retry a POST
    assert http.stats.attempts == 3 and len(waits) == 2
    assert "unreachable" in str(err.value)
