"""The guardrail rules as plain functions: each has a passing and a violating case, plus edges."""

from __future__ import annotations

import datetime as dt

import pytest

import guardrails as g

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone.utc)
CHILD_BU_SYSADMIN = "0b2f6a1e-5d5c-4f6e-9a43-111111111111"


# --- integration user never System Administrator ----------------------------------------------


def test_integration_roles_pass_without_system_administrator() -> None:
    roles = ["Integration Administrator", "6f960e32-a72b-e511-80d9-3863bb349780", g.UNKNOWN]
    assert g.integration_role_violations(roles) == []


@pytest.mark.parametrize(
    "role",
    ["System Administrator", "  system   ADMINISTRATOR ", "627090FF-40A3-4053-8790-584EDC5BE201", "{627090ff-40a3-4053-8790-584edc5be201}"],
)
def test_integration_roles_reject_system_administrator_by_name_or_template_id(role: str) -> None:
    [message] = g.integration_role_violations(["Integration User", role])
    assert "roles[1]" in message and "System Administrator" in message


def test_integration_roles_reject_configured_role_ids() -> None:
    ids, names = g.forbidden_roles({"systemAdministratorRoleIds": [CHILD_BU_SYSADMIN.upper()]})
    assert g.integration_role_violations([CHILD_BU_SYSADMIN], forbidden_ids=ids, forbidden_names=names)
    assert g.integration_role_violations([CHILD_BU_SYSADMIN]) == []  # not forbidden without the config


def test_a_role_named_like_a_guid_is_not_matched_by_name() -> None:
    assert g.integration_role_violations(["System Administrators team"]) == []


def test_forbidden_roles_config_rejects_non_guid_ids() -> None:
    with pytest.raises(g.GuardrailConfigError, match="systemAdministratorRoleIds.*'sysadmin'.*GUID"):
        g.forbidden_roles({"systemAdministratorRoleIds": ["sysadmin"]})


def test_held_roles_are_violations_and_nothing_held_passes() -> None:
    assert g.held_role_violations([]) == [] and g.held_role_violations(None) == []
    assert g.held_role_violations(g.UNKNOWN) == []
    [message] = g.held_role_violations(["System Administrator (x)"], who="the application user")
    assert message.startswith("forbidden_roles_held[0] = 'System Administrator (x)': the application user holds")
    assert g.held_role_violations("System Administrator") == [
        "forbidden_roles_held: expected a list of role names, got 'System Administrator'"]


# --- prod imports managed only ----------------------------------------------------------------


def test_prod_managed_import_passes_and_dev_may_import_unmanaged() -> None:
    assert g.solution_import_violations(True, stack="prod") == []
    assert g.solution_import_violations(False, stack="dev") == []


@pytest.mark.parametrize("managed", [False, None, "true"])
def test_prod_unmanaged_import_is_a_violation(managed: object) -> None:
    [message] = g.solution_import_violations(managed, stack="prod")
    assert "'prod'" in message and "managed" in message


def test_require_managed_applies_to_every_stack_and_unknown_waits_for_up() -> None:
    assert g.solution_import_violations(False, stack="dev", require_managed=True)
    assert g.solution_import_violations(False, stack="uat", managed_only=["uat"])
    assert g.solution_import_violations(g.UNKNOWN, stack="prod") == []


def test_stack_from_urn() -> None:
    urn = "urn:pulumi:prod::bc-sales::bc-sales:index:Sales$pulumi-python:dynamic/dataverse:SolutionImport::solution"
    assert g.stack_from_urn(urn) == "prod"
    assert g.stack_from_urn("not-a-urn") is None


# --- client secrets expire --------------------------------------------------------------------


def test_secret_within_the_limit_passes() -> None:
    assert g.secret_lifetime_violations("2027-05-01T00:00:00Z", None, now=NOW, max_days=180) == []
    assert g.secret_lifetime_violations(None, "4320h", now=NOW, max_days=180) == []  # exactly 180 days
    assert g.secret_lifetime_violations(None, "2400h30m", now=NOW, max_days=180) == []


def test_secret_beyond_the_limit_is_a_violation() -> None:
    [message] = g.secret_lifetime_violations("2028-01-01T00:00:00Z", None, now=NOW, max_days=180)
    assert "end_date" in message and "180 days" in message
    [message] = g.secret_lifetime_violations(None, "4321h", now=NOW, max_days=180)
    assert "end_date_relative = '4321h'" in message


def test_secret_without_expiry_is_a_violation() -> None:
    [message] = g.secret_lifetime_violations(None, None, now=NOW)
    assert "two years" in message


def test_secret_with_unparseable_expiry_is_a_violation() -> None:
    assert "RFC 3339" in g.secret_lifetime_violations("next year", None, now=NOW)[0]
    assert "duration" in g.secret_lifetime_violations(None, "180d", now=NOW)[0]


def test_unknown_secret_expiry_waits_for_up() -> None:
    assert g.secret_lifetime_violations(g.UNKNOWN, None, now=NOW) == []


@pytest.mark.parametrize("value", [0, 5000, "180", True])
def test_max_lifetime_config_is_validated(value: object) -> None:
    with pytest.raises(g.GuardrailConfigError, match="maxLifetimeDays"):
        g.max_secret_lifetime_days({"maxLifetimeDays": value})


def test_max_lifetime_config_default_and_float() -> None:
    assert g.max_secret_lifetime_days({}) == 180
    assert g.max_secret_lifetime_days({"maxLifetimeDays": 90.0}) == 90


@pytest.mark.parametrize(
    ("text", "hours"), [("240h", 240), ("2400h30m", 2400.5), ("90m", 1.5), ("1h0m30s", 1 + 30 / 3600)]
)
def test_go_durations(text: str, hours: float) -> None:
    assert g.parse_go_duration(text) == dt.timedelta(hours=hours)


@pytest.mark.parametrize("text", ["", "h", "10", "10d", "1h 2m"])
def test_bad_go_durations(text: str) -> None:
    with pytest.raises(ValueError):
        g.parse_go_duration(text)


# --- no Global Delete on core tables ------------------------------------------------------------


def test_narrow_or_non_core_deletes_pass() -> None:
    privileges = {
        "prvDeleteAccount": "Local",
        "prvDeleteNote": "Global",  # annotation is not a core table
        "prvDeletenav_connection": "Global",
        "prvReadAccount": "Global",
    }
    assert g.global_delete_violations("Integration User", privileges) == []


@pytest.mark.parametrize(
    ("privilege", "depth", "table"),
    [("prvDeleteAccount", "Global", "account"), ("prvdeleteorder", "global", "salesorder"), ("prvDeleteUser", "Organization", "systemuser")],
)
def test_global_delete_on_core_table_is_a_violation(privilege: str, depth: str, table: str) -> None:
    [message] = g.global_delete_violations("Sales Ops", {privilege: depth})
    assert f"every {table} record" in message and "Sales Ops" in message and "allowlist" in message


def test_allowlist_permits_one_role_and_table_only() -> None:
    cfg = g.global_delete_config({"allowlist": [{"role": "data steward", "table": "Account"}]})
    assert g.global_delete_violations("Data Steward", {"prvDeleteAccount": "Global"}, config=cfg) == []
    assert g.global_delete_violations("Data Steward", {"prvDeleteContact": "Global"}, config=cfg)
    assert g.global_delete_violations("Sales Ops", {"prvDeleteAccount": "Global"}, config=cfg)
    anyone = g.global_delete_config({"allowlist": [{"role": "*", "table": "account"}]})
    assert g.global_delete_violations("Sales Ops", {"prvDeleteAccount": "Global"}, config=anyone) == []


def test_core_tables_and_stems_are_configurable() -> None:
    cfg = g.global_delete_config({"coreTables": ["msdyn_project"], "privilegeStems": {"msdyn_project": "msdyn_Project"}})
    assert g.global_delete_violations("R", {"prvDeletemsdyn_project": "Global"}, config=cfg)
    assert g.global_delete_violations("R", {"prvDeleteAccount": "Global"}, config=cfg) == []


def test_bad_allowlist_entry_names_the_index() -> None:
    with pytest.raises(g.GuardrailConfigError, match=r"allowlist\[1\]"):
        g.global_delete_config({"allowlist": [{"role": "*", "table": "account"}, {"table": "contact"}]})
