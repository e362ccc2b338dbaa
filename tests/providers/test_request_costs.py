"""What each operation costs in Dataverse requests, measured from the emulator's request log.

The preflight (WhoAmI + the caller's roles) runs once per host process and connection; it is
paid up front here so the figures below are per operation.  Run with ``-s`` to see the table.
The bounds make a regression (an extra lookup per role, a chatty poll) fail the suite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.providers import ApplicationUser, Preflight, SecurityRole, SolutionImport, UserAccess
from tests.harness import Stack

from .conftest import BC_APP_ID, clear_log, dataverse_requests, describe, salesperson_oid
from .test_solution_import import package, sol_inputs

ROLE_ID = "8c8d4f51-a72b-e511-80d9-3863bb349780"


def _measure(emulator: Any, stack: Stack, cls: type, name: str, first: dict, second: dict,
             drift: Any) -> dict[str, list[str]]:
    costs: dict[str, list[str]] = {}
    clear_log(emulator)
    stack.up(cls, name, first)
    costs["create"] = describe(dataverse_requests(emulator))
    clear_log(emulator)
    assert stack.up(cls, name, first).op == "same"
    costs["no-op"] = describe(dataverse_requests(emulator))
    clear_log(emulator)
    assert stack.up(cls, name, second).op == "update"
    costs["update"] = describe(dataverse_requests(emulator))
    drift()
    clear_log(emulator)
    stack.refresh(name)
    costs["refresh"] = describe(dataverse_requests(emulator))
    return costs


def test_request_costs(emulator: Any, conn: dict, stack: Stack, tmp_path: Path, capsys: Any) -> None:
    clear_log(emulator)
    stack.up(Preflight, "preflight", {"connection": conn})
    table: dict[str, dict[str, list[str]]] = {"Preflight (once per process)": {
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
    table["UserAccess"] = _measure(
        emulator, stack, UserAccess, "access",
        {"connection": conn, "object_id": oid, "roles": ["Sales Manager", ROLE_ID]},
        {"connection": conn, "object_id": oid, "roles": ["Sales Manager", "System Customizer"]},
        lambda: emulator.dataverse.disassociate_role(uid, "6b1c2d3e-0000-4000-8000-00000000a104"))

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

    assert n("Preflight (once per process)", "create") == 2
    for resource in ("SecurityRole", "UserAccess", "ApplicationUser", "SolutionImport"):
        assert n(resource, "no-op") == 0, table[resource]["no-op"]
    assert n("SecurityRole", "create") <= 6 and n("SecurityRole", "update") <= 3
    assert n("SecurityRole", "refresh") == 2
    assert n("UserAccess", "create") <= 6 and n("UserAccess", "refresh") == 2
    assert n("ApplicationUser", "create") <= 7 and n("ApplicationUser", "refresh") == 2
    assert n("SolutionImport", "refresh") == 1
    assert n("SolutionImport", "create") <= 10
