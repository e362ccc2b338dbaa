"""Fault-injection soak: whole lifecycles converge while 10 % of Dataverse requests fail.

Each run: create -> no-op -> change privileges and roles -> refresh -> delete, on a fresh emulator,
with 429 (Retry-After), 503, connection resets (before and after the service acted) and expired
tokens injected on a seeded 10 % of Dataverse requests. A failed step is re-run the way a person
re-runs ``pulumi up`` (at most 3 re-runs); every step must end converged, checked against the
emulator's tables.

Reproducibility: faults are drawn from RNGs seeded per run, and the soak drives one resource at a
time, so a seed replays the same request sequence (up to requests a provider itself issues in
parallel inside one operation).

Quick variant: in the normal run. Long variant (>= 200 runs): ``pytest -m soak tests/proof``.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

import pytest

from tests.proof.deployment import Deployment, add_soak_faults, dataverse_writes

FAULT_RATE = 0.10
QUICK_SEEDS = (11, 12)
LONG_RUNS = int(os.environ.get("SOAK_RUNS", "200"))


def lifecycle(emulator: Any, seed: int) -> dict[str, Any]:
    """One seeded lifecycle; returns figures for the report (re-runs, faults, statuses)."""
    expiry = add_soak_faults(emulator, FAULT_RATE, seed)
    dep = Deployment(emulator, salespeople=2)
    reruns: dict[str, int] = {}
    try:
        reruns["create"] = dep.attempt(dep.up_sequential)
        dep.assert_converged(dep.workload)

        # by start time, not list position: the emulator logs a request just after answering it
        mark = time.time()
        ops: dict[str, str] = {}
        reruns["noop"] = dep.attempt(lambda: ops.update(dep.up()))
        assert set(ops.values()) == {"same"}, f"no-op up changed something: {ops}"
        writes = dataverse_writes([r for r in emulator.requests if r.started >= mark])
        assert writes == [], f"no-op up wrote to Dataverse: {[(w.method, w.path, w.status, w.fault) for w in writes]}"

        changed = dep.changed_workload()
        reruns["change"] = dep.attempt(lambda: dep.up_sequential(changed))
        dep.assert_converged(changed)

        reruns["refresh"] = dep.attempt(dep.refresh)
        dep.assert_converged(changed)
        ops.clear()
        reruns["noop_after_refresh"] = dep.attempt(lambda: ops.update(dep.up(changed)))
        assert set(ops.values()) == {"same"}, f"refresh left drift behind: {ops}"

        dep.workload = changed
        reruns["delete"] = dep.attempt(dep.destroy)
        dep.assert_cleaned_up()
    finally:
        dep.close()
    statuses: dict[str, int] = {}
    for r in emulator.requests:
        statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
    fired = {f"{r.kind}/{r.phase}": r.fired for r in emulator.faults.rules}
    fired["expired-token"] = expiry.fired
    return {"reruns": reruns, "faults": fired, "errors": list(dep.errors), "statuses": statuses,
            "requests": sum(statuses.values())}


def _clean(errors: list[str]) -> None:
    """Errors a person saw during the run end in a sentence, not in a Python exception name."""
    from tests.proof.test_bad_inputs import assert_user_facing

    for details in errors:
        assert_user_facing(details)


@pytest.mark.parametrize("seed", QUICK_SEEDS)
def test_soak_quick(emulator_factory: Callable[..., Any], seed: int) -> None:
    emulator = emulator_factory(import_seconds=0.2, token_lifetime_s=3600, fault_seed=seed)
    result = lifecycle(emulator, seed)
    assert sum(result["faults"].values()) > 0, "no fault fired: the soak proved nothing"
    if result["faults"]["expired-token"]:
        assert result["statuses"].get("401", 0) > 0, "tokens were invalidated but no request saw a 401"
    _clean(result["errors"])


@pytest.mark.soak
def test_soak_long(emulator_factory: Callable[..., Any]) -> None:
    """>= 200 seeded lifecycles; prints the fault and re-run totals."""
    totals: dict[str, int] = {}
    statuses: dict[str, int] = {}
    reruns = requests = 0
    t0 = time.time()
    failures: list[str] = []
    for i, seed in enumerate(range(1000, 1000 + LONG_RUNS), 1):
        emulator = emulator_factory(import_seconds=0.05, fault_seed=seed)
        try:
            result = lifecycle(emulator, seed)
            _clean(result["errors"])
        except AssertionError as exc:  # keep going: the report lists every failing seed
            failures.append(f"seed {seed}: {str(exc).splitlines()[0][:300]}")
            emulator.stop()
            continue
        for k, v in result["faults"].items():
            totals[k] = totals.get(k, 0) + v
        for k, v in result["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
        reruns += sum(result["reruns"].values())
        requests += result["requests"]
        emulator.stop()
        if i % 20 == 0:
            print(f"soak: {i} runs, {time.time() - t0:.0f} s", flush=True)
    print(f"\nsoak: {LONG_RUNS} runs in {time.time() - t0:.0f} s, {requests} requests, statuses {statuses}, "
          f"faults fired {totals}, step re-runs {reruns}, failed runs {len(failures)}")
    assert not failures, f"{len(failures)} of {LONG_RUNS} lifecycles did not converge:\n" + "\n".join(failures)
    assert LONG_RUNS >= 200 or os.environ.get("SOAK_RUNS"), "the long soak must run at least 200 lifecycles"
