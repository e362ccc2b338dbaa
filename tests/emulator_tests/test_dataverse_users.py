"""Dataverse surface over HTTPS: authentication, WhoAmI, business units, systemusers, role
assignment, RetrieveUserPrivileges and the provisioning delay of licensed Entra users."""

from __future__ import annotations

import time
from typing import Any, Iterator

import httpx
import pytest

from emulator.seed import ids
from tests.emulator_tests.testkit import (CHILD_BU, DEPLOYER, DEPLOYER_USER, INTEGRATION_USER, LIMITED,
                                          LIMITED_USER, ROOT_BU, SALES01_USER, SALES26_USER, SALESPERSON_ROLE,
                                          DvClient, get_token, tls)

BC_APP = ids.BUSINESS_CENTRAL_APP_ID
NEW_HIRE = ids.NEW_HIRE_OBJECT_ID
SALES_SKU = ids.SALES_SKU_ID


@pytest.fixture
def dv(emulator: Any) -> Iterator[DvClient]:
    client = DvClient(emulator)
    yield client
    client.close()


@pytest.fixture
def limited(emulator: Any) -> Iterator[DvClient]:
    client = DvClient(emulator, LIMITED)
    yield client
    client.close()


# -- authentication ------------------------------------------------------------------------------
def test_whoami_is_the_application_user_of_the_token(dv: DvClient) -> None:
    r = dv.get("WhoAmI")
    assert r.status_code == 200 and r.headers["OData-Version"] == "4.0"
    assert r.json()["UserId"] == DEPLOYER_USER and r.json()["BusinessUnitId"] == ROOT_BU


def test_missing_wrong_audience_and_expired_tokens_get_401(emulator: Any) -> None:
    base = emulator.urls.environment_url + "/api/data/v9.2/WhoAmI"
    http = httpx.Client(verify=tls(emulator))
    r = http.get(base)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")
    graph_token = get_token(emulator, DEPLOYER, "https://graph.microsoft.com/.default")
    assert http.get(base, headers={"Authorization": f"Bearer {graph_token}"}).status_code == 401
    token = get_token(emulator)
    assert http.get(base, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    real_clock = emulator.ctx.clock
    emulator.ctx.clock = lambda: real_clock() + 7200
    try:
        r = http.get(base, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401 and "expired" in r.json()["error"]["message"]
    finally:
        emulator.ctx.clock = real_clock


def test_token_of_an_app_without_systemuser_is_refused(emulator: Any, limited: DvClient) -> None:
    emulator.dataverse.soft_delete_user(LIMITED_USER)
    r = limited.get("WhoAmI")
    assert r.status_code == 403 and "not a member" in r.json()["error"]["message"]


# -- business units and users ---------------------------------------------------------------------
def test_root_business_unit_query(dv: DvClient) -> None:
    rows = dv.value("businessunits?$select=businessunitid,name&$filter=parentbusinessunitid eq null")
    assert [r["businessunitid"] for r in rows] == [ROOT_BU]
    assert set(rows[0]) == {"@odata.etag", "businessunitid", "name"}


def test_systemusers_by_object_id_application_id_and_key(dv: DvClient) -> None:
    rows = dv.value("systemusers?$select=systemuserid,accessmode,isdisabled"
                    "&$filter=azureactivedirectoryobjectid eq 6b1c2d3e-0000-4000-8000-00000000e000")
    assert [r["systemuserid"] for r in rows] == [INTEGRATION_USER] and rows[0]["accessmode"] == 0
    rows = dv.value(f"systemusers?$select=systemuserid&$filter=applicationid eq {DEPLOYER[0]}")
    assert [r["systemuserid"] for r in rows] == [DEPLOYER_USER]
    r = dv.get(f"systemusers({SALES26_USER})?$select=_businessunitid_value,islicensed")
    assert r.status_code == 200 and r.json()["_businessunitid_value"] == CHILD_BU and r.json()["islicensed"] is True
    assert r.headers["ETag"] == r.json()["@odata.etag"]
    assert dv.get("systemusers(6b1c2d3e-0000-4000-8000-0000000fffff)").status_code == 404
    r = dv.get("systemusers?$select=systemuserid,objectid")
    assert r.status_code == 400 and r.json()["error"]["code"] == "0x0"


def test_patch_user_to_non_interactive_integration_user(dv: DvClient, emulator: Any) -> None:
    r = dv.patch(f"systemusers({INTEGRATION_USER})", {"accessmode": 4, "isintegrationuser": True})
    assert r.status_code == 204 and r.headers["OData-EntityId"].endswith(f"systemusers({INTEGRATION_USER})")
    user = emulator.dataverse.systemusers[INTEGRATION_USER]
    assert user["accessmode"] == 4 and user["isintegrationuser"] is True
    r = dv.patch(f"systemusers({INTEGRATION_USER})", {"isdisabled": False},
                 headers={"Prefer": "return=representation"})
    assert r.status_code == 200 and r.json()["isdisabled"] is False


def test_patch_user_strict_refusals(dv: DvClient, limited: DvClient) -> None:
    r = dv.patch(f"systemusers({INTEGRATION_USER})", {"acessmode": 4})
    assert r.status_code == 400 and r.json()["error"]["code"] == "0x80048d19"
    assert dv.patch(f"systemusers({INTEGRATION_USER})", {"applicationid": BC_APP}).status_code == 400
    assert dv.patch(f"systemusers({INTEGRATION_USER})", {"accessmode": 9}).status_code == 400
    r = dv.patch(f"systemusers({INTEGRATION_USER})", {"accessmode": 4}, headers={"If-Match": 'W/"1"'})
    assert r.status_code == 412
    etag = dv.get(f"systemusers({INTEGRATION_USER})").json()["@odata.etag"]
    assert dv.patch(f"systemusers({INTEGRATION_USER})", {"accessmode": 4}, headers={"If-Match": etag}).status_code == 204
    r = dv.patch("systemusers(6b1c2d3e-0000-4000-8000-0000000fffff)", {"accessmode": 4}, headers={"If-Match": "*"})
    assert r.status_code == 404
    r = limited.patch(f"systemusers({INTEGRATION_USER})", {"accessmode": 4})
    assert r.status_code == 403 and r.json()["error"]["code"] == "0x80040220"
    assert "prvWriteUser" in r.json()["error"]["message"]


def test_create_application_user_once_per_app(dv: DvClient, emulator: Any) -> None:
    body = {"applicationid": BC_APP, "accessmode": 4, "isdisabled": False,
            "businessunitid@odata.bind": f"/businessunits({ROOT_BU})"}
    r = dv.post("systemusers", body, headers={"Prefer": "return=representation"})
    assert r.status_code == 201, r.text
    assert r.json()["applicationid"] == BC_APP and r.json()["accessmode"] == 4
    assert r.json()["fullname"] == "# Business Central integration"
    r = dv.post("systemusers", body)
    assert r.status_code == 409 and r.json()["error"]["code"] == "0x80040237"
    # a soft-deleted user of the app keeps blocking until purged (out-of-band, see docs/emulator.md)
    uid = dv.value(f"systemusers?$filter=applicationid eq {BC_APP}")[0]["systemuserid"]
    emulator.dataverse.soft_delete_user(uid)
    assert dv.value(f"systemusers?$filter=applicationid eq {BC_APP}") == []
    assert dv.post("systemusers", body).status_code == 409
    emulator.dataverse.purge_soft_deleted(BC_APP)
    r = dv.post("systemusers", body)
    assert r.status_code == 204 and "systemusers(" in r.headers["OData-EntityId"]


def test_create_application_user_refusals(dv: DvClient, limited: DvClient) -> None:
    body = {"applicationid": BC_APP, "businessunitid@odata.bind": f"/businessunits({ROOT_BU})"}
    assert limited.post("systemusers", body).status_code == 403
    assert dv.post("systemusers", {**body, "nickname": "x"}).status_code == 400
    assert dv.post("systemusers", {**body, "accessmode": 0}).status_code == 400
    assert dv.post("systemusers", {"businessunitid@odata.bind": f"/businessunits({ROOT_BU})"}).status_code == 400


# -- roles of users -------------------------------------------------------------------------------
def test_assign_list_and_remove_roles(dv: DvClient, emulator: Any) -> None:
    copy_id = emulator.dataverse.copies_of(SALESPERSON_ROLE)[0]["roleid"]
    r = dv.post(f"systemusers({SALES26_USER})/systemuserroles_association/$ref",
                {"@odata.id": f"{dv.base}roles({copy_id})"})
    assert r.status_code == 204, r.text
    rows = dv.value(f"systemusers({SALES26_USER})/systemuserroles_association?$select=roleid,name,_roletemplateid_value")
    assert [(x["roleid"], x["name"]) for x in rows] == [(copy_id, "Salesperson")]
    expanded = dv.get(f"systemusers({SALES26_USER})?$select=fullname&$expand=systemuserroles_association($select=name)")
    assert expanded.json()["systemuserroles_association"][0]["name"] == "Salesperson"
    r = dv.delete(f"systemusers({SALES26_USER})/systemuserroles_association({copy_id})/$ref")
    assert r.status_code == 204 and emulator.dataverse.user_role_ids(SALES26_USER) == []
    assert dv.delete(f"systemusers({SALES26_USER})/systemuserroles_association({copy_id})/$ref").status_code == 404


def test_role_of_another_business_unit_is_refused(dv: DvClient, limited: DvClient) -> None:
    r = dv.post(f"systemusers({SALES26_USER})/systemuserroles_association/$ref",
                {"@odata.id": f"{dv.base}roles({SALESPERSON_ROLE})"})
    assert r.status_code == 400 and "business unit" in r.json()["error"]["message"]
    r = limited.post(f"systemusers({SALES01_USER})/systemuserroles_association/$ref",
                     {"@odata.id": f"{dv.base}roles({SALESPERSON_ROLE})"})
    assert r.status_code == 403


def test_retrieve_user_privileges(dv: DvClient) -> None:
    r = dv.get(f"systemusers({SALES01_USER})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()")
    assert r.status_code == 200
    privs = {p["PrivilegeName"]: p for p in r.json()["RolePrivileges"]}
    assert privs["prvReadAccount"]["Depth"] == "Basic" and privs["prvReadAccount"]["BusinessUnitId"] == ROOT_BU
    assert "prvDeleteAccount" not in privs
    admin = dv.get(f"systemusers({DEPLOYER_USER})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()").json()
    assert {p["PrivilegeName"]: p["Depth"] for p in admin["RolePrivileges"]}["prvImportSolution"] == "Global"


# -- provisioning of licensed Entra users ---------------------------------------------------------
def test_licensed_user_appears_only_after_provisioning_delay(emulator_factory: Any) -> None:
    emu = emulator_factory(provisioning_delay_s=120)
    now = [time.time()]
    emu.ctx.clock = lambda: now[0]
    dv = DvClient(emu)
    query = f"systemusers?$select=systemuserid,accessmode,islicensed,_businessunitid_value&$filter=azureactivedirectoryobjectid eq {NEW_HIRE}"
    assert dv.value(query) == []
    emu.graph.update_user(NEW_HIRE, {"usageLocation": "US"})
    emu.graph.assign_license(NEW_HIRE, [{"skuId": SALES_SKU, "disabledPlans": []}], [])
    now[0] += 60
    assert dv.value(query) == []
    now[0] += 61
    rows = dv.value(query)
    assert len(rows) == 1 and rows[0]["accessmode"] == 0 and rows[0]["islicensed"] is True
    assert rows[0]["_businessunitid_value"] == ROOT_BU
    dv.close()
