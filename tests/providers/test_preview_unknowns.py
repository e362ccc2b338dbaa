"""Preview with values other resources have not produced yet (unknowns) must not fail.

In `pulumi preview` a UserRoleAssignment that lists a SecurityRole's ``role_id`` receives an unknown;
check() must accept it and diff() must report a (possible) change instead of crashing.
"""

from __future__ import annotations

from typing import Any

from pulumi.runtime import rpc

from devkit.harness import Stack
from infra.providers import SecurityRole, UserRoleAssignment

from .conftest import salesperson_oid


def test_unknown_role_id_in_preview(emulator: Any, conn: dict, stack: Stack) -> None:
    inputs = {"connection": conn, "object_id": salesperson_oid(4), "roles": ["Salesperson"]}
    stack.up(UserRoleAssignment, "s4", inputs)
    result = stack.host.check(UserRoleAssignment, "s4", stack.inputs("s4"),
                              {**inputs, "roles": ["Salesperson", rpc.UNKNOWN]})
    assert result.failures == []
    preview = stack.preview(UserRoleAssignment, "s4", {**inputs, "roles": ["Salesperson", rpc.UNKNOWN]})
    assert preview.op == "update"


def test_unknown_inputs_on_a_new_role(conn: dict, stack: Stack) -> None:
    result = stack.host.check(SecurityRole, "r", {}, {
        "connection": conn, "name": rpc.UNKNOWN, "role_id": rpc.UNKNOWN,
        "privileges": {"prvReadAccount": "Global"}})
    assert result.failures == []
