"""Dataverse surface over HTTPS: roles, the privilege catalog and role privileges."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from emulator.dataverse.catalog import privilege_id
from tests.emulator_tests.testkit import CHILD_BU, LIMITED, ROOT_BU, SYSADMIN_ROLE, DvClient

ROLE_ID = "8c8d4f51-a72b-e511-80d9-3863bb349780"


@pytest.fixture
def dv(emulator: Any) -> Iterator[DvClient]:
    client = DvClient(emulator)
    yield client
    client.close()


def _create(dv: DvClient, role_id: str = ROLE_ID, name: str = "Integration Administrator", **headers: str) -> Any:
    return dv.post("roles", {"roleid": role_id, "name": name, "businessunitid@odata.bind": f"/businessunits({ROOT_BU})"},
                   headers=headers)


def test_create_role_with_chosen_id_and_child_copies(dv: DvClient) -> None:
    r = _create(dv, Prefer="return=representation")
    assert r.status_code == 201, r.text
    assert r.json()["roleid"] == ROLE_ID and r.json()["_businessunitid_value"] == ROOT_BU
    assert r.json()["ismanaged"] is False and r.headers["OData-EntityId"].endswith(f"roles({ROLE_ID})")
    rows = dv.value(f"roles?$select=roleid,name,_businessunitid_value&$filter=_parentrootroleid_value eq {ROLE_ID} "
                    f"and _businessunitid_value eq {CHILD_BU}")
    assert len(rows) == 1 and rows[0]["roleid"] != ROLE_ID and rows[0]["name"] == "Integration Administrator"
    found = dv.value(f"roles?$select=roleid,name,ismanaged&$filter=name eq 'integration administrator' "
                     f"and _businessunitid_value eq {ROOT_BU}")
    assert [x["roleid"] for x in found] == [ROLE_ID]
    assert _create(dv).status_code == 409


def test_rename_delete_and_managed_refusal(dv: DvClient, emulator: Any) -> None:
    assert _create(dv).status_code == 204
    r = dv.patch(f"roles({ROLE_ID})", {"name": "Renamed"})
    assert r.status_code == 204
    assert {x["name"] for x in emulator.dataverse.roles.values() if x["_parentrootroleid_value"] == ROLE_ID} == {"Renamed"}
    assert dv.patch(f"roles({ROLE_ID})", {"businessunitid@odata.bind": f"/businessunits({CHILD_BU})"}).status_code == 400
    assert dv.delete(f"roles({ROLE_ID})").status_code == 204
    assert dv.get(f"roles({ROLE_ID})").status_code == 404
    assert not emulator.dataverse.copies_of(ROLE_ID)
    r = dv.delete(f"roles({SYSADMIN_ROLE})")
    assert r.status_code == 400 and "managed" in r.json()["error"]["message"]


def test_patch_upsert_and_preconditions(dv: DvClient) -> None:
    r = dv.patch(f"roles({ROLE_ID})", {"name": "Upserted", "businessunitid@odata.bind": f"/businessunits({ROOT_BU})"},
                 headers={"If-None-Match": "*"})
    assert r.status_code == 204
    r = dv.patch(f"roles({ROLE_ID})", {"name": "Again"}, headers={"If-None-Match": "*"})
    assert r.status_code == 412
    assert dv.patch("roles(6b1c2d3e-0000-4000-8000-0000000fff01)", {"name": "x"},
                    headers={"If-Match": "*"}).status_code == 404
    etag = dv.get(f"roles({ROLE_ID})").json()["@odata.etag"]
    assert dv.get(f"roles({ROLE_ID})", headers={"If-None-Match": etag}).status_code == 304
    assert dv.patch(f"roles({ROLE_ID})", {"name": "New"}, headers={"If-Match": etag}).status_code == 204
    assert dv.patch(f"roles({ROLE_ID})", {"name": "Stale"}, headers={"If-Match": etag}).status_code == 412


def test_solution_unique_name_header(dv: DvClient, emulator: Any) -> None:
    assert _create(dv, **{"MSCRM.SolutionUniqueName": "Default"}).status_code == 204
    assert ROLE_ID in emulator.dataverse.solution_components["Default"]["roles"]
    r = _create(dv, "6b1c2d3e-0000-4000-8000-0000000fff02", "Other", **{"MSCRM.SolutionUniqueName": "NoSuch"})
    assert r.status_code == 400


def test_role_writes_need_admin(emulator: Any, dv: DvClient) -> None:
    limited = DvClient(emulator, LIMITED)
    r = _create(limited)
    assert r.status_code == 403 and "prvCreateRole" in r.json()["error"]["message"]
    assert _create(dv).status_code == 204
    assert limited.patch(f"roles({ROLE_ID})", {"name": "x"}).status_code == 403
    assert limited.delete(f"roles({ROLE_ID})").status_code == 403
    read = privilege_id("prvReadAccount")
    r = limited.post(f"roles({ROLE_ID})/Microsoft.Dynamics.CRM.AddPrivilegesRole",
                     {"Privileges": [{"PrivilegeId": read, "Depth": "Global", "BusinessUnitId": ROOT_BU}]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "0x80040220"
    limited.close()


def test_privilege_catalog_lookup_by_names(dv: DvClient) -> None:
    rows = dv.value("privileges?$select=privilegeid,name,canbebasic,canbelocal,canbedeep,canbeglobal"
                    "&$filter=Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues="
                    "['prvReadAccount','prvReadUserEntityUISettings','prvActOnBehalfOfAnotherUser','prvNope'])")
    by = {r["name"]: r for r in rows}
    assert set(by) == {"prvReadAccount", "prvReadUserEntityUISettings", "prvActOnBehalfOfAnotherUser"}
    assert by["prvReadUserEntityUISettings"]["canbebasic"] and not by["prvReadUserEntityUISettings"]["canbeglobal"]
    assert by["prvActOnBehalfOfAnotherUser"]["canbeglobal"] and not by["prvActOnBehalfOfAnotherUser"]["canbelocal"]


def test_add_replace_remove_and_retrieve_role_privileges(dv: DvClient, emulator: Any) -> None:
    assert _create(dv).status_code == 204
    read, write = privilege_id("prvReadAccount"), privilege_id("prvWriteAccount")
    act = privilege_id("prvActOnBehalfOfAnotherUser")
    url = f"roles({ROLE_ID})/Microsoft.Dynamics.CRM."
    r = dv.post(url + "AddPrivilegesRole", {"Privileges": [
        {"PrivilegeId": read, "Depth": "Global", "BusinessUnitId": ROOT_BU}, {"PrivilegeId": act, "Depth": 3}]})
    assert r.status_code == 204, r.text
    got = dv.get(f"RetrieveRolePrivilegesRole(RoleId={ROLE_ID})").json()["RolePrivileges"]
    assert {(p["PrivilegeName"], p["Depth"]) for p in got} == {("prvReadAccount", "Global"),
                                                               ("prvActOnBehalfOfAnotherUser", "Global")}
    assert all(p["BusinessUnitId"] == ROOT_BU for p in got)
    r = dv.post(url + "ReplacePrivilegesRole", {"Privileges": [{"PrivilegeId": write, "Depth": "Basic",
                                                                "BusinessUnitId": ROOT_BU}]})
    assert r.status_code == 204
    assert emulator.dataverse.role_privileges(ROLE_ID) == [
        {"PrivilegeId": write, "PrivilegeName": "prvWriteAccount", "Depth": "Basic", "BusinessUnitId": ROOT_BU}]
    copy_id = emulator.dataverse.copies_of(ROLE_ID)[0]["roleid"]
    assert [p["PrivilegeName"] for p in dv.get(f"RetrieveRolePrivilegesRole(RoleId={copy_id})").json()["RolePrivileges"]] \
        == ["prvWriteAccount"]
    assert dv.post(url + "RemovePrivilegeRole", {"PrivilegeId": write}).status_code == 400  # not the real parameter
    ref = {"Privilege": {"@odata.type": "Microsoft.Dynamics.CRM.privilege", "privilegeid": write}}
    assert dv.post(url + "RemovePrivilegeRole", ref).status_code == 204
    assert emulator.dataverse.role_privileges(ROLE_ID) == []
    assert dv.post(url + "RemovePrivilegeRole", ref).status_code == 404


@pytest.mark.parametrize("entry, status", [
    ({"PrivilegeId": privilege_id("prvReadProduct"), "Depth": "Basic"}, 400),        # org-owned: Global only
    ({"PrivilegeId": privilege_id("prvReadUserEntityUISettings"), "Depth": "Global"}, 400),
    ({"PrivilegeId": privilege_id("prvActOnBehalfOfAnotherUser"), "Depth": "Local"}, 400),
    ({"PrivilegeId": privilege_id("prvReadAccount"), "Depth": "Everywhere"}, 400),
    ({"PrivilegeId": privilege_id("prvReadAccount"), "Depth": "Global", "Level": 1}, 400),
    ({"PrivilegeId": "6b1c2d3e-0000-4000-8000-0000000fff03", "Depth": "Global"}, 404),
])
def test_privilege_refusals_change_nothing(dv: DvClient, emulator: Any, entry: dict[str, Any], status: int) -> None:
    assert _create(dv).status_code == 204
    ok = {"PrivilegeId": privilege_id("prvReadAccount"), "Depth": "Global"}
    r = dv.post(f"roles({ROLE_ID})/Microsoft.Dynamics.CRM.AddPrivilegesRole", {"Privileges": [ok, entry]})
    assert r.status_code == status, r.text
    assert emulator.dataverse.role_privileges(ROLE_ID) == []


def test_out_of_band_privilege_edits(emulator: Any, dv: DvClient) -> None:
    assert _create(dv).status_code == 204
    emulator.dataverse.set_role_privileges(ROLE_ID, {"prvReadContact": "Deep"})
    got = dv.get(f"RetrieveRolePrivilegesRole(RoleId={ROLE_ID})").json()["RolePrivileges"]
    assert [(p["PrivilegeName"], p["Depth"]) for p in got] == [("prvReadContact", "Deep")]


def test_non_customizable_managed_role_cannot_change(dv: DvClient, emulator: Any) -> None:
    from tests.emulator_tests.testkit import SALESPERSON_ROLE
    entry = {"Privileges": [{"PrivilegeId": privilege_id("prvReadAccount"), "Depth": "Global"}]}
    r = dv.post(f"roles({SYSADMIN_ROLE})/Microsoft.Dynamics.CRM.AddPrivilegesRole", entry)
    assert r.status_code == 400 and "not customizable" in r.json()["error"]["message"]
    assert dv.patch(f"roles({SYSADMIN_ROLE})", {"name": "Root"}).status_code == 400
    assert dv.post(f"roles({SALESPERSON_ROLE})/Microsoft.Dynamics.CRM.AddPrivilegesRole", entry).status_code == 204
    assert {"PrivilegeName": "prvReadAccount", "Depth": "Global"}.items() <= next(
        p for p in emulator.dataverse.role_privileges(SALESPERSON_ROLE) if p["PrivilegeName"] == "prvReadAccount").items()


@pytest.mark.parametrize("body", [{"name": "X", "isinherited": "yes"}, {"name": ""}, {"name": "x" * 101},
                                  {"name": "X", "roleid": "not-a-guid"}])
def test_invalid_role_values_are_400(dv: DvClient, body: dict[str, Any]) -> None:
    r = dv.post("roles", body)
    assert r.status_code == 400 and r.json()["error"]["code"] != "0x80040216", r.text
