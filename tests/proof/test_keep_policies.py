"""Delete takes away only what the stack added: assignments a user held before stay.

The default seed gives salespeople the Salesperson role; RW-1 declares it for them too (the
program's default). ``pulumi destroy`` must leave them with it -- otherwise tearing down the
integration silently takes away people's everyday access ("nothing lost").
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from devkit.workload import salesperson_oid
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


def test_update_interrupted_after_a_grant_then_destroy_leaves_nothing(emulator_factory: Callable[..., Any]) -> None:
    """An update that granted a role and then failed is re-run; destroy must still remove that role.

    The soak found this (fixed): after the failed attempt the role the provider itself granted
    looked like one the user "held before", so the re-run did not manage it and destroy left it
    behind.  Ownership is now decided by the roles held at create (``preexisting_role_ids``).

    The failed attempt is reproduced exactly as the provider finds it afterwards: the engine kept
    the old state (an update that fails records nothing) while the grant reached Dataverse.
    (Grants go in one atomic, retried ``$batch``, so only a crash of the host between the answer
    and the end of the update leaves this situation; a kill cannot be timed reliably there.)
    """
    emulator = emulator_factory(import_seconds=0.05)
    dep = Deployment(emulator, salespeople=1)
    try:
        dep.up()
        changed = dep.changed_workload()  # sales01: Product Availability User -> Integration User
        iu_root = dep.stack.outputs("role-integration-user")["role_id"]
        user = dep.user_id(salesperson_oid(1))
        assert iu_root not in dep.store.user_role_ids(user)
        dep.store.associate_role(user, iu_root)  # the failed update's grant, state unchanged

        dep.up_sequential(changed)
        dep.assert_converged(changed)
        access = dep.stack.outputs("access-sales01")
        assert iu_root in access["managed_role_ids"], access
        dep.workload = changed
        dep.destroy()
        dep.assert_cleaned_up()
        assert iu_root not in dep.store.user_role_ids(user)
    finally:
        dep.close()
