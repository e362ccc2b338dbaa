"""solutionSource business-central through the provider host against the emulator.

Business Central's assisted setup imports the integration solution itself; the stack then imports
nothing and requires it installed before any role work.  "Business Central's import" is played by
a SolutionImport of a package named like Microsoft's (MicrosoftDynamicsNavIntegration) -- the
same requests Business Central's platform helper makes -- and the program's plan then runs with
solutionSource business-central: solution present, absent, too old.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from devkit.harness import ProviderError, Stack
from devkit.harness.stack import CheckFailed
from infra import facts
from infra.model.roles import load_roles
from infra.model.solution_package import read_package
from infra.program.config import PROJECT_ROOT
from infra.program.sales import (
    SalesPlan, access_args, plan_sales, deployer_check_args, role_args, solution_requirement_args,
)
from infra.providers import DeployerCheck, SecurityRole, SolutionImport, SolutionRequirement, UserRoleAssignment
from tests.program.conftest import emulator_endpoints
from tests.program.packages import vendor_like_zip
from tests.program.test_config import load

from .conftest import writes

BC = {"solutionSource": "business-central", "solutionPath": None}


def inputs(args: Any) -> dict[str, Any]:
    return dataclasses.asdict(args)


def bc_plan(emulator: Any, **overrides: Any) -> SalesPlan:
    settings = load("local", {**BC, **overrides}, env=emulator_endpoints(emulator))
    assert settings.solution_file is None
    return plan_sales(settings, None, load_roles(PROJECT_ROOT / "roles"),
                      integration_user_object_id=settings.integration_user.object_id,
                      salespeople_object_ids={p.user_principal_name: p.object_id for p in settings.salespeople},
                      application_client_id=settings.application_client_id)


def business_central_imports(stack: Stack, conn: dict[str, Any], tmp_path: Path, version: str) -> None:
    """What Business Central's 'Set up a connection to Dynamics 365 Sales' does to the environment."""
    package = read_package(vendor_like_zip(tmp_path / f"bc-{version}.zip", version=version))
    stack.up(SolutionImport, "business-central-import", {
        "connection": conn, "package_path": str(package.path), "unique_name": package.unique_name,
        "version": package.version, "managed": package.managed, "sha256": package.sha256, "timeout_seconds": 60})


def test_solution_present_roles_are_adopted_by_business_centrals_ids(emulator: Any, stack: Stack, conn: dict,
                                                                     tmp_path: Path) -> None:
    business_central_imports(stack, conn, tmp_path, "9.0.0.1")
    plan = bc_plan(emulator, solutionMinimumVersion="9.0")
    assert plan.solution == {"unique_name": facts.SALES_INTEGRATION_SOLUTION, "minimum_version": "9.0",
                             "require_managed": False}
    emulator.clear_log()
    stack.up(DeployerCheck, "deployer-check", inputs(deployer_check_args(plan)))
    step = stack.up(SolutionRequirement, "solution", inputs(solution_requirement_args(plan)))
    assert step.op == "create"
    assert step.outputs["installed_version"] == "9.0.0.1" and step.outputs["managed"] is True
    assert writes(emulator) == []  # nothing imported, nothing changed
    role_ids = {}
    for role in plan.roles:
        out = stack.up(SecurityRole, role.resource_name,
                       inputs(role_args(plan, role, step.outputs["installed_version"]))).outputs
        role_ids[role.key] = out["role_id"]
        held = {p["PrivilegeName"]: p["Depth"] for p in emulator.dataverse.role_privileges(out["role_id"])}
        assert held == dict(role.privileges), role.name  # set to the role files
    assert role_ids["integration-administrator"] == facts.INTEGRATION_ADMINISTRATOR_ROLE_ID
    assert role_ids["integration-user"] == facts.INTEGRATION_USER_ROLE_ID
    assert stack.outputs("role-integration-user")["adopted"] is True  # Business Central's role, adopted
    access = plan.accesses[0]
    assert stack.up(UserRoleAssignment, access.resource_name, inputs(access_args(plan, access, role_ids))).op == "create"
    # a second run: no change, no write; destroying the requirement leaves the solution installed
    emulator.clear_log()
    assert stack.up(SolutionRequirement, "solution", inputs(solution_requirement_args(plan))).op == "same"
    assert writes(emulator) == []
    stack.destroy("solution")
    assert any(s["uniquename"] == facts.SALES_INTEGRATION_SOLUTION for s in emulator.dataverse.solutions.values())


def test_solution_absent_fails_before_any_role_work_with_what_to_do(emulator: Any, stack: Stack) -> None:
    plan = bc_plan(emulator)
    emulator.clear_log()
    with pytest.raises(CheckFailed) as err:   # refused by Check: already at preview
        stack.preview(SolutionRequirement, "solution", inputs(solution_requirement_args(plan)))
    message = str(err.value)
    assert f"{facts.SALES_INTEGRATION_SOLUTION} is not installed" in message
    assert "Set up a connection to Dynamics 365 Sales" in message and "Redeploy Integration Solution" in message
    assert "solutionSource: package" in message
    assert writes(emulator) == []
    assert "solution" not in stack.state


def test_solution_too_old_fails_with_what_to_do(emulator: Any, stack: Stack, conn: dict, tmp_path: Path) -> None:
    business_central_imports(stack, conn, tmp_path, "9.0.0.1")
    plan = bc_plan(emulator, solutionMinimumVersion="9.1.0.0")
    emulator.clear_log()
    with pytest.raises(CheckFailed) as err:
        stack.up(SolutionRequirement, "solution", inputs(solution_requirement_args(plan)))
    assert "9.0.0.1 is installed" in str(err.value)
    assert "older than solutionMinimumVersion 9.1.0.0" in str(err.value)
    assert "Redeploy Integration Solution" in str(err.value)
    assert writes(emulator) == []
    # Business Central redeploys a newer solution: the same stack now goes through
    business_central_imports(stack, conn, tmp_path, "9.1.0.3")
    step = stack.up(SolutionRequirement, "solution", inputs(solution_requirement_args(plan)))
    assert step.outputs["installed_version"] == "9.1.0.3"


def test_managed_required_refuses_an_unmanaged_copy(emulator: Any, stack: Stack, conn: dict, tmp_path: Path) -> None:
    package = read_package(vendor_like_zip(tmp_path / "unmanaged.zip", managed=False))
    stack.up(SolutionImport, "someone-else", {
        "connection": conn, "package_path": str(package.path), "unique_name": package.unique_name,
        "version": package.version, "managed": False, "sha256": package.sha256, "timeout_seconds": 60})
    plan = bc_plan(emulator, allowUnmanagedSolution=False)
    assert plan.solution["require_managed"] is True
    with pytest.raises(CheckFailed) as err:
        stack.up(SolutionRequirement, "solution", inputs(solution_requirement_args(plan)))
    assert "installed unmanaged" in str(err.value)


def test_check_refuses_a_bad_minimum_version(stack: Stack, conn: dict) -> None:
    result = stack.host.check(SolutionRequirement, "solution", {},
                              {"connection": conn, "unique_name": facts.SALES_INTEGRATION_SOLUTION,
                               "minimum_version": "nine", "require_managed": False})
    assert "minimum_version" in dict(result.failures)


def test_a_redeployed_solution_makes_the_roles_reapply_their_files(emulator: Any, stack: Stack, conn: dict,
                                                                   tmp_path: Path) -> None:
    """Business Central's *Redeploy Integration Solution* upgrades the solution and resets the roles
    it ships; the next ``up`` (no refresh) sees the new version in Check and re-applies the files."""
    business_central_imports(stack, conn, tmp_path, "9.0.0.1")
    plan = bc_plan(emulator)
    req = stack.up(SolutionRequirement, "solution", inputs(solution_requirement_args(plan)))
    role = next(r for r in plan.roles if r.key == "integration-user")
    stack.up(SecurityRole, role.resource_name, inputs(role_args(plan, role, req.outputs["installed_version"])))

    business_central_imports(stack, conn, tmp_path, "9.1.0.0")       # resets the role to the package's
    dv = emulator.dataverse
    reset = {p["PrivilegeName"]: p["Depth"] for p in dv.role_privileges(facts.INTEGRATION_USER_ROLE_ID)}
    assert reset != dict(role.privileges)

    req = stack.up(SolutionRequirement, "solution", inputs(solution_requirement_args(plan)))
    assert req.op == "update" and req.outputs["installed_version"] == "9.1.0.0"
    step = stack.up(SecurityRole, role.resource_name, inputs(role_args(plan, role, req.outputs["installed_version"])))
    assert step.op == "update"
    held = {p["PrivilegeName"]: p["Depth"] for p in dv.role_privileges(facts.INTEGRATION_USER_ROLE_ID)}
    assert held == dict(role.privileges)
    # and then nothing more to do
    assert stack.up(SolutionRequirement, "solution", inputs(solution_requirement_args(plan))).op == "same"
