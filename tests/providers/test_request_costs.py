"""What each operation costs in Dataverse requests, measured from the emulator's request log.

The deployer check (WhoAmI + the caller's roles) runs once per host process and connection; it is
paid up front here so the figures below are per operation.  Run with ``-s`` to see the table.
The bounds make a regression (an extra lookup per role, a chatty poll) fail the suite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devkit.harness import Stack
from emulator.seed import ids
from infra.providers import ApplicationUser, DeployerCheck, SecurityRole, SolutionImport, UserRoleAssignment

from .conftest import BC_APP_ID, dataverse_requests, describe, salesperson_oid
from .test_solution_import import package, sol_inputs

ROLE_ID = "8c8d4f51-a72b-e511-80d9-3863bb349780"


def _measure(emulator: Any, stack: Stack, cls: type, name: str, first: dict, second: dict,
             drift: Any) -> dict[str, list[str]]:
    costs: dict[str, list[str]] = {}
    emulator.clear_log()
    stack.up(cls, name, first)
    costs["create"] = describe(dataverse_requests(emulator))
    emulator.clear_log()
    assert stack.up(cls, name, first).op == "same"
    costs["no-op"] = describe(dataverse_requests(emulator))
    emulator.clear_log()
    assert stack.up(cls, name, second).op == "update"
    costs["update"] = describe(dataverse_requests(emulator))
    drift()
    emulator.clear_log()
    stack.refresh(name)
    costs["refresh"] = describe(dataverse_requests(emulator))
    return costs


def test_request_costs(emulator: Any, conn: dict, stack: Stack, tmp_path: Path, capsys: Any) -> None:
    emulator.clear_log()
    stack.up(DeployerCheck, "deployer-check", {"connection": conn})
    table: dict[str, dict[str, list[str]]] = {"DeployerCheck (once per process)": {
        "create": describe(dataverse_requests(emulator))}}

    privs = {"prvReadAccount": "Global", "prvWriteAccount": "Global", "prvReadContact": "Local"}
    table["SecurityRole"] = _measure(
        emulator, stack, SecurityRole, "role",
        {"connection": conn, "name": "Integration Administrator", "role_id": ROLE_ID, "privileges": privs},
        {"connection": conn, "name": "Integration Administrator", "role_id": ROLE_ID,
         "privileges": {**privs, "prvCreateContact": "Basic"}},
        lambda: emulator.dataverse.set_role_privileges(ROLE_ID, {"prvReadAccount": "Basic"}))

    oid = salesperson_oid(5)
    uid = next(u["systemuserid"] for u in emulator.dataverse.systemusers.values()
               if u.get("azureactivedirectoryobjectid") == oid)
    table["UserRoleAssignment"] = _measure(
        emulator, stack, UserRoleAssignment, "access",
        {"connection": conn, "object_id": oid, "roles": ["Sales Manager", ROLE_ID]},
        {"connection": conn, "object_id": oid, "roles": ["Sales Manager", "System Customizer"]},
        lambda: emulator.dataverse.disassociate_role(uid, ids.SALES_MANAGER_ROLE_ID))

    table["ApplicationUser"] = _measure(
        emulator, stack, ApplicationUser, "app",
        {"connection": conn, "application_id": BC_APP_ID, "roles": ["Salesperson"]},
        {"connection": conn, "application_id": BC_APP_ID, "roles": ["Salesperson", "Sales Manager"]},
        lambda: None)

    emulator.settings.import_seconds = 0.2
    table["SolutionImport"] = _measure(
        emulator, stack, SolutionImport, "sol",
        sol_inputs(conn, package(tmp_path, "1.0.0.0")), sol_inputs(conn, package(tmp_path, "1.1.0.0")),
        lambda: None)

    with capsys.disabled():
        print("\nDataverse requests per operation (emulator request log):")
        for resource, ops in table.items():
            print(f"  {resource}: " + ", ".join(f"{op} {len(reqs)}" for op, reqs in ops.items()))
            for op, reqs in ops.items():
                print(f"      {op}: {'; '.join(reqs) or '-'}")

    def n(resource: str, op: str) -> int:
        return len(table[resource][op])

    # Exact counts (before this rework: DeployerCheck 2, SecurityRole 6/3/2, UserRoleAssignment 5/6/2,
    # ApplicationUser 5/5/2, SolutionImport 7/7/1 for create/update/refresh).
    assert n("DeployerCheck (once per process)", "create") == 3  # WhoAmI -> roles, root BU alongside
    for resource in ("SecurityRole", "UserRoleAssignment", "ApplicationUser", "SolutionImport"):
        assert n(resource, "no-op") == 0, table[resource]["no-op"]
        assert n(resource, "refresh") == 1, table[resource]["refresh"]
    assert table["SecurityRole"]["refresh"] == ["POST $batch"]  # roles(<id>) + RetrieveRolePrivilegesRole
    # role absent: catalog ‖ by id, by name, POST roles, ReplacePrivilegesRole
    assert n("SecurityRole", "create") == 5 and n("SecurityRole", "update") == 3
    # user with roles ($expand) ‖ the roles not cached yet (one query), one $batch of grants
    assert table["UserRoleAssignment"]["create"] == ["GET systemusers", "GET roles", "POST $batch"] or \
        sorted(table["UserRoleAssignment"]["create"]) == ["GET roles", "GET systemusers", "POST $batch"]
    # user with roles, the one uncached name, one change set adding and removing
    assert n("UserRoleAssignment", "update") == 3 and table["UserRoleAssignment"]["update"][-1] == "POST $batch"
    # roles lookup ‖ find by application id ($expand), create, grant -- the new user is not re-read
    assert n("ApplicationUser", "create") == 4 and n("ApplicationUser", "update") == 2
    assert not any("/systemuserroles_association" == r[-len("/systemuserroles_association"):]
                   for r in table["ApplicationUser"]["create"] if r.startswith("GET"))
    # find, stage, start (no list of running operations), polls (0.2 s import: 1-2), find again
    assert 5 <= n("SolutionImport", "create") <= 6 and "GET asyncoperations" not in table["SolutionImport"]["create"]
    assert 5 <= n("SolutionImport", "update") <= 6


def test_second_user_of_the_same_roles_costs_two_requests(emulator: Any, conn: dict, stack: Stack) -> None:
    """Role names and ids are resolved once per host process: the next user costs its own
    lookup ($expand) and its grants only; a user already holding everything costs one."""
    stack.up(DeployerCheck, "deployer-check", {"connection": conn})
    roles = ["Sales Manager", "System Customizer"]
    stack.up(UserRoleAssignment, "first", {"connection": conn, "object_id": salesperson_oid(11), "roles": roles})
    emulator.clear_log()
    stack.up(UserRoleAssignment, "second", {"connection": conn, "object_id": salesperson_oid(12), "roles": roles})
    assert describe(dataverse_requests(emulator)) == ["GET systemusers", "POST $batch"]
    # sales01..10 hold Salesperson in the seed: once the name is known, one request each.
    stack.up(UserRoleAssignment, "held1", {"connection": conn, "object_id": salesperson_oid(1), "roles": ["Salesperson"]})
    emulator.clear_log()
    stack.up(UserRoleAssignment, "held2", {"connection": conn, "object_id": salesperson_oid(2), "roles": ["Salesperson"]})
    assert describe(dataverse_requests(emulator)) == ["GET systemusers"]
