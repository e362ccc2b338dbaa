"""Request log and counters that tests, benchmarks and the admin API read."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class RequestRecord:
    """One request as the emulator saw it. ``status`` is 0 when the connection was reset
    without a response; ``fault`` names the injected fault or throttle, if any."""

    method: str
    path: str
    query: str
    status: int
    duration_ms: float
    started: float
    ended: float
    caller: str | None
    fault: str | None = None
    surface: str | None = None   # the origin the request reached: entra, graph or dataverse

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def surface_of(path: str) -> str:
    """Which emulated service a path belongs to (for requests that did not come through an origin)."""
    if path.startswith("/api/data/"):
        return "dataverse"
    if path.startswith("/v1.0/") or path == "/v1.0":
        return "graph"
    if path.startswith("/_emulator"):
        return "admin"
    return "entra"


class RequestLog:
    """Thread-safe log of non-admin requests plus aggregate counters (admin calls are not logged)."""

    def __init__(self, max_records: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []
        self._max = max_records
        self._counters: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self._listeners: list[Callable[[RequestRecord], None]] = []

    def started(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self.in_flight -= 1
            self._records.append(record)
            if len(self._records) > self._max:
                del self._records[: len(self._records) - self._max]
            c = self._counters
            c["total"] += 1
            c[f"status:{record.status}"] += 1
            c[f"surface:{record.surface or surface_of(record.path)}"] += 1
            c[f"method:{record.method}"] += 1
            if record.fault:
                c[f"fault:{record.fault}"] += 1
            listeners = list(self._listeners)
        for listener in listeners:  # outside the lock: a listener may read the log
            listener(record)

    def subscribe(self, listener: Callable[[RequestRecord], None]) -> Callable[[], None]:
        """Call ``listener(record)`` for every request logged from now on, on the server's thread,
        just before the response's last byte is sent. Returns the function that unsubscribes it."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def count(self, name: str, n: int = 1) -> None:
        """Bump a named counter (e.g. ``tokens_issued``) from a surface."""
        with self._lock:
            self._counters[name] += n

    @property
    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._counters.clear()
            self.max_in_flight = self.in_flight

    def counters(self) -> dict[str, Any]:
        """Counters grouped for humans: totals by status, surface, method, fault; plus concurrency."""
        with self._lock:
            out: dict[str, Any] = {"total": self._counters.get("total", 0), "by_status": {}, "by_surface": {},
                                   "by_method": {}, "faults": {}, "other": {},
                                   "in_flight": self.in_flight, "max_in_flight": self.max_in_flight}
            groups = {"status": "by_status", "surface": "by_surface", "method": "by_method", "fault": "faults"}
            for key, value in self._counters.items():
                prefix, sep, rest = key.partition(":")
                if sep and prefix in groups:
                    out[groups[prefix]][rest] = value
                elif key != "total":
                    out["other"][key] = value
            return out
