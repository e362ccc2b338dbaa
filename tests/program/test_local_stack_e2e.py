"""The local stack's Sales side, end to end: real providers in the SDK's provider host, the emulator.

The inputs are not written by hand: the local stack's config is loaded with the program's own
config model and turned into provider arguments by the program's own :func:`plan_sales` /
``*_args`` functions -- the same path ``infra/__main__.py`` takes, minus the engine.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from devkit.harness import ProviderHost, Stack
from infra.model.roles import load_roles
from infra.model.solution_package import read_package
from infra.program.config import PROJECT_ROOT, StackSettings
from infra.program.sales import (
    SalesPlan, access_args, application_user_args, plan_sales, deployer_check_args, role_args, solution_args,
)
from infra.providers.application_user import ApplicationUser
from infra.providers.deployer_check import DeployerCheck
from infra.providers.security_role import SecurityRole
from infra.providers.solution_import import SolutionImport
from infra.providers.user_role_assignment import UserRoleAssignment
from tests.program.conftest import DEPLOYER, emulator_endpoints
from tests.program.test_config import load


def local_plan(emulator: Any) -> tuple[StackSettings, SalesPlan]:
    settings = load("local", env=emulator_endpoints(emulator))
    plan = plan_sales(
        settings,
        read_package(settings.solution_file),
        load_roles(PROJECT_ROOT / "roles"),
        integration_user_object_id=settings.integration_user.object_id,
        salespeople_object_ids={p.user_principal_name: p.object_id for p in settings.salespeople},
        application_client_id=settings.application_client_id,
    )
    return settings, plan


def inputs(args: Any) -> dict[str, Any]:
    return dataclasses.asdict(args)


def deploy(stack: Stack, plan: SalesPlan) -> dict[str, str]:
    """``pulumi up`` of the Sales side in the program's order; returns op per resource."""
    ops = {"deployer-check": stack.up(DeployerCheck, "deployer-check", inputs(deployer_check_args(plan))).op,
           "solution": stack.up(SolutionImport, "solution", inputs(solution_args(plan))).op}
    role_ids: dict[str, str] = {}
    for role in plan.roles:
        step = stack.up(SecurityRole, role.resource_name, inputs(role_args(plan, role)))
        role_ids[role.key] = step.outputs["role_id"]
        ops[role.resource_name] = step.op
    for access in plan.accesses:
        ops[access.resource_name] = stack.up(
            UserRoleAssignment, access.resource_name, inputs(access_args(plan, access, role_ids))).op
    assert plan.application_user is not None
    ops["application-user"] = stack.up(
        ApplicationUser, plan.application_user.resource_name, inputs(application_user_args(plan, role_ids))).op
    return ops


@pytest.fixture
def host() -> Any:
    with ProviderHost(DEPLOYER) as h:
        yield h


def test_local_stack_up_twice_against_the_emulator(emulator: Any, host: ProviderHost) -> None:
    settings, plan = local_plan(emulator)
    stack = Stack(host)
    first = deploy(stack, plan)
    assert set(first.values()) == {"create"}, first
    dv = emulator.dataverse

    # solution installed
    installed = [s for s in dv.solutions.values() if s["uniquename"] == plan.solution["unique_name"]]
    assert installed and installed[0].get("installedon")
    # roles hold exactly the privileges of roles/*.yaml
    for role in plan.roles:
        role_id = stack.outputs(role.resource_name)["role_id"]
        held = {p["PrivilegeName"]: p["Depth"] for p in dv.role_privileges(role_id)}
        assert held == dict(role.privileges), role.name
    role_ids = {r.name: stack.outputs(r.resource_name)["role_id"] for r in plan.roles}

    def user(object_id: str) -> dict[str, Any]:
        return next(u for u in dv.systemusers.values() if u.get("azureactivedirectoryobjectid") == object_id)

    def held_root_roles(user_id: str) -> set[str]:
        out = set()
        for rid in dv.user_roles[user_id]:
            role = dv.roles[rid]
            out.add(role.get("_parentrootroleid_value") or rid)
        return out

    integ = user(str(settings.integration_user.object_id))
    assert integ["accessmode"] == 4 and integ["isintegrationuser"] is True
    assert {role_ids["Integration Administrator"], role_ids["Integration User"]} <= held_root_roles(integ["systemuserid"])
    for person in settings.salespeople:
        su = user(str(person.object_id))
        names = {dv.roles[r]["name"] for r in dv.user_roles[su["systemuserid"]]}
        assert set(person.roles) | {"Product Availability User"} <= names, person.user_principal_name
    app_users = [u for u in dv.systemusers.values() if u.get("applicationid") == settings.application_client_id]
    assert len(app_users) == 1
    assert {role_ids["Integration Administrator"], role_ids["Integration User"]} <= held_root_roles(
        app_users[0]["systemuserid"])

    # a second `pulumi up` with the same config changes nothing
    emulator.clear_log()
    second = deploy(stack, plan)
    assert set(second.values()) == {"same"}, second
    writes = [r for r in emulator.requests if r.path.startswith("/api/data/") and r.method != "GET"]
    assert writes == [], [f"{r.method} {r.path}" for r in writes]
