"""Fixtures for the clients tests: a fake credential, fresh per-process registries, emulator wiring."""

from __future__ import annotations

import itertools
import time
from typing import Any, Iterator

import pytest

from infra.clients import dataverse, graph, http
from infra.clients.connection import Connection
from infra.clients.credentials import AccessToken, TokenCredential, _CacheEntry, clear_token_cache
from infra.clients.shared import forget_clients

DEPLOYER_ID = "6b1c2d3e-0000-4000-8000-00000000d001"
DEPLOYER_SECRET = "emu-deployer-secret-6f2b9c"
LIMITED_ID = "6b1c2d3e-0000-4000-8000-00000000d002"
LIMITED_SECRET = "emu-limited-secret-41ac7e"
GITHUB_SUBJECT = "repo:contoso/bc-sales:environment:dev"


class FakeCredential(TokenCredential):
    """Hands out numbered fake tokens; counts sign-ins."""

    kind = "fake"
    _ids = itertools.count()

    def __init__(self, lifetime_s: float = 3600.0) -> None:
        conn = Connection("https://fake.example", "tenant-fake")
        super().__init__(conn, "client-fake", f"fake-{next(self._ids)}")
        self.lifetime_s = lifetime_s
        self.issued: list[str] = []

    def _acquire(self, entry: _CacheEntry, scope: str, bypass_cache: bool) -> AccessToken:
        token = f"fake-token-{len(self.issued)}"
        self.issued.append(token)
        return AccessToken(token, time.time() + self.lifetime_s)


@pytest.fixture(autouse=True)
def _fresh_registries() -> Iterator[None]:
    clear_token_cache()
    http.close_all()
    forget_clients()
    yield
    http.close_all()
    forget_clients()
    clear_token_cache()


@pytest.fixture
def fake_credential() -> FakeCredential:
    return FakeCredential()


def connection_for(emu: Any) -> Connection:
    u = emu.urls
    return Connection(environment_url=u.environment_url, tenant_id=u.tenant_id, authority_host=u.authority_host,
                      graph_url=u.graph_url, ca_bundle=str(u.ca_bundle), power_platform_url=u.power_platform_url)


def secret_env(client_id: str = DEPLOYER_ID, secret: str = DEPLOYER_SECRET) -> dict[str, str]:
    return {"AZURE_CLIENT_ID": client_id, "AZURE_CLIENT_SECRET": secret, "PATH": ""}


@pytest.fixture
def conn(emulator: Any) -> Connection:
    return connection_for(emulator)


def wait_for_log(emu: Any, suffix: str, count: int, timeout: float = 2.0) -> list[int]:
    """Statuses of logged requests whose path ends with ``suffix`` (the log is written just after
    the response is sent, so give it a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        statuses = [r.status for r in emu.requests if r.path.endswith(suffix)]
        if len(statuses) >= count or time.monotonic() > deadline:
            return statuses
        time.sleep(0.02)


def clear_log(emu: Any, timeout: float = 2.0) -> None:
    """Clear the emulator's request log once nothing is in flight (a request is logged just after
    its response is sent, so clearing right after a call could race with its log entry)."""
    deadline = time.monotonic() + timeout
    while emu.counters().get("in_flight", 0) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.02)
    emu.clear_log()
