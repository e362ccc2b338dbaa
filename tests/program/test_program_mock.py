"""The real ``infra/__main__.py`` under the mock runtime, for the dev, prod and local stacks."""

from __future__ import annotations

from pathlib import Path

import base64
import json
from datetime import timedelta
from typing import Any

import pytest

from emulator.seed import ids as seed_ids
from infra import facts
from infra.model.roles import load_roles
from infra.program.config import PROJECT_ROOT
from infra.program.identity import rotation_period
from tests.program.conftest import CANARY_SECRET, Run

SALES = facts.SKU_IDS["DYN365_ENTERPRISE_SALES"]
DYNAMIC = "pulumi-python:dynamic/dataverse:"


def names(run: Run, suffix: str) -> set[str]:
    return {r["name"] for r in run.of_type(suffix)}


def secret(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"__secret__"}


def unwrap(value: Any) -> Any:
    return value["__secret__"] if secret(value) else value


# --- the runs themselves ------------------------------------------------------------------------


def test_every_stack_runs_without_cli_or_plugins(runs: dict[str, Run]) -> None:
    for name, run in runs.items():
        assert run.error is None, f"{name}: {run.error}"
        assert run.record["pulumi_on_path"] is None, f"{name}: a pulumi binary was on PATH"
        assert run.record["plugin_processes"] == [], f"{name}: child processes {run.record['plugin_processes']}"
        assert run.resources, name


def test_dev_registers_the_full_graph(dev: Run) -> None:
    assert names(dev, "IntegrationIdentity") == {"identity"}
    assert names(dev, "SalesIntegration") == {"sales"}
    assert names(dev, "randomPassword:RandomPassword") == {"integration-user-password"}
    assert names(dev, "user:User") == {"integration-user"}
    # lee.gu has licenseSku: null (group licensing) -> no direct licence
    assert names(dev, "userLicense:UserLicense") == {
        "licence-integration-user", "licence-alex-wilber-contoso-onmicrosoft-com",
        "licence-megan-bowen-contoso-onmicrosoft-com",
    }
    assert names(dev, "application:Application") == {"app"}
    assert names(dev, "servicePrincipal:ServicePrincipal") == {"app-service-principal"}
    assert names(dev, "ApplicationFederatedIdentityCredential") == {"ci-env-dev"}
    assert names(dev, "applicationPassword:ApplicationPassword") == {"client-secret"}
    assert names(dev, "dataverse:DeployerCheck") == {"deployer-check"}
    assert names(dev, "dataverse:SolutionImport") == {"solution"}
    assert names(dev, "dataverse:SecurityRole") == {
        "role-integration-administrator", "role-integration-user", "role-product-availability-user"}
    assert names(dev, "dataverse:UserRoleAssignment") == {
        "access-integration-user", "access-alex-wilber-contoso-onmicrosoft-com",
        "access-megan-bowen-contoso-onmicrosoft-com", "access-lee-gu-contoso-onmicrosoft-com"}
    assert names(dev, "dataverse:ApplicationUser") == {"application-user"}
    assert len(dev.resources) == 22  # with the azuread provider
    # salespeople without objectId are looked up by UPN
    assert dev.record["invokes"].count("azuread:index/getUser:getUser") == 3


def test_entra_resources_use_a_provider_pinned_to_the_stack_tenant(dev: Run, prod: Run) -> None:
    for run in (dev, prod):
        entra = run.by_name("entra")
        assert entra["type"] == "pulumi:providers:azuread"
        ref = f"{entra['urn']}::"
        for r in run.resources:
            if r["type"].startswith("azuread:"):
                assert r["provider"].startswith(ref), r["name"]
    assert dev.by_name("entra")["inputs"]["tenantId"] == "00000000-0000-0000-0000-000000000000"
    assert dev.by_name("entra")["inputs"]["environment"] == "global"
    assert prod.by_name("entra")["inputs"]["tenantId"] == seed_ids.TENANT_ID  # overridden
    assert prod.by_name("entra")["inputs"]["environment"] == "public"  # not a Microsoft host: provider default


def test_prod_has_no_client_secret_and_protects_identity(prod: Run) -> None:
    assert names(prod, "applicationPassword:ApplicationPassword") == set()
    assert names(prod, "ApplicationFederatedIdentityCredential") == {"ci-env-prod"}
    for name in ("integration-user", "app", "app-service-principal"):
        assert prod.by_name(name)["protect"] is True, name
        assert prod.by_name(name)["retain_on_delete"] is True, name


def test_delete_policies_differ_between_dev_and_prod(dev: Run, prod: Run) -> None:
    for name in ("integration-user", "app", "app-service-principal"):
        assert dev.by_name(name)["protect"] is False, name
        assert prod.by_name(name)["protect"] is True, name
    assert dev.by_name("solution")["inputs"]["uninstall_on_delete"] is True
    assert prod.by_name("solution")["inputs"]["uninstall_on_delete"] is False
    assert prod.by_name("solution")["inputs"]["overwrite_unmanaged_customizations"] is False
    assert prod.by_name("solution")["inputs"]["managed"] is True
    assert prod.by_name("solution")["inputs"]["unique_name"] == facts.SALES_INTEGRATION_SOLUTION
    for role in prod.of_type("dataverse:SecurityRole"):
        assert role["inputs"]["delete_on_destroy"] is False
    for role in dev.of_type("dataverse:SecurityRole"):
        assert role["inputs"]["delete_on_destroy"] is True
    assert prod.by_name("application-user")["inputs"]["delete_on_destroy"] is False


def test_local_registers_no_entra_resources(local: Run) -> None:
    types = {r["type"].split(":")[0] for r in local.resources}
    assert types == {"bc-sales", "pulumi-python"}, types  # no azuread, no random -> no plugin at all
    assert len(local.of_type("dataverse:UserRoleAssignment")) == 4
    access = local.by_name("access-integration-user")["inputs"]
    assert access["object_id"] == seed_ids.INTEGRATION_USER_OBJECT_ID
    assert access["integration_user"] is True
    app_user = local.by_name("application-user")["inputs"]
    assert app_user["application_id"] == seed_ids.BUSINESS_CENTRAL_APP_ID


def test_local_connection_comes_from_the_emulator_variables(local: Run, graph_emulator: Any) -> None:
    conn = local.by_name("deployer-check")["inputs"]["connection"]
    u = graph_emulator.urls
    assert conn["environment_url"] == u.environment_url
    assert conn["authority_host"] == u.authority_host
    assert conn["graph_url"] == u.graph_url
    assert conn["ca_bundle"] == u.ca_bundle
    assert local.outputs["environmentUrl"] == u.environment_url


# --- inputs -------------------------------------------------------------------------------------


def test_licences_use_the_sku_ids(dev: Run, prod: Run) -> None:
    for run in (dev, prod):
        for lic in run.of_type("userLicense:UserLicense"):
            assert lic["inputs"]["skuId"] == SALES, lic["name"]
    integration = dev.by_name("licence-integration-user")
    assert dev.urn("integration-user") in integration["dependencies"]
    user_oid = integration["inputs"]["userObjectId"]
    assert user_oid and user_oid not in {lic["inputs"]["userObjectId"] for lic in dev.of_type("userLicense:UserLicense")
                                         if lic["name"] != "licence-integration-user"}


def test_integration_user_inputs(dev: Run) -> None:
    user = dev.by_name("integration-user")["inputs"]
    assert user["userPrincipalName"] == "bc-integration-dev@contoso.onmicrosoft.com"
    assert user["usageLocation"] == "US"
    assert user["forcePasswordChange"] is False
    assert secret(user["password"])
    pw = dev.by_name("integration-user-password")
    assert pw["inputs"]["length"] == 32
    assert "result" in pw["additional_secret_outputs"]


def test_app_registration_asks_for_dataverse_user_impersonation(dev: Run, prod: Run) -> None:
    for run in (dev, prod):
        app = run.by_name("app")["inputs"]
        assert app["requiredResourceAccesses"] == [{
            "resourceAppId": facts.DATAVERSE_RESOURCE_APP_ID,
            "resourceAccesses": [{"id": facts.DATAVERSE_USER_IMPERSONATION_SCOPE_ID, "type": "Scope"}],
        }]
        assert app["signInAudience"] == "AzureADMyOrg"
        sp = run.by_name("app-service-principal")
        assert run.urn("app") in sp["dependencies"]


def test_federated_credentials_trust_the_configured_github_subjects(dev: Run) -> None:
    creds = {r["name"]: r["inputs"] for r in dev.of_type("ApplicationFederatedIdentityCredential")}
    assert creds["ci-env-dev"]["subject"] == "repo:contoso/bc-sales:environment:dev"
    assert creds["ci-env-dev"]["applicationId"].startswith("/applications/")
    for cred in creds.values():
        assert cred["issuer"] == facts.GITHUB_ACTIONS_ISSUER
        assert cred["audiences"] == [facts.FEDERATED_TOKEN_AUDIENCE]


def test_client_secret_rotates_per_period(dev: Run) -> None:
    secret_res = dev.by_name("client-secret")["inputs"]
    # the program read the clock while it ran: a period boundary may fall inside that window
    periods = [rotation_period(t, 90) for t in dev.window]
    assert secret_res["rotateWhenChanged"]["rotationPeriod"] in {p.label for p in periods}
    assert secret_res["endDate"] in {p.end_date_rfc3339 for p in periods}
    assert all(p.end_date - p.start == timedelta(days=180) for p in periods)


def test_role_privileges_come_from_the_role_files(runs: dict[str, Run]) -> None:
    specs = {s.name: s for s in load_roles(PROJECT_ROOT / "roles")}
    for run in runs.values():
        for role in run.of_type("dataverse:SecurityRole"):
            spec = specs[role["inputs"]["name"]]
            assert role["inputs"]["privileges"] == spec.privileges, role["name"]
            assert role["inputs"]["role_id"] == spec.role_id
    ia = runs["dev"].by_name("role-integration-administrator")["inputs"]
    assert ia["role_id"] == facts.INTEGRATION_ADMINISTRATOR_ROLE_ID
    assert runs["dev"].by_name("role-integration-user")["inputs"]["role_id"] == facts.INTEGRATION_USER_ROLE_ID


def test_roles_take_the_solution_they_come_with(runs: dict[str, Run]) -> None:
    """Issue 11 kind 4: a new solution version (or new bytes) changes every role's inputs, so the
    preview lists the roles as updates -- naming the changed version/sha256 -- and the update
    re-applies the role file after the import (the roles depend on the solution)."""
    for run in runs.values():
        sol = run.by_name("solution")["inputs"]
        for role in run.of_type("dataverse:SecurityRole"):
            assert role["inputs"]["solution"] == {
                "unique_name": sol["unique_name"], "version": sol["version"], "sha256": sol["sha256"],
                "package_path": sol["package_path"]}, role["name"]
            assert run.urn("solution") in role["dependencies"]


def test_user_access_roles(dev: Run, local: Run) -> None:
    ids = dev.outputs["roleIds"]
    integ = dev.by_name("access-integration-user")["inputs"]
    assert integ["roles"] == [ids["Integration Administrator"], ids["Integration User"]]
    megan = dev.by_name("access-megan-bowen-contoso-onmicrosoft-com")["inputs"]
    assert megan["roles"] == ["Salesperson", "Sales Manager", ids["Product Availability User"]]
    assert megan["integration_user"] is False
    app_user = local.by_name("application-user")["inputs"]
    lids = local.outputs["roleIds"]
    assert app_user["roles"] == [lids["Integration Administrator"], lids["Integration User"]]


# --- order ---------------------------------------------------------------------------------------


def test_dependencies_make_the_order_explicit(dev: Run) -> None:
    deps = lambda name: set(dev.by_name(name)["dependencies"])  # noqa: E731
    roles = {dev.urn(n) for n in names(dev, "dataverse:SecurityRole")}
    assert dev.urn("deployer-check") in deps("solution")
    for role in names(dev, "dataverse:SecurityRole"):
        assert dev.urn("solution") in deps(role), role
    integ = deps("access-integration-user")
    assert {dev.urn("role-integration-administrator"), dev.urn("role-integration-user"),
            dev.urn("licence-integration-user")} <= integ
    alex = deps("access-alex-wilber-contoso-onmicrosoft-com")
    assert {dev.urn("role-product-availability-user"), dev.urn("licence-alex-wilber-contoso-onmicrosoft-com"),
            dev.urn("access-integration-user")} <= alex
    lee = deps("access-lee-gu-contoso-onmicrosoft-com")  # no licence resource to wait for
    assert dev.urn("role-product-availability-user") in lee
    app_user = deps("application-user")
    assert dev.urn("app-service-principal") in app_user
    assert {dev.urn("role-integration-administrator"), dev.urn("role-integration-user")} <= app_user
    assert roles  # three roles


def test_components_parent_their_children(dev: Run) -> None:
    identity, sales = dev.urn("identity"), dev.urn("sales")
    for r in dev.resources:
        if r["type"].startswith(("azuread:", "random:")):
            assert r["parent"] == identity, r["name"]
        elif r["type"].startswith(DYNAMIC):
            assert r["parent"] == sales, r["name"]


# --- secrets -------------------------------------------------------------------------------------


def _plain_strings(value: Any) -> list[str]:
    """Every string in ``value`` that is NOT inside a secret wrapper."""
    if secret(value):
        return []
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_plain_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _plain_strings(v)]
    return [value] if isinstance(value, str) else []


def test_secrets_stay_secret(dev: Run) -> None:
    assert secret(dev.outputs["integrationUserPassword"])
    assert secret(dev.outputs["clientSecret"])
    assert unwrap(dev.outputs["clientSecret"]) == "mock-client-secret-value"
    plain = _plain_strings({"resources": dev.resources, "outputs": dev.outputs})
    for leaked in ("mock-password-integration-user-password", "mock-client-secret-value"):
        assert not [s for s in plain if leaked in s], f"{leaked} appears outside a secret"


def test_serialized_providers_hold_no_secret(local: Run) -> None:
    dumped = json.dumps(local.record)
    assert CANARY_SECRET not in dumped
    blobs = [unwrap(r["inputs"]["__provider"]) for r in local.of_type("") if "__provider" in r["inputs"]]
    assert len(blobs) == 10  # deployer check, solution, 3 roles, 4 user accesses, the application user
    for blob in blobs:
        raw = base64.b64decode(blob)
        assert b"infra.providers." in raw  # pickled by reference to the installed package, not by value
        assert CANARY_SECRET.encode() not in raw
        assert b"emu-deployer-secret" not in raw


# --- outputs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_outputs_present(runs: dict[str, Run], stack: str) -> None:
    out = runs[stack].outputs
    for key in ("environmentUrl", "tenantId", "integrationUserUpn", "clientId", "roleIds",
                "installedSolutionVersion", "solution"):
        assert out.get(key) not in (None, "", {}), f"{stack}: {key}"
    assert set(out["roleIds"]) == {"Integration Administrator", "Integration User", "Product Availability User"}
    if stack == "dev":
        assert {"integrationUserPassword", "clientSecret"} <= set(out)
    if stack == "prod":
        assert "integrationUserPassword" in out and "clientSecret" not in out
    if stack == "local":
        assert "integrationUserPassword" not in out and "clientSecret" not in out
        assert out["installedSolutionVersion"] == "1.0.0.0"


def test_seat_check(dev: Run, prod: Run, graph_emulator: Any) -> None:
    assert any("seat check skipped" in m for m in dev.infos())
    # prod ran the real check against the emulator's Graph (40 Sales seats, 31 used)
    assert any("DYN365_ENTERPRISE_SALES: 3 new assignment(s)" in m for m in prod.infos()), prod.infos()
    assert any(r.path.endswith("/subscribedSkus") for r in graph_emulator.requests)


def test_solution_path_in_state_is_project_relative(local: Run) -> None:
    """Absolute checkout paths would make every preview from another machine show a change."""
    from infra.program.config import PROJECT_ROOT
    from infra.program.sales import project_relative

    assert local.by_name("solution")["inputs"]["package_path"] == "solution/standin"
    assert project_relative(PROJECT_ROOT / "solution" / "x.zip") == "solution/x.zip"
    assert project_relative(Path("/srv/packages/x.zip")) == "/srv/packages/x.zip"  # outside: as given


# --- connectionSetup: what Business Central's connection setup and salesperson coupling ask for ----


def _systemuser_id(upn: str) -> str:
    from infra.program.identity import resource_slug
    from devkit.mockrun import _id

    return _id(f"{DYNAMIC}UserRoleAssignment", f"access-{resource_slug(upn)}")  # the mock's systemuser_id


def test_connection_setup_holds_what_business_central_asks_for(dev: Run) -> None:
    out = dev.outputs["connectionSetup"]
    # Under the mock runtime the SDK reports the whole object as secret; the real engine keeps only the
    # nested clientSecret encrypted in the state (tests/engine/test_secrets.py measures that).
    assert secret(out), "it carries the client secret, so the program must hand it over as a secret"
    setup = unwrap(out)
    assert setup["environmentUrl"] == "https://contoso-dev.crm.dynamics.com"
    assert setup["tenantId"] == "00000000-0000-0000-0000-000000000000"
    assert setup["integrationUserUpn"] == "bc-integration-dev@contoso.onmicrosoft.com"
    assert setup["clientId"] == unwrap(dev.outputs["clientId"])
    assert setup["clientSecret"] == "mock-client-secret-value"
    assert setup["installedSolutionVersion"] == "9.0.0.1"  # the vendor-like package's version
    # only salespeople with salespersonCode are coupled (lee.gu has none)
    assert setup["salespersonCoupling"] == {
        "AW": {"userPrincipalName": "alex.wilber@contoso.onmicrosoft.com",
               "systemUserId": _systemuser_id("alex.wilber@contoso.onmicrosoft.com")},
        "MB": {"userPrincipalName": "megan.bowen@contoso.onmicrosoft.com",
               "systemUserId": _systemuser_id("megan.bowen@contoso.onmicrosoft.com")},
    }


def test_connection_setup_without_client_secret_is_plain(prod: Run, local: Run) -> None:
    setup = prod.outputs["connectionSetup"]
    assert not secret(setup) and "clientSecret" not in setup
    assert set(setup) == {"environmentUrl", "tenantId", "integrationUserUpn", "clientId",
                          "installedSolutionVersion", "salespersonCoupling"}
    assert sorted(setup["salespersonCoupling"]) == ["AW", "MB"]
    local_setup = local.outputs["connectionSetup"]
    assert local_setup["clientId"] == seed_ids.BUSINESS_CENTRAL_APP_ID  # identityMode existing
    assert local_setup["installedSolutionVersion"] == "1.0.0.0"  # the stand-in
    assert local_setup["salespersonCoupling"] == {
        "SP01": {"userPrincipalName": "sales01@contoso.example", "systemUserId": _systemuser_id("sales01@contoso.example")},
        "SP02": {"userPrincipalName": "sales02@contoso.example", "systemUserId": _systemuser_id("sales02@contoso.example")},
    }
    assert CANARY_SECRET not in json.dumps(local.outputs)


@pytest.fixture(scope="module")
def business_central(tmp_path_factory: pytest.TempPathFactory) -> Run:
    from tests.program.conftest import run_stack

    return run_stack("dev", tmp_path_factory.mktemp("bc"), overrides={
        "solutionSource": "business-central", "solutionPath": None, "solutionMinimumVersion": "9.0.2",
        "allowUnmanagedSolution": False})


def test_business_central_source_imports_nothing_and_roles_wait_for_the_requirement(business_central: Run) -> None:
    run = business_central
    assert run.error is None, run.error
    assert run.of_type("dataverse:SolutionImport") == []
    requirement = run.by_name("solution")
    assert requirement["type"] == f"{DYNAMIC}SolutionRequirement"
    assert {k: requirement["inputs"][k] for k in ("unique_name", "minimum_version", "require_managed")} == {
        "unique_name": facts.SALES_INTEGRATION_SOLUTION, "minimum_version": "9.0.2", "require_managed": True}
    assert run.urn("deployer-check") in requirement["dependencies"]
    for role in run.of_type("dataverse:SecurityRole"):
        assert requirement["urn"] in role["dependencies"], role["name"]
    assert run.by_name("role-integration-user")["inputs"]["role_id"] == facts.INTEGRATION_USER_ROLE_ID
    assert run.outputs["solution"] == {"uniqueName": facts.SALES_INTEGRATION_SOLUTION, "source": "business-central",
                                       "minimumVersion": "9.0.2"}
    assert unwrap(run.outputs["connectionSetup"])["installedSolutionVersion"] == "9.0.2"
