"""Licensing faults reported publicly (issue 11 kinds 1 and 2), replayed as a user would meet them:
the real program under the mock runtime with the licence seat check against the emulator's Graph,
the seat check itself against the emulator, and the UsageLocation resource through the provider
host."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator.graph.groups import add_member
from emulator.graph.store import GraphError, GraphUser
from emulator.seed import ids
from infra import facts
from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.credentials import resolve_credential
from infra.program.license_seats_graph import GraphSeatSource
from tests.program.conftest import DEPLOYER, Run, run_stack
from tests.program.test_config import load, problems

SALES = facts.SKU_IDS["DYN365_ENTERPRISE_SALES"]
TEAM = facts.SKU_IDS["DYN365_ENTERPRISE_TEAM_MEMBERS"]
GROUP = ids.SALES_LICENSING_GROUP_ID  # the emulator seed's licensing group (Sales)
NEW_HIRE = "new.hire@contoso.example"             # exists, unlicensed, no usage location
NEW_HIRE_ID = ids.NEW_HIRE_OBJECT_ID


def _graph_overrides(emu: Any, **more: Any) -> dict[str, Any]:
    u = emu.urls
    return {"tenantId": u.tenant_id, "authorityHost": u.authority_host, "graphUrl": u.graph_url,
            "caBundle": u.ca_bundle, **more}


def check_license_seats(*args: Any) -> Any:
    from infra.program.license_seats import check_license_seats as check

    return check(*args)


def _source(emu: Any) -> GraphSeatSource:
    u = emu.urls
    conn = EnvironmentEndpoints(environment_url=u.environment_url, tenant_id=u.tenant_id, authority_host=u.authority_host,
                      graph_url=u.graph_url, ca_bundle=u.ca_bundle)
    return GraphSeatSource(conn, resolve_credential(conn, env=dict(DEPLOYER)))


def _add_user(emu: Any, n: int, location: str | None = None) -> str:
    upn = f"hire{n:02d}@contoso.example"
    oid = f"6b1c2d3e-0000-4000-8000-0000000e10{n:02d}"
    emu.graph.users[oid] = GraphUser(object_id=oid, upn=upn, display_name=f"Hire {n}", usage_location=location)
    return upn


# --- kind 1: a licence needs a usage location, for every licensed user ----------------------------------


def test_salespeople_without_usage_location_are_refused_before_any_resource_naming_each(
        emulator: Any, vendor_zip: Path, tmp_path: Path) -> None:
    second = _add_user(emulator, 1)
    fine = _add_user(emulator, 2, "DE")
    people = [{"userPrincipalName": NEW_HIRE}, {"userPrincipalName": fine}, {"userPrincipalName": second}]
    run = run_stack("prod", tmp_path, env=dict(DEPLOYER), overrides=_graph_overrides(
        emulator, solutionPath=str(vendor_zip), salespeople=people))
    assert run.record["error_kind"] == "RunError", run.error
    error = run.error or ""
    assert "bc-sales:salespeople[0] (new.hire@contoso.example) has no usage location" in error, error
    assert "bc-sales:salespeople[2] (hire01@contoso.example) has no usage location" in error
    assert "salespeople[1]" not in error  # DE: fine
    assert "add bc-sales:salespeople[0].usageLocation" in error and "pulumi config set --path" in error
    assert run.resources == []  # refused before the first resource


def test_the_usage_location_key_is_set_on_the_user_before_its_licence(
        emulator: Any, vendor_zip: Path, tmp_path: Path) -> None:
    people = [{"userPrincipalName": NEW_HIRE, "usageLocation": "gb"}]
    run = run_stack("prod", tmp_path, env=dict(DEPLOYER), overrides=_graph_overrides(
        emulator, solutionPath=str(vendor_zip), salespeople=people))
    assert run.error is None, run.error
    location = run.by_name("usage-location-new-hire-contoso-example")
    assert location["type"] == "pulumi-python:dynamic/entra:UsageLocation"
    assert location["inputs"]["usage_location"] == "GB"
    assert location["parent"] == run.urn("identity")
    licence = run.by_name("licence-new-hire-contoso-example")
    assert location["urn"] in licence["dependencies"]
    assert any("usage location none is set to GB before the licence" in m for m in run.infos()), run.infos()


def test_usage_location_config_is_validated() -> None:
    found = problems("dev", {"salespeople": [{"userPrincipalName": "a@contoso.example", "usageLocation": "UK"},
                                             {"userPrincipalName": "b@contoso.example", "usageLocation": "XX"}]})
    assert any("salespeople[0].usageLocation = 'UK': UK is not an ISO 3166-1 alpha-2 country code "
               "(the United Kingdom is GB)" in p for p in found), found
    assert any("salespeople[1].usageLocation = 'XX'" in p for p in found), found
    local = problems("local", {"salespeople": [{"userPrincipalName": "a@contoso.example", "usageLocation": "US",
                                                "objectId": ids.salesperson_object_id(1)}]})
    assert any("only applied with identityMode create" in p for p in local), local


def test_usage_location_resource_sets_it_so_the_licence_succeeds(emulator: Any) -> None:
    from infra.providers import UsageLocation
    from devkit.harness import ProviderHost, Stack
    from tests.providers.conftest import endpoints_for

    with pytest.raises(GraphError, match="invalid usage location"):
        emulator.graph.assign_license(NEW_HIRE_ID, [{"skuId": SALES}], [])
    with ProviderHost(dict(DEPLOYER)) as host:
        stack = Stack(host)
        inputs = {"connection": endpoints_for(emulator), "object_id": NEW_HIRE_ID, "usage_location": "GB"}
        step = stack.up(UsageLocation, "loc", inputs)
        assert step.op == "create" and step.outputs.get("previous_usage_location") is None
        assert emulator.graph.get_user(NEW_HIRE_ID).usage_location == "GB"
        emulator.graph.assign_license(NEW_HIRE_ID, [{"skuId": SALES}], [])  # Graph takes it now
        assert any("setting usage location none -> GB" in line for line in host.log), host.log
        logged = len(host.log)
        assert stack.up(UsageLocation, "loc", inputs).op == "same"
        # No write decided: the provider says so before each PATCH.  (The emulator's request log is
        # not used here: under load a late-served request of the create can land in it after a clear.)
        assert [line for line in host.log[logged:] if "setting usage location" in line] == []
        emulator.graph.update_user(NEW_HIRE_ID, {"usageLocation": "FR"})  # changed by hand: drift
        assert stack.refresh("loc").outputs["usage_location"] == "FR"
        assert stack.up(UsageLocation, "loc", inputs).op == "update"
        assert emulator.graph.get_user(NEW_HIRE_ID).usage_location == "GB"
        stack.destroy("loc")  # leaves the value: licences depend on it
        assert emulator.graph.get_user(NEW_HIRE_ID).usage_location == "GB"


# --- kind 2: group-based licensing ---------------------------------------------------------------------------


def test_group_mode_registers_group_membership_instead_of_direct_licences(
        emulator: Any, vendor_zip: Path, tmp_path: Path) -> None:
    run = run_stack("prod", tmp_path, env=dict(DEPLOYER), overrides=_graph_overrides(
        emulator, solutionPath=str(vendor_zip), licenseAssignment="group", licensingGroupId=GROUP))
    assert run.error is None, run.error
    assert run.of_type("userLicense:UserLicense") == []
    members = {r["name"]: r for r in run.of_type("groupMember:GroupMember")}
    assert set(members) == {"licensing-group-integration-user", "licensing-group-alex-wilber-contoso-onmicrosoft-com",
                            "licensing-group-megan-bowen-contoso-onmicrosoft-com"}
    for member in members.values():
        assert member["inputs"]["groupObjectId"] == GROUP
    assert run.urn("integration-user") in members["licensing-group-integration-user"]["dependencies"]
    access = run.by_name("access-integration-user")
    assert members["licensing-group-integration-user"]["urn"] in access["dependencies"]  # waits for the licence


def test_group_mode_config_needs_the_group() -> None:
    assert any("licensingGroupId: required when licenseAssignment is group" in p
               for p in problems("dev", {"licenseAssignment": "group"}))
    assert any("only used with licenseAssignment group" in p
               for p in problems("dev", {"licensingGroupId": GROUP}))
    assert any("licenseAssignment = 'group': only possible with identityMode create" in p
               for p in problems("local", {"licenseAssignment": "group", "licensingGroupId": GROUP}))


def _settings(vendor_zip: Path, emu: Any, people: list[dict[str, Any]], **more: Any) -> Any:
    return load("prod", {"solutionPath": str(vendor_zip), "salespeople": people, **_graph_overrides(emu), **more})


def test_seat_check_counts_users_who_hold_the_licence_through_a_group(emulator: Any, vendor_zip: Path) -> None:
    """Five Team Members seats, all used by members of a licensing group: a stack that assigns
    those five users the licence needs no new seat."""
    from emulator.graph.groups import assign_group_license

    assign_group_license(emulator.graph, GROUP, [{"skuId": TEAM}], [])
    people = [{"userPrincipalName": f"sales0{n}@contoso.example", "licenseSku": "DYN365_ENTERPRISE_TEAM_MEMBERS"}
              for n in range(1, 6)]
    for n in range(1, 6):
        add_member(emulator.graph, GROUP, f"6b1c2d3e-0000-4000-8000-00000000000{n}")
    assert emulator.graph.consumed(TEAM) == emulator.graph.skus[TEAM].enabled  # no seat free
    settings = _settings(vendor_zip, emulator, people, licenseAssignment="group", licensingGroupId=GROUP)
    report = check_license_seats(settings, settings.sku_table(), _source(emulator))
    assert report.problems == [], report.problems
    assert "licence DYN365_ENTERPRISE_TEAM_MEMBERS: 0 new assignment(s), 0 seat(s) free" in report.notes

    # one more user needs a seat that is not there
    more = _settings(vendor_zip, emulator, [*people, {"userPrincipalName": "sales06@contoso.example",
                                                      "licenseSku": "DYN365_ENTERPRISE_TEAM_MEMBERS"}],
                     licenseAssignment="group", licensingGroupId=GROUP)
    [problem] = check_license_seats(more, more.sku_table(), _source(emulator)).problems
    assert "1 new assignment(s) needed (sales06@contoso.example) but only 0 of 5 seats are free" in problem


def test_a_user_licensed_both_ways_is_reported(emulator: Any, vendor_zip: Path) -> None:
    add_member(emulator.graph, GROUP, ids.salesperson_object_id(7))  # sales07: direct + group
    people = [{"userPrincipalName": "sales07@contoso.example"}]
    direct = _settings(vendor_zip, emulator, people)
    report = check_license_seats(direct, direct.sku_table(), _source(emulator))
    assert report.problems == []
    [warning] = [w for w in report.warnings if "sales07" in w]
    assert "both directly (this stack) and through group(s) " + GROUP in warning
    group = _settings(vendor_zip, emulator, people, licenseAssignment="group", licensingGroupId=GROUP)
    report = check_license_seats(group, group.sku_table(), _source(emulator))
    [warning] = [w for w in report.warnings if "sales07" in w]
    assert "both directly (assigned outside this stack) and through the licensing group" in warning


def test_group_mode_refuses_a_missing_group_or_one_without_the_licence(emulator: Any, vendor_zip: Path) -> None:
    people = [{"userPrincipalName": "sales01@contoso.example"}]
    missing = _settings(vendor_zip, emulator, people, licenseAssignment="group",
                        licensingGroupId="6b1c2d3e-0000-4000-8000-00000000c0ff")
    [problem] = check_license_seats(missing, missing.sku_table(), _source(emulator)).problems
    assert "licensingGroupId = '6b1c2d3e-0000-4000-8000-00000000c0ff': no such group" in problem
    team = _settings(vendor_zip, emulator, [{"userPrincipalName": "sales01@contoso.example",
                                             "licenseSku": "DYN365_ENTERPRISE_TEAM_MEMBERS"}],
                     licenseAssignment="group", licensingGroupId=GROUP)
    [problem] = check_license_seats(team, team.sku_table(), _source(emulator)).problems
    assert problem.startswith(f"licence DYN365_ENTERPRISE_TEAM_MEMBERS: the licensing group {GROUP} does not assign it")


def test_group_mode_without_usage_location_is_a_warning_not_a_refusal(emulator: Any, vendor_zip: Path) -> None:
    """Entra gives group-licensed users without a usage location the directory's country."""
    people = [{"userPrincipalName": NEW_HIRE}]
    settings = _settings(vendor_zip, emulator, people, licenseAssignment="group", licensingGroupId=GROUP)
    report = check_license_seats(settings, settings.sku_table(), _source(emulator))
    assert report.problems == []
    assert any("new.hire@contoso.example) has no usage location: for group licences Entra uses the directory's"
               in w for w in report.warnings), report.warnings


def test_the_program_reports_both_ways_as_a_warning(emulator: Any, vendor_zip: Path, tmp_path: Path) -> None:
    add_member(emulator.graph, GROUP, ids.salesperson_object_id(3))
    run: Run = run_stack("prod", tmp_path, env=dict(DEPLOYER), overrides=_graph_overrides(
        emulator, solutionPath=str(vendor_zip), salespeople=[{"userPrincipalName": "sales03@contoso.example"}]))
    assert run.error is None, run.error
    warnings = [e["message"] for e in run.record["logs"] if e["level"] == "WARNING"]
    assert any("sales03@contoso.example) gets DYN365_ENTERPRISE_SALES both directly" in w for w in warnings), warnings
