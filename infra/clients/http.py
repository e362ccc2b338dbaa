"""Resilient HTTPS for the service clients: pooling, timeouts, TLS, retries, concurrency, 401 refresh.

There is exactly one retry policy (:class:`RetryPolicy`) and one retry loop (tenacity, in
:meth:`ServiceHttp.request`); the Dataverse and Graph clients never loop themselves.

Rules, in order of importance:

* HTTPS only, TLS always verified (a CA bundle may be given; there is no switch to disable it),
  and a bearer token is only ever sent to the service's own origin.
* A *non-idempotent* call whose outcome is unknown -- a timeout or reset after the request was
  sent, or a 5xx -- is never retried: :class:`AmbiguousOutcomeError` tells the caller to look
  before trying again.  A 429 is safe for every method (the service refused before executing),
  and so is a connection that could not be opened at all.
* Idempotent calls (GET, PUT, DELETE, HEAD, PATCH with If-Match / If-None-Match, or anything the
  caller marks ``idempotent=True``) are retried on 429/502/503/504 and connection errors with
  exponential backoff + jitter, honouring ``Retry-After`` (seconds or HTTP date), with caps on
  attempts and on the total time of the operation.
* A 401 triggers one forced token refresh and one re-send.
* In-flight requests are limited per (identity, service) by a semaphore (Dataverse allows 52
  concurrent requests per user; our default is 8).

The numbers (attempts, budgets, timeouts, caps) are in :mod:`infra.clients.http_policy`.
"""

from __future__ import annotations

import json as jsonlib
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urljoin, urlsplit

import httpcore  # noqa: F401 - imported so its loggers exist when redaction is installed
import httpx
import tenacity

from infra.clients.endpoints import require_https, ssl_context
from infra.clients.credentials import TokenCredential
from infra.clients.errors import (
    AmbiguousOutcomeError,
    ConfigurationError,
    ServiceError,
    ThrottledError,
    error_from_response,
)
from infra.clients.http_policy import (
    DATAVERSE_MAX_CONCURRENCY,
    DEFAULT_MAX_CONCURRENCY,
    IDEMPOTENT_METHODS,
    RETRY_STATUSES,
    RetryPolicy,
    Timeouts,
    parse_retry_after,
)
from infra.clients.redact import THIRD_PARTY_LOGGERS, install_log_redaction, logger, redact

install_log_redaction(*THIRD_PARTY_LOGGERS)  # httpx / httpcore loggers exist now

__all__ = [
    "RetryPolicy",
    "Timeouts",
    "HttpStats",
    "ServiceHttp",
    "ConnectionFailedError",
    "get_service_http",
    "parse_retry_after",
    "close_all",
    "DEFAULT_MAX_CONCURRENCY",
    "DATAVERSE_MAX_CONCURRENCY",
]


class ConnectionFailedError(ServiceError):
    """The service could not be reached (connection refused / reset / timed out) after retries."""


@dataclass
class HttpStats:
    """Counters shared by every :class:`ServiceHttp` of one (identity, service): lets tests and
    the benchmark see attempts, retries and the waits actually applied."""

    attempts: int = 0
    retries: int = 0
    waits: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    token_refreshes: int = 0
    ambiguous: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    #: Seconds spent waiting at the shared throttle gate (see ServiceHttp._respect_gate).
    gate_waits: float = 0.0
    #: monotonic time before which no new request is sent for this identity + service
    throttled_until: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reset(self) -> None:
        """Zero the counters (the benchmark and tests measure one phase at a time)."""
        with self._lock:
            self.attempts = self.retries = self.token_refreshes = self.ambiguous = 0
            self.gate_waits = 0.0
            self.max_in_flight = self.in_flight
            self.waits = []
            self.statuses = Counter()


class _Retryable(Exception):
    """Internal: a failed attempt that the policy may retry."""

    def __init__(self, description: str, *, response: httpx.Response | None = None,
                 retry_after: float | None = None, cause: BaseException | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.response = response
        self.retry_after = retry_after
        self.cause = cause


# --- shared per-process pools ----------------------------------------------------------------

_LOCK = threading.Lock()
_CLIENTS: dict[tuple[Any, ...], httpx.Client] = {}
_SEMAPHORES: dict[tuple[Any, ...], tuple[threading.BoundedSemaphore, int]] = {}
_STATS: dict[tuple[Any, ...], HttpStats] = {}
_SERVICES: dict[tuple[Any, ...], "ServiceHttp"] = {}


def _pooled_client(origin: str, identity_key: tuple[Any, ...], ca_bundle: str | None,
                   timeouts: Timeouts, max_connections: int) -> httpx.Client:
    key = (origin, identity_key, ca_bundle)
    with _LOCK:
        client = _CLIENTS.get(key)
        if client is None or client.is_closed:
            client = httpx.Client(
                verify=ssl_context(ca_bundle),
                timeout=timeouts.to_httpx(),
                limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
                follow_redirects=False,
                trust_env=False,
            )
            _CLIENTS[key] = client
        return client


def close_all() -> None:
    """Close every pooled connection (tests, end of a long process)."""
    with _LOCK:
        for client in _CLIENTS.values():
            client.close()
        _CLIENTS.clear()
        _SERVICES.clear()
        _SEMAPHORES.clear()
        _STATS.clear()


def get_service_http(base_url: str, credential: TokenCredential, scope: str, *, service: str,
                     ca_bundle: str | None = None, **kwargs: Any) -> "ServiceHttp":
    """The shared :class:`ServiceHttp` for (service base URL, identity, scope) in this process."""
    # Different policies (retry, timeouts, cap) get their own ServiceHttp but share the identity's
    # connection pool, concurrency semaphore, throttle gate and counters.
    key = (require_https(base_url, f"{service} URL"), credential.cache_key, scope, ca_bundle,
           repr(sorted(kwargs.items())))
    with _LOCK:
        existing = _SERVICES.get(key)
    if existing is not None:
        return existing
    created = ServiceHttp(base_url, credential, scope, service=service, ca_bundle=ca_bundle, **kwargs)
    with _LOCK:
        return _SERVICES.setdefault(key, created)


class ServiceHttp:
    """HTTP to one service as one identity.  Thread-safe; share it."""

    def __init__(
        self,
        base_url: str,
        credential: TokenCredential,
        scope: str,
        *,
        service: str,
        ca_bundle: str | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        concurrency_limit: int | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        default_headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = require_https(base_url, f"{service} URL") + "/"
        parts = urlsplit(self.base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}".lower()
        self.credential = credential
        self.scope = scope
        self.service = service
        self.retry = retry or RetryPolicy()
        self.timeouts = timeouts or Timeouts()
        self.default_headers = dict(default_headers or {})
        self._sleep = sleep
        if max_concurrency < 1:
            raise ConfigurationError(f"max_concurrency must be >= 1, got {max_concurrency}")
        if concurrency_limit is not None and max_concurrency > concurrency_limit:
            logger.warning("%s: max_concurrency %d lowered to the service limit %d", service, max_concurrency, concurrency_limit)
            max_concurrency = concurrency_limit
        self.max_concurrency = max_concurrency
        identity_key = credential.cache_key
        if transport is not None:  # tests: a private client over a fake transport, nothing shared
            self._client = httpx.Client(transport=transport, timeout=self.timeouts.to_httpx(), trust_env=False)
            sem_key: tuple[Any, ...] = (identity_key, self.origin, service, id(transport))
        else:
            self._client = _pooled_client(self.origin, identity_key, ca_bundle, self.timeouts, max(max_concurrency, 4))
            sem_key = (identity_key, self.origin, service)
        with _LOCK:
            if sem_key not in _SEMAPHORES:
                _SEMAPHORES[sem_key] = (threading.BoundedSemaphore(max_concurrency), max_concurrency)
            self._semaphore, self.max_concurrency = _SEMAPHORES[sem_key]
            self.stats = _STATS.setdefault(sem_key, HttpStats())
        self.hooks: list[Callable[[dict[str, Any]], None]] = []
        self._backoff = tenacity.wait_exponential_jitter(
            multiplier=self.retry.backoff_initial_s, max=self.retry.backoff_max_s, jitter=self.retry.jitter_s
        )

    def __repr__(self) -> str:
        return f"ServiceHttp({self.service}, {self.base_url!r}, {self.credential.identity!r})"

    def __reduce__(self) -> Any:
        raise TypeError("ServiceHttp holds connections and credentials and must not be pickled")

    # --- public -----------------------------------------------------------------------------

    def url(self, path_or_url: str) -> str:
        """Absolute URL for a path relative to the base; absolute URLs must stay on our origin."""
        absolute = urljoin(self.base_url, path_or_url)
        parts = urlsplit(absolute)
        if f"{parts.scheme}://{parts.netloc}".lower() != self.origin:
            raise ConfigurationError(
                f"refusing to send {self.service} credentials to {parts.scheme}://{parts.netloc} "
                f"(expected {self.origin})"
            )
        return absolute

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | Callable[[], Iterable[bytes]] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        timeout: Timeouts | None = None,
        ok_statuses: Iterable[int] = (),
    ) -> httpx.Response:
        """Send with retries; return the response (2xx/3xx or one of ``ok_statuses``) or raise.

        ``content`` may be a callable returning an iterable of byte chunks: it is called once per
        attempt, so a streamed body can be re-sent without holding it in memory.
        """
        method = method.upper()
        url = self.url(path_or_url)
        hdrs = {**self.default_headers, **(headers or {})}
        if json is not None:
            body: bytes | Callable[[], Iterable[bytes]] | None = jsonlib.dumps(json, separators=(",", ":")).encode()
            hdrs.setdefault("Content-Type", "application/json")
        else:
            body = content
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS or (
                method == "PATCH" and any(h.lower() in ("if-match", "if-none-match") for h in hdrs)
            )
        ok = frozenset(ok_statuses)
        display = self._display(method, url)  # path only: errors add the method themselves
        policy = self.retry

        def attempt() -> httpx.Response:
            return self._attempt(method, url, params, body, hdrs, idempotent, timeout, ok, display)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retryable),
            stop=tenacity.stop_after_attempt(policy.max_attempts) | tenacity.stop_before_delay(policy.max_total_s),
            wait=self._wait,
            before_sleep=lambda rs: self._before_sleep(rs, f"{method} {display}"),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _Retryable as final:
            raise self._final_error(final, method, url) from None

    # --- internals --------------------------------------------------------------------------

    def _display(self, method: str, url: str) -> str:
        return redact(urlsplit(url).path)

    def _emit(self, event: dict[str, Any]) -> None:
        for hook in list(self.hooks):
            try:
                hook(event)
            except Exception:  # a broken test hook must not break the request
                logger.exception("http hook failed")

    def _wait(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        policy = self.retry
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            base = min(exc.retry_after, policy.max_retry_after_s)
            return base + random.uniform(0, min(1.0, 0.1 * base))  # never earlier than asked
        return self._backoff(retry_state)

    def _before_sleep(self, retry_state: tenacity.RetryCallState, display: str) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        wait = retry_state.upcoming_sleep
        with self.stats._lock:
            self.stats.retries += 1
            self.stats.waits.append(wait)
        reason = exc.description if isinstance(exc, _Retryable) else type(exc).__name__
        logger.info(
            "%s %s: %s; retry %d/%d in %.2fs",
            self.service, display, reason, retry_state.attempt_number, self.retry.max_attempts - 1, wait,
        )
        self._emit({"event": "retry", "request": display, "reason": reason, "wait": wait,
                    "attempt": retry_state.attempt_number})

    def _send(self, method: str, url: str, params: Any, body: Any, headers: dict[str, str],
              timeout: Timeouts | None, token: str) -> httpx.Response:
        self._respect_gate()
        content = body() if callable(body) else body
        request = self._client.build_request(
            method, url, params=params, content=content,
            headers={**headers, "Authorization": f"Bearer {token}"},
            timeout=(timeout or self.timeouts).to_httpx(),
        )
        with self._semaphore:
            with self.stats._lock:
                self.stats.attempts += 1
                self.stats.in_flight += 1
                self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
            started = time.monotonic()
            try:
                response = self._client.send(request)
            finally:
                with self.stats._lock:
                    self.stats.in_flight -= 1
        with self.stats._lock:
            self.stats.statuses[response.status_code] += 1
        logger.debug("%s %s %s -> %d in %.0f ms", self.service, method, self._display(method, url),
                      response.status_code, (time.monotonic() - started) * 1000)
        self._emit({"event": "response", "request": f"{method} {self._display(method, url)}", "status": response.status_code})
        return response

    def _respect_gate(self) -> None:
        """Wait while the service has told this identity to back off.

        Dataverse's service-protection limits are per user: once one request gets a 429 with
        Retry-After, every other request of the same identity would be refused too, so they all
        pause instead of each collecting its own 429.
        """
        if not self.retry.shared_backoff:
            return
        delay = self.stats.throttled_until - time.monotonic()
        if delay > 0:
            with self.stats._lock:
                self.stats.gate_waits += delay
            self._sleep(delay)

    def _close_gate(self, retry_after: float | None) -> None:
        if retry_after:
            until = time.monotonic() + min(retry_after, self.retry.max_retry_after_s)
            with self.stats._lock:
                self.stats.throttled_until = max(self.stats.throttled_until, until)

    def _attempt(self, method: str, url: str, params: Any, body: Any, headers: dict[str, str],
                 idempotent: bool, timeout: Timeouts | None, ok: frozenset[int], display: str) -> httpx.Response:
        try:
            response = self._send(method, url, params, body, headers, timeout, self.credential.get_token(self.scope).token)
            if response.status_code == 401:
                logger.info("%s %s %s: 401, refreshing the token once", self.service, method, display)
                with self.stats._lock:
                    self.stats.token_refreshes += 1
                token = self.credential.get_token(self.scope, force_refresh=True).token
                response = self._send(method, url, params, body, headers, timeout, token)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached the service: safe to retry whatever the method.
            raise _Retryable(f"connection failed ({type(exc).__name__})", cause=exc) from None
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            reason = f"{type(exc).__name__} after the request was sent"
            if not idempotent:
                self._ambiguous(method, url, reason)
            raise _Retryable(reason, cause=exc) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise ConfigurationError(f"{self.service} URL {display!r} is not usable: {exc}") from None

        status = response.status_code
        if status < 400 or status in ok:
            return response
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status == 429:
            self._close_gate(retry_after)
            raise _Retryable("HTTP 429 (throttled)", response=response, retry_after=retry_after)
        if status >= 500 and not idempotent:
            err = error_from_response(status, response.content, service=self.service, method=method, url=display)
            self._ambiguous(method, url, f"HTTP {status} {err.code or ''} {err.message}".strip(), status=status, code=err.code)
        if status in RETRY_STATUSES:
            raise _Retryable(f"HTTP {status}", response=response, retry_after=retry_after)
        raise error_from_response(
            status, response.content, service=self.service, method=method, url=display,
            retry_after=retry_after, request_id=response.headers.get("request-id") or response.headers.get("x-ms-service-request-id"),
        )

    def _ambiguous(self, method: str, url: str, reason: str, *, status: int | None = None, code: str | None = None) -> None:
        with self.stats._lock:
            self.stats.ambiguous += 1
        display = f"{method} {self._display(method, url)}"
        logger.warning("%s %s: outcome unknown (%s); not retrying a non-idempotent call", self.service, display, reason)
        self._emit({"event": "ambiguous", "request": display, "reason": reason})
        raise AmbiguousOutcomeError(method, urlsplit(url).path, reason, status=status, code=code) from None

    def _final_error(self, final: _Retryable, method: str, url: str) -> ServiceError:
        display = self._display(method, url)
        if final.response is not None:
            err = error_from_response(
                final.response.status_code, final.response.content, service=self.service,
                method=method, url=display, retry_after=final.retry_after,
            )
            if isinstance(err, ThrottledError):
                err.message = f"{err.message} (still throttled after {self.retry.max_attempts} attempts / retry budget)"
            return err
        return ConnectionFailedError(
            None, "connection_failed",
            f"{self.service} unreachable: {final.description}: {redact(final.cause) if final.cause else ''}",
            service=self.service, method=method, url=display,
        )
