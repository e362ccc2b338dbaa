"""Retry classes, Retry-After, the ambiguous-outcome rule and the concurrency cap, via the emulator."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from emulator import FaultRule
from emulator.seed import ids
from infra.clients.dataverse import DataverseClient
from infra.clients.errors import AmbiguousOutcomeError, ThrottledError
from infra.clients.http import RetryPolicy

from .conftest import endpoints_for, secret_env, logged_statuses

BC_APP = ids.BUSINESS_CENTRAL_APP_ID
FAST = RetryPolicy(max_attempts=4, backoff_initial_s=0.05, backoff_max_s=0.2, jitter_s=0.02)


def client(conn, **kw) -> DataverseClient:
    return DataverseClient.for_connection(conn, env=secret_env(), **kw)


def test_429_retry_after_is_honoured_and_measured(emulator, conn) -> None:
    dv = client(conn)
    dv.whoami()  # sign in first so only the throttled call is timed
    emulator.faults.add(FaultRule(kind="429", path_regex="WhoAmI", retry_after=1, limit=1))
    started = time.monotonic()
    dv.whoami()
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 3.0  # at least Retry-After; the upper bound only catches a second wait
    assert len(dv.http.stats.waits) == 1 and 1.0 <= dv.http.stats.waits[0] <= 1.1
    assert logged_statuses(emulator, "/WhoAmI")[-2:] == [429, 200]


@pytest.mark.parametrize("kind", ["503", "reset", "cut"])
def test_transient_failures_on_reads_are_retried(emulator, conn, kind: str) -> None:
    dv = client(conn, retry=FAST)
    dv.whoami()
    emulator.faults.add(FaultRule(kind=kind, path_regex="WhoAmI", limit=2, retry_after=None))
    assert dv.whoami().user_id
    assert dv.http.stats.retries == 2


def test_throttled_error_after_attempt_cap(emulator, conn) -> None:
    dv = client(conn, retry=RetryPolicy(max_attempts=3, backoff_initial_s=0.01))
    dv.whoami()
    emulator.clear_log()
    emulator.faults.add(FaultRule(kind="429", path_regex="WhoAmI", retry_after=0))
    with pytest.raises(ThrottledError):
        dv.whoami()
    assert logged_statuses(emulator, "/WhoAmI") == [429, 429, 429]


def test_429_on_a_non_idempotent_create_is_retried(emulator, conn) -> None:
    dv = client(conn, retry=FAST)
    bu = dv.root_business_unit().business_unit_id
    emulator.faults.add(FaultRule(kind="429", method="POST", path_regex="systemusers", retry_after=0, limit=1))
    user = dv.create_application_user(BC_APP, bu)
    assert user.application_id == BC_APP and user.access_mode == 4
    assert len(dv.find_users_by_application_id(BC_APP)) == 1


@pytest.mark.parametrize(("kind", "phase"), [("reset", "after"), ("reset", "before"), ("503", "before")])
def test_unknown_outcome_of_a_non_idempotent_create_is_not_retried(emulator, conn, kind: str, phase: str) -> None:
    dv = client(conn, retry=FAST)
    bu = dv.root_business_unit().business_unit_id
    emulator.clear_log()
    emulator.faults.add(FaultRule(kind=kind, phase=phase, method="POST", path_regex="systemusers", retry_after=None))
    with pytest.raises(AmbiguousOutcomeError) as err:
        dv.create_application_user(BC_APP, bu)
    assert "not retried" in str(err.value)
    assert len(logged_statuses(emulator, "/systemusers")) == 1  # exactly one attempt reached the service
    emulator.faults.clear()
    created = dv.find_users_by_application_id(BC_APP)
    # "after": the service did the work and the answer was lost -- the caller must look, as here
    assert len(created) == (1 if phase == "after" else 0)


def test_concurrency_cap_under_100_parallel_calls(emulator_factory) -> None:
    emu = emulator_factory(latency_ms=20)
    conn = endpoints_for(emu)
    dv = DataverseClient.for_connection(conn, env=secret_env(), max_concurrency=8)
    dv.whoami()
    emu.clear_log()
    with ThreadPoolExecutor(max_workers=100) as pool:
        results = list(pool.map(lambda _: dv.whoami().user_id, range(100)))
    assert len(set(results)) == 1 and len(results) == 100
    seen = emu.counters()["max_in_flight"]
    assert 2 <= seen <= 8, seen
    assert dv.http.stats.max_in_flight <= 8
