"""Fixtures for the clients tests: a fake credential, fresh per-process registries, emulator wiring."""

from __future__ import annotations

import itertools
import json
import os
import stat
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from emulator.seed import ids
from infra.clients import dataverse, graph, http
from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.credentials import AccessToken, TokenCredential, clear_token_cache
from infra.clients.shared import forget_clients

DEPLOYER_ID = ids.DEPLOYER_CLIENT_ID
DEPLOYER_SECRET = ids.DEPLOYER_SECRET
LIMITED_ID = ids.LIMITED_CLIENT_ID
LIMITED_SECRET = ids.LIMITED_SECRET
GITHUB_SUBJECT = "repo:contoso/bc-sales:environment:dev"


class _FakeAzureCredential:
    """Stands in for an azure-identity credential: caches per scope until expiry, numbers its tokens."""

    def __init__(self, owner: "FakeCredential") -> None:
        self.owner = owner
        self.tokens: dict[str, AccessToken] = {}

    def get_token(self, scope: str) -> AccessToken:
        cached = self.tokens.get(scope)
        if cached is None or cached.expires_on <= time.time():
            cached = self.tokens[scope] = AccessToken(f"fake-token-{len(self.owner.issued)}",
                                                      time.time() + self.owner.lifetime_s)
            self.owner.issued.append(cached.token)
        return cached

    def close(self) -> None:
        pass


class FakeCredential(TokenCredential):
    """Hands out numbered fake tokens; counts sign-ins."""

    _ids = itertools.count()

    def __init__(self, lifetime_s: float = 3600.0) -> None:
        self.lifetime_s = lifetime_s
        self.issued: list[str] = []
        conn = EnvironmentEndpoints("https://fake.example", "tenant-fake")
        super().__init__(conn, "fake", "client-fake", lambda: _FakeAzureCredential(self), f"fake-{next(self._ids)}")


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


def endpoints_for(emu: Any) -> EnvironmentEndpoints:
    u = emu.urls
    return EnvironmentEndpoints(environment_url=u.environment_url, tenant_id=u.tenant_id, authority_host=u.authority_host,
                      graph_url=u.graph_url, ca_bundle=str(u.ca_bundle), power_platform_url=u.power_platform_url)


def secret_env(client_id: str = DEPLOYER_ID, secret: str = DEPLOYER_SECRET) -> dict[str, str]:
    return {"AZURE_CLIENT_ID": client_id, "AZURE_CLIENT_SECRET": secret, "PATH": ""}


@pytest.fixture
def client_clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """``advance(seconds)`` moves this process's ``time.time()`` -- what azure-identity and msal read --
    forward, as if that much time had passed for the client.  The emulator keeps the real time (its
    ``ctx.clock`` is the original ``time.time``), so its tokens stay valid server-side."""
    real = time.time
    offset = [0.0]
    monkeypatch.setattr(time, "time", lambda: real() + offset[0])

    def advance(seconds: float) -> None:
        offset[0] += seconds

    return advance


@pytest.fixture
def conn(emulator: Any) -> EnvironmentEndpoints:
    return endpoints_for(emulator)


def write_fake_az(directory: Path, payload: dict | None = None, *, exit_code: int = 0, stderr: str = "") -> Path:
    """A stand-in ``az``: records its arguments (one line per call) and prints ``payload`` as JSON,
    the documented output of ``az account get-access-token --output json``."""
    az = directory / "az"
    body = json.dumps(payload or {})
    az.write_text("#!/bin/sh\n"
                  "echo \"$@\" >> \"$(dirname \"$0\")/args\"\n"
                  + (f"echo '{stderr}' >&2\nexit {exit_code}\n" if exit_code else f"cat <<'EOF'\n{body}\nEOF\n"))
    az.chmod(az.stat().st_mode | stat.S_IEXEC)
    return az


def az_path(monkeypatch, directory: Path) -> str:
    """Put ``directory`` first on the process's PATH (azure-identity runs the `az` found there)."""
    path = f"{directory}{os.pathsep}{os.environ.get('PATH', '')}"
    monkeypatch.setenv("PATH", path)
    return path


def az_calls(directory: Path) -> list[list[str]]:
    args = directory / "args"
    return [line.split() for line in args.read_text().splitlines()] if args.exists() else []


def logged_statuses(emu: Any, suffix: str) -> list[int]:
    """Statuses of the logged requests whose path ends with ``suffix``, once none is in flight
    (a request whose connection the emulator cut is logged only when it ends)."""
    emu.settle()
    return [r.status for r in emu.requests if r.path.endswith(suffix)]
