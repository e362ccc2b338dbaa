"""Seeded, reproducible fault injection.

A ``FaultRule`` matches requests by method and a regex searched in ``path?query``; it fires on
every matching request, on a probability (drawn from one RNG seeded with ``fault_seed``, so a
given request sequence always gets the same faults), or on the Nth matching request and every
Nth after it. ``limit`` caps how many times it fires (``nth=3, limit=1``: only the 3rd).
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field, fields
from typing import Any

FAULT_KINDS = ("429", "503", "reset", "cut", "hold")


@dataclass
class FaultRule:
    """One fault. ``kind``: "429" (Retry-After), "503", "reset" (connection closed without a
    response), "cut" (response headers and half the body, then the connection drops) or "hold"
    (the request waits, unhandled, until :meth:`release` or ``hold_seconds`` -- so a test can
    crash a client at an exact request boundary however loaded the machine is; ``holding`` is
    set while a request waits).
    ``phase``: for "reset", "before" = the service never saw the request, "after" = the
    service processed it and the response was lost (outcome unknown to the client)."""

    kind: str
    probability: float | None = None
    nth: int | None = None
    method: str | None = None
    path_regex: str | None = None
    retry_after: int | None = 1
    limit: int | None = None
    phase: str = "before"
    hold_seconds: float = 30.0
    matched: int = field(default=0, compare=False)
    fired: int = field(default=0, compare=False)
    holding: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)
    released: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)

    def release(self) -> None:
        """Let every request this "hold" rule stopped go on."""
        self.released.set()

    def __post_init__(self) -> None:
        self.kind = str(self.kind)
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"FaultRule.kind: {self.kind!r} is not one of {', '.join(FAULT_KINDS)}")
        if self.probability is not None and self.nth is not None:
            raise ValueError("FaultRule: give probability or nth, not both")
        if self.probability is not None and not 0.0 <= float(self.probability) <= 1.0:
            raise ValueError(f"FaultRule.probability: {self.probability!r} is not between 0 and 1")
        if self.nth is not None and int(self.nth) < 1:
            raise ValueError(f"FaultRule.nth: {self.nth!r} must be >= 1")
        if self.limit is not None and int(self.limit) < 0:
            raise ValueError(f"FaultRule.limit: {self.limit!r} must be >= 0")
        if self.phase not in ("before", "after"):
            raise ValueError(f"FaultRule.phase: {self.phase!r} is not one of before, after")
        if self.path_regex is not None:
            try:
                self._rx = re.compile(self.path_regex)
            except re.error as exc:
                raise ValueError(f"FaultRule.path_regex: {self.path_regex!r} is not a valid regex: {exc}") from None
        else:
            self._rx = None

    def matches(self, method: str, target: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self._rx is None or self._rx.search(target) is not None

    def to_dict(self) -> dict[str, Any]:
        """The rule's settings and counters as JSON values (the admin API's shape)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("holding", "released")}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FaultRule":
        allowed = {"kind", "probability", "nth", "method", "path_regex", "retry_after", "limit", "phase",
                   "hold_seconds"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"FaultRule: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
        return cls(**data)


class FaultSet:
    """The active rules of one emulator; ``pick`` decides the fault for one request."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._rng = random.Random(seed)
        self._seed = seed

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._rng = random.Random(self._seed)

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def pick(self, method: str, path: str, query: str) -> FaultRule | None:
        """Count the request against every matching rule; return the first rule that fires."""
        if not self._rules:
            return None
        target = f"{path}?{query}" if query else path
        chosen: FaultRule | None = None
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, target):
                    continue
                rule.matched += 1
                if chosen is not None or (rule.limit is not None and rule.fired >= rule.limit):
                    continue
                if rule.probability is not None:
                    fire = self._rng.random() < rule.probability
                elif rule.nth is not None:
                    fire = rule.matched % rule.nth == 0
                else:
                    fire = True
                if fire:
                    rule.fired += 1
                    chosen = rule
        return chosen
