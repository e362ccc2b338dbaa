"""Crash consistency of a whole RW-1-like graph: kill the provider host after request k, for every k.

A clean ``up`` on a fresh emulator counts the N Dataverse requests the graph needs. Then, for each
k in 1..N, on a fresh emulator: ``up`` again and SIGKILL the provider host the moment the emulator
has answered its k-th Dataverse request (so the host may or may not have seen the answer). What
completed before the kill stays in state, as in the engine; interrupted creates are lost from
state, as the engine drops pending creates. A second ``up`` with a new host must converge: every
resource created, nothing duplicated (roles, assignments, application user).

The normal run interrupts at every third boundary of a small graph (deployer check, solution, three
roles, integration user, application user); ``-m soak`` covers every boundary of it, and every
boundary three times over with three salespeople
(salespeople run concurrently, so each repeat meets the boundaries in another order). The
per-provider variants (every boundary of one resource's create) are in
tests/providers/test_crash_safety.py.
"""

from __future__ import annotations

import os
import signal
from typing import Any, Callable

import pytest

from devkit.harness.host import ProviderError
from tests.proof.deployment import DATAVERSE, Deployment


class KillAfter:
    """Emulator hook: SIGKILL ``pid_of()`` as the k-th Dataverse response is sent."""

    def __init__(self, emulator: Any, k: int, pid_of: Callable[[], int]) -> None:
        self.k, self.seen, self.fired = k, 0, False

        def on_request(record: Any) -> None:
            if record.path.startswith(DATAVERSE) and not self.fired:
                self.seen += 1
                if self.seen == self.k:
                    self.fired = True
                    os.kill(pid_of(), signal.SIGKILL)

        self.remove = emulator.on_request(on_request)


def _count_requests(emulator: Any, salespeople: int) -> int:
    emulator.reset()
    dep = Deployment(emulator, salespeople=salespeople)
    try:
        emulator.clear_log()
        dep.up()
        return sum(1 for r in emulator.requests if r.path.startswith(DATAVERSE))
    finally:
        dep.close()


def crash_and_converge(emulator: Any, k: int, salespeople: int) -> bool:
    """Returns whether the kill happened (k within this run's request count)."""
    emulator.reset()
    dep = Deployment(emulator, salespeople=salespeople)
    hook = KillAfter(emulator, k, lambda: dep.host.proc.pid)  # type: ignore[union-attr]
    try:
        try:
            dep.up()
        except ProviderError:
            pass  # the host died under an operation: that is the point
        hook.remove()
        killed = hook.fired
        # The killed host's requests still in flight run to their end, as they would in Dataverse;
        # the rerun starts after them (it comes minutes later in real life, not milliseconds).
        emulator.settle()
        dep.restart_host()
        dep.attempt(dep.up, attempts=2)
        dep.assert_converged(dep.workload)
        ops = dep.up()
        assert set(ops.values()) == {"same"}, f"k={k}: not converged after the re-run: {ops}"
        return killed
    finally:
        hook.remove()
        dep.close()


def _crash_run(emulator: Any, salespeople: int, stride: int) -> None:
    n = _count_requests(emulator, salespeople=salespeople)
    assert n > 10, f"suspiciously few requests for the graph: {n}"
    wanted = range(1, n + 1, stride)
    killed = [k for k in wanted if crash_and_converge(emulator, k, salespeople=salespeople)]
    # Request order varies with concurrency, but nearly every chosen boundary must have been hit.
    assert len(killed) >= len(wanted) - 1, f"only {len(killed)} of {len(wanted)} boundaries interrupted"


def test_crash_after_every_third_request(emulator_factory: Callable[..., Any]) -> None:
    """Normal run: boundaries 1, 4, 7, ... (a new host costs ~1 s; all of them: -m soak)."""
    _crash_run(emulator_factory(import_seconds=0.05), salespeople=0, stride=3)


@pytest.mark.soak
def test_crash_after_every_request(emulator_factory: Callable[..., Any]) -> None:
    _crash_run(emulator_factory(import_seconds=0.05), salespeople=0, stride=1)


@pytest.mark.soak
def test_crash_after_every_request_larger_graph(emulator_factory: Callable[..., Any]) -> None:
    emulator = emulator_factory(import_seconds=0.05)
    for _repeat in range(3):
        _crash_run(emulator, salespeople=3, stride=1)
