"""emulator/seed/ids.py names the default seed's identifiers: every value must be the seed's."""

from __future__ import annotations

import pytest

from emulator.seed import DEFAULT_SEED_PATH, load_seed
from emulator.seed import ids


@pytest.fixture(scope="module")
def seed() -> dict:
    return load_seed(DEFAULT_SEED_PATH)


def test_tenant_apps_and_secrets(seed: dict) -> None:
    assert seed["tenant"]["id"] == ids.TENANT_ID
    assert seed["tenant"]["default_domain"] == ids.DEFAULT_DOMAIN
    apps = {a["name"]: a for a in seed["apps"]}
    assert (apps["deployer"]["client_id"], apps["deployer"]["service_principal_id"], apps["deployer"]["secrets"]) == (
        ids.DEPLOYER_CLIENT_ID, ids.DEPLOYER_SERVICE_PRINCIPAL_ID, [ids.DEPLOYER_SECRET])
    assert (apps["limited"]["client_id"], apps["limited"]["service_principal_id"], apps["limited"]["secrets"]) == (
        ids.LIMITED_CLIENT_ID, ids.LIMITED_SERVICE_PRINCIPAL_ID, [ids.LIMITED_SECRET])
    assert apps["business-central"]["client_id"] == ids.BUSINESS_CENTRAL_APP_ID
    deployer_fic = apps["deployer"]["federated_credentials"][0]
    assert (deployer_fic["issuer"], deployer_fic["subject"]) == (ids.GITHUB_ISSUER, ids.GITHUB_DEV_SUBJECT)
    limited_fic = apps["limited"]["federated_credentials"][0]
    assert (limited_fic["issuer"], limited_fic["subject"]) == (ids.AZURE_DEVOPS_ISSUER, ids.AZURE_DEVOPS_LIMITED_SUBJECT)


def test_users_groups_and_skus(seed: dict) -> None:
    users = {u["upn"]: u for u in seed["users"]}
    assert users[ids.INTEGRATION_USER_UPN]["object_id"] == ids.INTEGRATION_USER_OBJECT_ID
    assert users[ids.NEW_HIRE_UPN]["object_id"] == ids.NEW_HIRE_OBJECT_ID
    sales = sorted(upn for upn in users if upn.startswith("sales"))
    assert sales == [ids.salesperson_upn(n) for n in range(1, ids.SALESPEOPLE + 1)]
    assert all(users[ids.salesperson_upn(n)]["object_id"] == ids.salesperson_object_id(n)
               for n in range(1, ids.SALESPEOPLE + 1))
    with pytest.raises(ValueError, match="1..30"):
        ids.salesperson_object_id(ids.SALESPEOPLE + 1)
    group = seed["groups"][0]
    assert (group["id"], group["licenses"]) == (ids.SALES_LICENSING_GROUP_ID, ["DYN365_ENTERPRISE_SALES"])
    skus = {s["sku_part_number"]: s["sku_id"] for s in seed["skus"]}
    assert skus == {"DYN365_ENTERPRISE_SALES": ids.SALES_SKU_ID, "DYN365_ENTERPRISE_TEAM_MEMBERS": ids.TEAM_MEMBERS_SKU_ID,
                    "DYN365_BUSCENTRAL_ESSENTIAL": ids.BUSINESS_CENTRAL_SKU_ID}


def test_dataverse(seed: dict) -> None:
    dv = seed["dataverse"]
    assert dv["organization_id"] == ids.ORGANIZATION_ID
    assert [(b["id"], b["parent"]) for b in dv["business_units"]] == [
        (ids.ROOT_BUSINESS_UNIT_ID, None), (ids.CHILD_BUSINESS_UNIT_ID, ids.ROOT_BUSINESS_UNIT_ID)]
    roles = {r["name"]: (r["id"], r["template_id"]) for r in dv["roles"]}
    assert roles == {
        "System Administrator": (ids.SYSTEM_ADMINISTRATOR_ROLE_ID, ids.SYSTEM_ADMINISTRATOR_TEMPLATE_ID),
        "System Customizer": (ids.SYSTEM_CUSTOMIZER_ROLE_ID, ids.SYSTEM_CUSTOMIZER_TEMPLATE_ID),
        ids.SALESPERSON_ROLE: (ids.SALESPERSON_ROLE_ID, None),
        "Sales Manager": (ids.SALES_MANAGER_ROLE_ID, None)}
    by_app = {u["application_id"]: u["id"] for u in dv["systemusers"] if u.get("application_id")}
    assert by_app == {ids.DEPLOYER_CLIENT_ID: ids.DEPLOYER_SYSTEMUSER_ID, ids.LIMITED_CLIENT_ID: ids.LIMITED_SYSTEMUSER_ID}
    by_oid = {u["object_id"]: u["id"] for u in dv["systemusers"] if u.get("object_id")}
    assert by_oid[ids.INTEGRATION_USER_OBJECT_ID] == ids.INTEGRATION_SYSTEMUSER_ID
    assert all(by_oid[ids.salesperson_object_id(n)] == ids.salesperson_systemuser_id(n)
               for n in range(1, ids.SALESPEOPLE + 1))
