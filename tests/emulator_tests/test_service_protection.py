"""Dataverse service-protection limits (only on /api/data paths) and concurrency without errors."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from emulator import Emulator, ServiceProtection

from .helpers import LIMITED_SECRET, graph_headers, session, token


def _dataverse(emu: Emulator, app: str = "deployer", secret: str | None = None):
    kwargs = {"app": app, "secret": secret} if secret else {}
    h = {"Authorization": f"Bearer {token(emu, f'{emu.urls.environment_url}/.default', **kwargs)}"}
    return h, f"{emu.urls.environment_url}/api/data/v9.2/WhoAmI"


def test_request_limit_per_window(emulator_factory) -> None:
    emu = emulator_factory(service_protection=ServiceProtection(requests_per_window=5, window_s=300))
    http = session(emu)
    h, url = _dataverse(emu)
    statuses = [http.get(url, headers=h, timeout=5).status_code for _ in range(5)]
    assert 429 not in statuses
    resp = http.get(url, headers=h, timeout=5)
    assert resp.status_code == 429 and resp.json()["error"]["code"] == "0x80072322"
    assert 250 <= int(resp.headers["Retry-After"]) <= 300
    # Another caller has its own budget; Graph is not subject to Dataverse limits.
    other_h, _ = _dataverse(emu, "limited", LIMITED_SECRET)
    assert http.get(url, headers=other_h, timeout=5).status_code != 429
    gh = graph_headers(emu)
    assert all(http.get(f"{emu.urls.graph_url}/v1.0/users/sales01@contoso.example", headers=gh, timeout=5).status_code == 200
               for _ in range(8))
    assert emu.counters()["other"]["throttled:0x80072322"] == 1


def test_execution_time_limit(emulator_factory) -> None:
    # Each request costs at least its latency; a first request over budget would need > 500 ms.
    emu = emulator_factory(latency_ms=300, service_protection=ServiceProtection(execution_ms_per_window=500))
    http = session(emu)
    h, url = _dataverse(emu)
    statuses = [http.get(url, headers=h, timeout=5).status_code for _ in range(3)]
    assert 429 not in statuses[:2] and statuses[2] == 429
    assert http.get(url, headers=h, timeout=5).json()["error"]["code"] == "0x80072321"


def _fire_concurrently(emu: Emulator, n: int, url: str, headers: dict[str, str]) -> list[requests.Response]:
    """n threads with warmed-up connections fire one request each at the same moment."""
    barrier = threading.Barrier(n)
    admin = f"{emu.urls.authority_host}/_emulator/counters"

    def one(_: int) -> requests.Response:
        http = session(emu)
        http.get(admin, timeout=10)  # TLS handshake before the barrier
        barrier.wait(timeout=30)
        return http.get(url, headers=headers, timeout=30)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def test_concurrency_limit_gives_0x80072326(emulator_factory) -> None:
    emu = emulator_factory(latency_ms=1500, service_protection=ServiceProtection(max_concurrent=4))
    h, url = _dataverse(emu)
    responses = _fire_concurrently(emu, 10, url, h)
    throttled = [r for r in responses if r.status_code == 429]
    assert len(throttled) == 6
    assert {r.json()["error"]["code"] for r in throttled} == {"0x80072326"}
    assert all(r.headers.get("Retry-After") for r in throttled)


def test_52_concurrent_requests_without_errors(emulator_factory) -> None:
    emu = emulator_factory(latency_ms=1000, service_protection=True)
    h, url = _dataverse(emu)
    emu.clear_log()
    responses = _fire_concurrently(emu, 52, url, h)
    assert [r.status_code for r in responses if r.status_code >= 400] == []
    assert emu.counters()["max_in_flight"] == 52


def test_throughput(emulator: Emulator) -> None:
    """Requests/second over HTTPS with 8 client threads on keep-alive connections (bounded: ~1.5 s)."""
    h = graph_headers(emulator)
    url = f"{emulator.urls.graph_url}/v1.0/users/sales01@contoso.example?$select=id,usageLocation"
    deadline = time.perf_counter() + 1.5
    counts: list[int] = []

    def worker(_: int) -> int:
        http = session(emulator)
        done = 0
        while time.perf_counter() < deadline and done < 5000:
            assert http.get(url, headers=h, timeout=10).status_code == 200
            done += 1
        return done

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = list(pool.map(worker, range(8)))
    elapsed = time.perf_counter() - start
    rps = sum(counts) / elapsed
    print(f"\nemulator throughput: {rps:.0f} requests/s (Graph GET user, 8 threads, {sum(counts)} requests)")
    assert rps > 100
