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
        started.append(emu)
        return emu

    yield start
    for emu in reversed(started):
        emu.stop()


@pytest.fixture
def emulator(emulator_factory: Callable[..., Emulator]) -> Emulator:
    """A fresh emulator with the default seed: own state, own log, no faults."""
    return emulator_factory()
