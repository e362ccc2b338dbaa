"""DeployerCheck: refuse, with one clear message and no write, when the deployer lacks admin roles."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from devkit.harness import CheckFailed, ProviderError, ProviderHost, Stack
from emulator.seed import ids
from infra.providers import DeployerCheck, SecurityRole, UserRoleAssignment

from .conftest import LIMITED, dataverse_requests, describe, salesperson_oid, writes

DEPLOYER_USER = ids.DEPLOYER_SYSTEMUSER_ID


def test_limited_identity_is_refused_in_check_and_in_create(emulator: Any, conn: dict,
                                                            fresh_host: Callable[..., ProviderHost]) -> None:
    host = fresh_host(LIMITED)
    inputs = {"connection": conn, "name": "Integration User", "role_id": "6f960e32-a72b-e511-80d9-3863bb349780",
              "privileges": {"prvReadAccount": "Global"}}
    result = host.check(SecurityRole, "iu", {}, inputs)
    [(prop, reason)] = result.failures
    assert prop == "connection"
    for words in (ids.LIMITED_CLIENT_ID, conn["environment_url"],
                  "System Administrator and System Customizer", "Nothing was changed"):
        assert words in reason, reason
    # The next resource's check in the same preview: one short line, no new requests.
    before = len(dataverse_requests(emulator))
    [(_, again)] = host.check(SecurityRole, "other", {}, {**inputs, "name": "Other"}).failures
    assert "see the deployer check error reported above" in again and len(again) < len(reason)
    assert len(dataverse_requests(emulator)) == before
    # Even if the engine went ahead (it does not), create refuses before its first write.
    with pytest.raises(ProviderError) as err:
        host.create(SecurityRole, "iu", {**inputs, "__provider": result.inputs["__provider"]})
    assert "lacks the System Administrator and System Customizer" in err.value.message
    with pytest.raises(CheckFailed):
        Stack(host).up(UserRoleAssignment, "s1", {"connection": conn, "object_id": salesperson_oid(1),
                                          "roles": ["Salesperson"]})
    assert writes(emulator) == [], describe(writes(emulator))
    assert emulator.dataverse.roles.get("6f960e32-a72b-e511-80d9-3863bb349780") is None


def test_deployer_check_resource_and_cache(emulator: Any, conn: dict, stack: Stack) -> None:
    emulator.clear_log()
    step = stack.up(DeployerCheck, "deployer-check", {"connection": conn})
    assert step.outputs["caller_user_id"] == DEPLOYER_USER
    assert ids.DEPLOYER_CLIENT_ID in step.outputs["identity"]
    first = describe(dataverse_requests(emulator))
    # WhoAmI -> the caller's roles; the root business unit is fetched alongside (cached for the
    # resources that resolve role names), so the order of the last two may vary.
    caller_roles = f"GET systemusers({DEPLOYER_USER})/systemuserroles_association"
    assert sorted(first) == ["GET WhoAmI", "GET businessunits", caller_roles]
    assert first.index("GET WhoAmI") < first.index(caller_roles)
    emulator.clear_log()
    assert stack.up(DeployerCheck, "deployer-check", {"connection": conn}).op == "same"
    stack.up(SecurityRole, "r", {"connection": conn, "name": "X", "role_id": None,
                                 "privileges": {"prvReadAccount": "Global"}})
    assert "GET WhoAmI" not in describe(dataverse_requests(emulator))  # cached per process
