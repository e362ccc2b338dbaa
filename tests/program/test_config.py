"""Configuration mistakes: one test per class of mistake, each with the message the user sees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devkit.mockrun import stack_config
from emulator.seed import ids
from infra.program.config import ConfigError, StackSettings, load_settings
from tests.program.conftest import run_stack
from tests.program.packages import vendor_like_zip

EMU_ENV = {"BC_SALES_ENVIRONMENT_URL": "https://127.0.0.1:9443"}


def load(stack: str, overrides: dict[str, Any] | None = None, env: dict[str, str] | None = None,
         extra_keys: tuple[str, ...] = ()) -> StackSettings:
    cfg = stack_config(stack, overrides)
    return load_settings(lambda k: cfg.get(f"bc-sales:{k}"), all_keys=[*cfg, *extra_keys],
                         env=EMU_ENV if env is None else env, stack=stack)


def problems(stack: str, overrides: dict[str, Any] | None = None, **kw: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(stack, overrides, **kw)
    return info.value.problems


@pytest.fixture(scope="module")
def vendor(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(vendor_like_zip(tmp_path_factory.mktemp("pkg") / "MicrosoftDynamicsNavIntegration.zip"))


def test_local_stack_config_is_valid() -> None:
    s = load("local")
    assert s.identity_mode == "existing"
    assert s.environment_url == "https://127.0.0.1:9443"  # from BC_SALES_ENVIRONMENT_URL
    assert s.seat_check == "off"
    assert [p.object_id for p in s.salespeople][0] == ids.salesperson_object_id(1)


def test_dev_and_prod_are_valid_with_the_vendor_package(vendor: str) -> None:
    dev = load("dev", {"solutionPath": vendor})
    prod = load("prod", {"solutionPath": vendor})
    assert dev.client_secret and not prod.client_secret
    assert prod.allow_unmanaged_solution is False and prod.protect_identity is True
    assert dev.authority_host == "https://login.microsoftonline.com"  # "public" expanded


def test_missing_required_key() -> None:
    assert problems("local", {"tenantId": None}) == [
        "bc-sales:tenantId: required, but not set (Entra tenant id (GUID) of the Dynamics 365 environment)"
    ]


def test_missing_nested_key() -> None:
    user = {"userPrincipalName": "x@contoso.example", "objectId": ids.INTEGRATION_USER_OBJECT_ID}
    assert problems("local", {"integrationUser": user}) == [
        "bc-sales:integrationUser.usageLocation: required, but not set "
        "(two-letter ISO 3166 country code; Graph refuses licences without it)"
    ]


def test_wrong_scalar_type() -> None:
    found = problems("local", {"applicationUser": "sometimes", "solutionImportTimeoutSeconds": "an hour"})
    assert found == [
        "bc-sales:applicationUser = 'sometimes': expected true or false",
        "bc-sales:solutionImportTimeoutSeconds = 'an hour': expected a whole number",
    ]


def test_number_out_of_range() -> None:
    assert problems("local", {"clientSecretRotationDays": 1}) == [
        "bc-sales:clientSecretRotationDays = '1': Input should be greater than or equal to 7"
    ]


def test_plain_http_url_refused() -> None:
    assert problems("local", {"graphUrl": "http://graph.microsoft.com"}) == [
        "bc-sales:graphUrl = 'http://graph.microsoft.com': expected an absolute https:// URL "
        "(plain http and other schemes are refused)"
    ]


def test_environment_url_with_a_path_refused(vendor: str) -> None:
    found = problems("dev", {"solutionPath": vendor, "environmentUrl": "https://contoso.crm.dynamics.com/main.aspx"})
    assert found == [
        "bc-sales:environmentUrl = 'https://contoso.crm.dynamics.com/main.aspx': expected the environment's base "
        "URL without a path, e.g. https://contoso.crm.dynamics.com"
    ]


def test_value_not_in_allowed_set() -> None:
    found = problems("local", {"identityMode": "manual", "authorityHost": "germany"})
    assert found == [
        "bc-sales:authorityHost = 'germany': expected one of public, usgov, china or an https:// URL of the sign-in host",
        "bc-sales:identityMode = 'manual': Input should be 'create' or 'existing'",
    ]


def test_bad_nested_values() -> None:
    people = [{"userPrincipalName": "sales01", "roles": [""], "objectId": "not-a-guid"}]
    found = problems("local", {"salespeople": people})
    assert found == [
        "bc-sales:salespeople[0].userPrincipalName = 'sales01': expected a user principal name such as "
        "someone@contoso.onmicrosoft.com",
        "bc-sales:salespeople[0].roles[0] = '': must not be empty",
        "bc-sales:salespeople[0].objectId = 'not-a-guid': expected a GUID such as 00000000-0000-0000-0000-000000000000",
    ]


def test_usage_location_must_be_two_letters() -> None:
    user = {"userPrincipalName": "x@contoso.example", "usageLocation": "USA",
            "objectId": ids.INTEGRATION_USER_OBJECT_ID}
    assert problems("local", {"integrationUser": user}) == [
        "bc-sales:integrationUser.usageLocation = 'USA': expected a two-letter ISO 3166 country code such as US, GB, DE"
    ]


def test_unknown_top_level_key_suggests_the_right_one() -> None:
    found = problems("local", extra_keys=("bc-sales:salesPeople", "azuread:tenantId"))
    assert found == [
        "bc-sales:salesPeople: unknown key (did you mean bc-sales:salespeople?); see the config reference in README.md"
    ]  # other namespaces (azuread:) are not ours to judge


def test_unknown_nested_key() -> None:
    user = {"userPrincipalName": "x@contoso.example", "usageLocation": "US", "licenceSku": "DYN365_ENTERPRISE_SALES",
            "objectId": ids.INTEGRATION_USER_OBJECT_ID}
    assert problems("local", {"integrationUser": user}) == [
        "bc-sales:integrationUser.licenceSku: unknown key (did you mean licenseSku?); "
        "allowed: userPrincipalName, displayName, usageLocation, licenseSku, objectId"
    ]


def test_object_key_given_as_text() -> None:
    cfg = stack_config("local")
    cfg["bc-sales:salespeople"] = "sales01@contoso.example"  # `pulumi config set salespeople x` instead of --path
    with pytest.raises(ConfigError) as info:
        load_settings(lambda k: cfg.get(f"bc-sales:{k}"), all_keys=cfg, env=EMU_ENV)
    assert info.value.problems == [
        "bc-sales:salespeople = 'sales01@contoso.example': expected a list (YAML mapping/list in the stack file)"
    ]


def test_existing_mode_needs_object_ids() -> None:
    people = [{"userPrincipalName": "sales01@contoso.example"}]
    found = problems("local", {"salespeople": people, "applicationClientId": None})
    assert found == [
        "bc-sales:salespeople[0].objectId: required when identityMode is existing (sales01@contoso.example)",
        "bc-sales:applicationClientId: required when identityMode is existing and applicationUser is true "
        "(the client id of Business Central's app registration)",
    ]


def test_unknown_licence_sku_part_number(vendor: str) -> None:
    people = [{"userPrincipalName": "a@contoso.example", "licenseSku": "D365_SALES_PRO"}]
    found = problems("dev", {"solutionPath": vendor, "salespeople": people})
    assert len(found) == 1
    assert found[0].startswith("bc-sales:salespeople[0].licenseSku = 'D365_SALES_PRO': no SKU id known")
    assert "add it as bc-sales:skuIds.D365_SALES_PRO: <skuId GUID>" in found[0]
    # ... and the override fixes it
    ok = load("dev", {"solutionPath": vendor, "salespeople": people,
                      "skuIds": {"D365_SALES_PRO": "11111111-2222-3333-4444-555555555555"}})
    assert ok.sku_table()["D365_SALES_PRO"] == "11111111-2222-3333-4444-555555555555"


def test_federated_subjects_need_a_repository(vendor: str) -> None:
    found = problems("dev", {"solutionPath": vendor, "githubRepository": None, "githubBranches": ["main"]})
    assert found == ["bc-sales:githubRepository: required when githubEnvironments or githubBranches are set "
                     "(owner/repository of the pipeline)"]
    s = load("dev", {"solutionPath": vendor, "githubBranches": ["main", "release/2026"]})
    assert s.ci_subjects == [
        ("env-dev", "repo:contoso/bc-sales:environment:dev"),
        ("branch-main", "repo:contoso/bc-sales:ref:refs/heads/main"),
        ("branch-release/2026", "repo:contoso/bc-sales:ref:refs/heads/release/2026"),
    ]


def test_prod_refuses_an_unmanaged_package(tmp_path: Path) -> None:
    unmanaged = vendor_like_zip(tmp_path / "unmanaged.zip", managed=False)
    found = problems("prod", {"solutionPath": str(unmanaged)})
    assert found == [
        f"bc-sales:solutionPath = {str(unmanaged)!r}: MicrosoftDynamicsNavIntegration 9.0.0.1 is unmanaged, but "
        "allowUnmanagedSolution is false (production takes the managed vendor package)"
    ]


def test_missing_package_file() -> None:
    found = problems("dev")  # the vendor zip is not in the repository
    assert len(found) == 1
    assert found[0].startswith("bc-sales:solutionPath = 'solution/MicrosoftDynamicsNavIntegration.zip': package not found")


def test_standin_refused_for_a_real_environment() -> None:
    found = problems("dev", {"solutionPath": "solution/standin"})
    assert len(found) == 1
    assert "is the test stand-in" in found[0] and "contoso-dev.crm.dynamics.com" in found[0]


def test_local_stack_without_the_emulator_variables() -> None:
    assert problems("local", env={}) == [
        "bc-sales:endpointsFromEnvironment is true but BC_SALES_ENVIRONMENT_URL is not set: start the emulator "
        "with scripts/local-up.sh (it sets the BC_SALES_* variables) or set it yourself"
    ]


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        load("local", {"tenantId": "contoso", "identityMode": "both", "clientSecret": "yes please"},
             extra_keys=("bc-sales:tennantId",))
    text = str(info.value)
    assert text.splitlines()[0] == "4 configuration problems in stack 'local' (nothing was changed):"
    assert len(info.value.problems) == 4
    assert "Traceback" not in text


def test_program_stops_before_registering_anything(tmp_path: Path) -> None:
    run = run_stack("local", tmp_path, overrides={"identityMode": "both", "githubBranches": "main"},
                    env=EMU_ENV)
    assert run.record["error_kind"] == "RunError"  # printed by the language host without a traceback
    assert run.resources == []
    assert run.error.splitlines() == [
        "2 configuration problems in stack 'local' (nothing was changed):",
        "  - bc-sales:identityMode = 'both': Input should be 'create' or 'existing'",
        "  - bc-sales:githubBranches = 'main': expected a list (YAML mapping/list in the stack file)",
    ]


def test_cli_style_values_round_trip() -> None:
    """Values reach the program as the CLI passes them: text, with objects/lists as JSON."""
    cfg = stack_config("local")
    assert cfg["bc-sales:applicationUser"] == "true"
    assert json.loads(cfg["bc-sales:salespeople"])[0]["userPrincipalName"] == "sales01@contoso.example"
    assert cfg["bc-sales:clientSecretRotationDays"] == "180"  # the Pulumi.yaml default


def test_application_client_secret_belongs_to_existing_identities_only() -> None:
    found = problems("local", {"identityMode": "create", "applicationClientSecret": "x-secret-value"})
    assert ("bc-sales:applicationClientSecret: only used with identityMode existing (with identityMode create the "
            "stack makes its own secret: set clientSecret: true); remove it") in found
    assert not any("x-secret-value" in p for p in found)
    # never in a repr either: settings are printed in test failures and logs
    assert "x-secret" not in repr(load("local", {"applicationClientSecret": "x-secret-value"}))
