"""check() turns bad input into CheckFailures (a clean preview error), through the real host.

No credentials are given to this host, so check() validates offline and skips the deployer check.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from devkit.harness import ProviderHost
from infra.providers import ApplicationUser, SecurityRole, SolutionImport, UserRoleAssignment

CONN = {"environment_url": "https://contoso.crm.dynamics.com", "tenant_id": "6b1c2d3e-0000-4000-8000-00000000a001"}
ROLE_ID = "8c8d4f51-a72b-e511-80d9-3863bb349780"


@pytest.fixture(scope="module")
def offline_host() -> Iterator[ProviderHost]:
    with ProviderHost({}) as h:
        yield h


def failures(host: ProviderHost, cls: type, inputs: dict[str, Any]) -> dict[str, str]:
    result = host.check(cls, "r", {}, inputs)
    return {prop: reason for prop, reason in result.failures}


def role(**over: Any) -> dict[str, Any]:
    base = {"connection": CONN, "name": "Integration Administrator", "role_id": ROLE_ID,
            "privileges": {"prvReadAccount": "Global"}, "delete_on_destroy": False}
    return {**base, **over}


def test_valid_role_passes_and_is_canonical(offline_host: ProviderHost) -> None:
    result = offline_host.check(SecurityRole, "r", {}, role(
        role_id=ROLE_ID.upper(), privileges={"prvWriteAccount": "global", "prvReadAccount": "Basic"}))
    assert result.failures == []
    assert result.inputs["role_id"] == ROLE_ID
    assert result.inputs["privileges"] == {"prvReadAccount": "Basic", "prvWriteAccount": "Global"}


@pytest.mark.parametrize("over, prop, words", [
    ({"role_id": "not-a-guid"}, "role_id", ["GUID", "not-a-guid"]),
    ({"business_unit_id": "123"}, "business_unit_id", ["GUID"]),
    ({"privileges": {"prvReadAccount": "Everywhere"}}, "privileges",
     ["prvReadAccount='Everywhere'", "Basic, Local, Deep, Global"]),
    ({"privileges": {}}, "privileges", ["non-empty"]),
    ({"privileges": {"ReadAccount": "Global"}}, "privileges", ["prv", "ReadAccount"]),
    ({"name": ""}, "name", ["1-100"]),
    ({"connection": {**CONN, "environment_url": "http://contoso.crm.dynamics.com"}}, "connection",
     ["https://", "http://contoso.crm.dynamics.com"]),
    ({"connection": {"tenant_id": "x"}}, "connection", ["environment_url"]),
])
def test_role_input_errors(offline_host: ProviderHost, over: dict[str, Any], prop: str, words: list[str]) -> None:
    found = failures(offline_host, SecurityRole, role(**over))
    assert prop in found, found
    for word in words:
        assert word in found[prop]


@pytest.mark.parametrize("cls, inputs, prop, word", [
    (UserRoleAssignment, {"object_id": "bob", "roles": ["Salesperson"]}, "object_id", "GUID"),
    (UserRoleAssignment, {"object_id": "6b1c2d3e-0000-4000-8000-000000000001", "roles": []}, "roles", "empty"),
    (UserRoleAssignment, {"object_id": "6b1c2d3e-0000-4000-8000-000000000001", "roles": ["x"],
                  "wait_timeout_seconds": -1}, "wait_timeout_seconds", "0-86400"),
    (ApplicationUser, {"application_id": "nope", "roles": ["x"]}, "application_id", "client id"),
    (ApplicationUser, {"application_id": "6b1c2d3e-0000-4000-8000-00000000d003", "roles": [""]}, "roles", "non-empty"),
])
def test_access_input_errors(offline_host: ProviderHost, cls: type, inputs: dict[str, Any], prop: str, word: str) -> None:
    found = failures(offline_host, cls, {"connection": CONN, **inputs})
    assert prop in found and word in found[prop], found


def test_roles_are_a_sorted_set(offline_host: ProviderHost) -> None:
    result = offline_host.check(UserRoleAssignment, "u", {}, {
        "connection": CONN, "object_id": "6B1C2D3E-0000-4000-8000-000000000001",
        "roles": ["Salesperson", ROLE_ID.upper(), "Salesperson"]})
    assert result.failures == []
    assert result.inputs["roles"] == [ROLE_ID, "Salesperson"]
    assert result.inputs["object_id"] == "6b1c2d3e-0000-4000-8000-000000000001"


def test_solution_input_errors(offline_host: ProviderHost, tmp_path) -> None:
    found = failures(offline_host, SolutionImport, {
        "connection": CONN, "package_path": str(tmp_path / "missing.zip"), "unique_name": "x",
        "version": "1.x", "managed": False, "sha256": "abc"})
    assert "version" in found and "1.x" in found["version"]
    assert "sha256" in found and "64 hex" in found["sha256"]
    assert "package_path" in found and "not found" in found["package_path"]
