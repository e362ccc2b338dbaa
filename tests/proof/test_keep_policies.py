"""Delete takes away only what the stack added: assignments a user held before stay.

The default seed gives salespeople the Salesperson role; RW-1 declares it for them too (the
program's default). ``pulumi destroy`` must leave them with it -- otherwise tearing down the
integration silently takes away people's everyday access ("nothing lost").
"""

from __future__ import annotations

from typing import Any, Callable

from tests.proof.deployment import Deployment


def test_destroy_leaves_nothing_of_ours_behind(emulator_factory: Callable[..., Any]) -> None:
    emulator = emulator_factory(import_seconds=0.05)
    dep = Deployment(emulator, salespeople=2)
    try:
        dep.up()
        dep.assert_converged(dep.workload)
        dep.destroy()
        dep.assert_cleaned_up(nothing_lost=False)
    finally:
        dep.close()


def test_destroy_keeps_assignments_held_before_the_stack(emulator_factory: Callable[..., Any]) -> None:
    emulator = emulator_factory(import_seconds=0.05)
    dep = Deployment(emulator, salespeople=2)
    try:
        dep.up()
        dep.destroy()
        dep.assert_cleaned_up(nothing_lost=True)
    finally:
        dep.close()
