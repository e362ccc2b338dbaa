"""The Resource / Args classes as the program uses them, under Pulumi's mock runtime.

Checks the type tokens, that every Args field reaches the engine as an input, that the
provider is serialized as a plain (non-secret) reference, and that outputs are attributes.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest

from infra.providers import (
    ApplicationUser, ApplicationUserArgs, DeployerCheck, DeployerCheckArgs, SecurityRole, SecurityRoleArgs,
    SolutionImport, SolutionImportArgs, UserRoleAssignment, UserRoleAssignmentArgs,
)

CONN = {"environment_url": "https://contoso.crm.dynamics.com", "tenant_id": "6b1c2d3e-0000-4000-8000-00000000a001"}


class Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.seen: list[Any] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        self.seen.append(args)
        outs = dict(args.inputs)
        outs.setdefault("role_id", "00000000-0000-0000-0000-0000000000aa")
        outs.setdefault("systemuser_id", "00000000-0000-0000-0000-0000000000bb")
        return f"{args.name}-id", outs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        return {}, []


@pytest.fixture
def mocks() -> Iterator[Mocks]:
    # pulumi.runtime.test runs on the thread's current event loop; another test's asyncio.run()
    # leaves the main thread without one, so each test here gets its own.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    m = Mocks()
    pulumi.runtime.set_mocks(m, project="bc-sales", stack="test", preview=False)
    yield m
    asyncio.set_event_loop(None)
    loop.close()


@pulumi.runtime.test
def test_resources_register_with_expected_tokens_and_inputs(mocks: Mocks) -> Any:
    role = SecurityRole("ia", SecurityRoleArgs(connection=CONN, name="Integration Administrator",
                                               role_id="8c8d4f51-a72b-e511-80d9-3863bb349780",
                                               privileges={"prvReadAccount": "Global"}))
    access = UserRoleAssignment("iu", UserRoleAssignmentArgs(connection=CONN, object_id="6b1c2d3e-0000-4000-8000-00000000e000",
                                             roles=[role.role_id], integration_user=True))
    check = DeployerCheck("pf", DeployerCheckArgs(connection=CONN))
    app_user = ApplicationUser("bc", ApplicationUserArgs(connection=CONN, application_id="6b1c2d3e-0000-4000-8000-00000000d003",
                                              roles=["Integration User"]))
    solution = SolutionImport("sol", SolutionImportArgs(connection=CONN, package_path="solution/standin",
                                             unique_name="x", version="1.0", managed=True, sha256="0" * 64))

    def verify(values: list[Any]) -> None:
        role_id, user_id = values[:2]
        assert role_id == "8c8d4f51-a72b-e511-80d9-3863bb349780"
        assert user_id == "00000000-0000-0000-0000-0000000000bb"
        tokens = sorted(a.typ for a in mocks.seen)
        assert tokens == sorted(f"pulumi-python:dynamic/dataverse:{n}" for n in
                                ("SecurityRole", "UserRoleAssignment", "DeployerCheck", "ApplicationUser", "SolutionImport"))
        for args in mocks.seen:
            provider = args.inputs["__provider"]
            assert isinstance(provider, str)  # not wrapped as a secret
            assert b"infra.providers." in base64.b64decode(provider)
        ua = next(a for a in mocks.seen if a.typ.endswith("UserRoleAssignment"))
        assert ua.inputs["integration_user"] is True and "wait_timeout_seconds" in ua.inputs
        assert ua.inputs["roles"] == ["8c8d4f51-a72b-e511-80d9-3863bb349780"]

    # Wait on every resource's id: the mock registers resources concurrently, so waiting on two
    # outputs alone let verify run before the others had reached new_resource.
    return pulumi.Output.all(role.role_id, access.systemuser_id,
                             check.id, app_user.id, solution.id).apply(verify)
