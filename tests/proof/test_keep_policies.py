"""Delete takes away only what the stack added: assignments a user held before stay.

The default seed gives salespeople the Salesperson role; RW-1 declares it for them too (the
program's default). ``pulumi destroy`` must leave them with it -- otherwise tearing down the
integration silently takes away people's everyday access ("nothing lost").
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

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


@pytest.mark.xfail(strict=True, reason="FOUND 2026-11-25: after a failed update, UserAccess treats the role it had "
                   "just granted as held before the stack (not in managed_role_ids), so destroy leaves it behind")
def test_update_interrupted_after_a_grant_then_destroy_leaves_nothing(emulator_factory: Callable[..., Any]) -> None:
    """An update that granted a role and then failed is re-run; destroy must still remove that role.

    The soak found this: after the failed attempt the role the provider itself granted looked like
    one the user "held before", so the re-run did not manage it and destroy left it behind.
    """
    from tests.emulator import FaultRule
    from tests.harness.host import ProviderError

    emulator = emulator_factory(import_seconds=0.05)
    dep = Deployment(emulator, salespeople=1)
    try:
        dep.up()
        changed = dep.changed_workload()  # sales01: Product Availability User -> Integration User
        pau = dep.stack.outputs("role-product-availability-user")["role_id"]
        emulator.faults.add(FaultRule(kind="429", retry_after=0, method="DELETE", path_regex=f"systemuserroles_association\\({pau}"))
        try:
            dep.up_sequential(changed)
        except ProviderError:
            pass
        else:
            raise AssertionError("the injected 429s did not make the update fail; the test proves nothing")
        emulator.faults.clear()
        dep.up_sequential(changed)
        dep.assert_converged(changed)
        dep.workload = changed
        dep.destroy()
        dep.assert_cleaned_up()
    finally:
        dep.close()
