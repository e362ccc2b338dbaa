"""Fixtures for provider tests: an emulator, the provider host with the deployer's credentials,
and helpers that read the emulator's request log.

The host is one ``python -m pulumi.dynamic`` process per module (starting it costs ~0.5 s);
each test still gets a fresh emulator on a new port, so the per-process caches of the host
(deployer check, clients, tokens) never carry state from one test into the next: tests/conftest.py
never serves two emulators of one test process on the same port.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from devkit.harness import ProviderHost, Stack
from emulator.dataverse import solutions
from emulator.seed import ids
from infra.clients.endpoints import EnvironmentEndpoints

TENANT_ID = ids.TENANT_ID
DEPLOYER = {"AZURE_TENANT_ID": TENANT_ID, "AZURE_CLIENT_ID": ids.DEPLOYER_CLIENT_ID,
            "AZURE_CLIENT_SECRET": ids.DEPLOYER_SECRET}
LIMITED = {"AZURE_TENANT_ID": TENANT_ID, "AZURE_CLIENT_ID": ids.LIMITED_CLIENT_ID,
           "AZURE_CLIENT_SECRET": ids.LIMITED_SECRET}
BC_APP_ID = ids.BUSINESS_CENTRAL_APP_ID
INTEGRATION_USER_OID = ids.INTEGRATION_USER_OBJECT_ID
NEW_HIRE_OID = ids.NEW_HIRE_OBJECT_ID
SYSADMIN_TEMPLATE = ids.SYSTEM_ADMINISTRATOR_TEMPLATE_ID
salesperson_oid = ids.salesperson_object_id  # sales<nn>@contoso.example, n = 1..30


def endpoints_for(emu: Any) -> dict[str, Any]:
    u = emu.urls
    return EnvironmentEndpoints(environment_url=u.environment_url, tenant_id=u.tenant_id,
                      authority_host=u.authority_host, graph_url=u.graph_url,
                      ca_bundle=u.ca_bundle, power_platform_url=u.power_platform_url).to_dict()


def end_when_followed(emu: Any, op: dict[str, Any], *, then_import_seconds: float | None = None) -> None:
    """End the running async operation ``op`` as soon as a client reads it
    (``GET asyncoperations(<id>)``): that read still answers "in progress", the next one "done".

    A fixed import duration races the provider host, which is slow to start on a loaded machine:
    if the import has already ended when the provider arrives, the test exercises another case.
    ``then_import_seconds`` sets how long imports started after this one take.
    """
    def on_request(record: Any) -> None:
        if record.method == "GET" and op["asyncoperationid"] in record.path:
            stop()
            if then_import_seconds is not None:
                emu.settings.import_seconds = then_import_seconds
            solutions.end_now(emu.dataverse, op["asyncoperationid"])

    stop = emu.on_request(on_request)


def dataverse_requests(emu: Any) -> list[Any]:
    """Requests to the Dataverse Web API (token requests are Entra's, not counted)."""
    emu.settle()  # a request still running (one a client gave up on) is logged when it ends
    return [r for r in emu.requests if r.path.startswith("/api/data/")]


def writes(emu: Any) -> list[Any]:
    return [r for r in dataverse_requests(emu) if r.method in ("POST", "PATCH", "PUT", "DELETE")]


def describe(records: list[Any]) -> list[str]:
    return [f"{r.method} {r.path.split('/api/data/v9.2/')[-1]}" for r in records]


@pytest.fixture(scope="module")
def host() -> Iterator[ProviderHost]:
    with ProviderHost(DEPLOYER) as h:
        yield h


@pytest.fixture
def conn(emulator: Any) -> dict[str, Any]:
    return endpoints_for(emulator)


@pytest.fixture
def stack(host: ProviderHost) -> Stack:
    if host.proc is None or host.proc.poll() is not None:
        host.start()
    host.clear_log()
    return Stack(host)


@pytest.fixture
def fresh_host() -> Iterator[Callable[..., ProviderHost]]:
    """Hosts a test may kill and restart; all closed at teardown."""
    hosts: list[ProviderHost] = []

    def make(env: dict[str, str] | None = None) -> ProviderHost:
        h = ProviderHost(DEPLOYER if env is None else env)
        hosts.append(h)
        return h

    yield make
    for h in hosts:
        h.close()
