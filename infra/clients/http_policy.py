"""How long, how often and how many: the policy :class:`~infra.clients.http.ServiceHttp` applies.

Kept apart from the machinery so that a reader finds every number in one place: attempts and the
total budget per operation, back-off, the ``Retry-After`` cap (Dataverse's service-protection
window is 300 s, "Service protection API limits"), timeouts, which statuses and methods are safe
to retry, and the concurrency caps (Dataverse allows 52 concurrent requests per user).
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass

import httpx

__all__ = [
    "RetryPolicy",
    "Timeouts",
    "parse_retry_after",
    "RETRY_STATUSES",
    "IDEMPOTENT_METHODS",
    "DEFAULT_MAX_CONCURRENCY",
    "DATAVERSE_MAX_CONCURRENCY",
]

#: Requests in flight per (identity, service) unless a client asks for another cap.
DEFAULT_MAX_CONCURRENCY = 8
#: Dataverse service protection: 52 concurrent requests per user.
DATAVERSE_MAX_CONCURRENCY = 52
#: Statuses an idempotent call is retried on (a 429 is retried for every method).
RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: Methods whose repetition has no further effect (RFC 9110, 9.2.2), retried without being told.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often we retry (seconds, attempts).  One instance per service is plenty."""

    max_attempts: int = 8
    #: Total budget per operation, waits included.  Dataverse's service-protection window is
    #: 300 s, so a Retry-After up to that is honoured when the budget allows it.
    max_total_s: float = 600.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    jitter_s: float = 0.5
    max_retry_after_s: float = 300.0
    #: After a 429 with Retry-After, hold back *every* request of the same identity + service
    #: until then (the limits are per user), instead of letting each collect its own 429.
    shared_backoff: bool = True


@dataclass(frozen=True)
class Timeouts:
    """httpx's four timeouts, in seconds: opening a connection, reading, writing, waiting for a pooled connection."""

    connect: float = 10.0
    read: float = 120.0
    write: float = 120.0
    pool: float = 120.0

    def to_httpx(self) -> httpx.Timeout:
        """The same values as an :class:`httpx.Timeout`."""
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date (RFC 9110,
    10.2.3); None when absent or unreadable, never negative.  ``now``: epoch seconds (tests)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
