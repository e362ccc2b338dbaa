"""Shared pytest fixtures: the local cloud emulator (emulator).

``emulator``: a fresh in-process emulator per test (default seed, default knobs).
``emulator_factory(**knobs)``: start emulators with other knobs; all are stopped at teardown.
The TLS CA is generated once per session and shared by all emulators of the session.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from emulator import Emulator

# `requests` lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a Session's `verify`, which would
# make every client distrust the emulator's CA. Tests talk only to the emulator, so drop them.
for _var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
    os.environ.pop(_var, None)


#: Ports this test process has served an emulator on.
_PORTS_USED: set[int] = set()


@pytest.fixture(scope="session")
def emulator_tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One CA + server certificate for the whole session."""
    return tmp_path_factory.mktemp("emulator-tls")


@pytest.fixture
def emulator_factory(emulator_tls_dir: Path) -> Iterator[Callable[..., Emulator]]:
    """Start emulators with non-default knobs: ``emulator_factory(latency_ms=20, service_protection=True)``."""
    started: list[Emulator] = []

    def start(seed: Any = None, **knobs: Any) -> Emulator:
        knobs.setdefault("tls_dir", emulator_tls_dir)
        emu = Emulator.start(seed, **knobs)
        if not knobs.get("port"):
            # A provider host lives for a whole module and caches per endpoint (port included):
            # an emulator on a port this process has used before could meet stale cache entries.
            held: list[Emulator] = []
            try:
                while emu.port in _PORTS_USED:
                    held.append(emu)  # keep it bound so the next start gets another port
                    if len(held) > 20:
                        raise RuntimeError(f"no unused port after {len(held)} emulator starts")
                    emu = Emulator.start(seed, **knobs)
            finally:
                for old in held:
                    old.stop()
        _PORTS_USED.add(emu.port)
        started.append(emu)
        return emu

    yield start
    for emu in reversed(started):
        emu.stop()


@pytest.fixture
def emulator(emulator_factory: Callable[..., Emulator]) -> Emulator:
    """A fresh emulator with the default seed: own state, own log, no faults."""
    return emulator_factory()
