"""Plain-Python tests of the Dataverse surface's pieces: OData parsing, catalog, store rules,
solution zip reading and the streamed upload decoder."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from typing import Any

import pytest

from emulator.dataverse import catalog, odata
from emulator.dataverse.bigbody import read_blob_body
from emulator.dataverse.errors import DataverseError
from emulator.dataverse.schema import BUSINESSUNIT, ENTITY_SETS, ROLE, SYSTEMUSER
from emulator.dataverse.solution_zip import read_package
from emulator.dataverse.store import DataverseStore
from emulator.seed import ids, load_seed
from tests.emulator_tests.testkit import (CHILD_BU, DEPLOYER_USER, LIMITED_USER, ROOT_BU, SALES01_USER,
                                          SALES26_USER, SALESPERSON_ROLE, solution_zip)


@pytest.fixture
def store() -> DataverseStore:
    return DataverseStore(load_seed(), clock=lambda: 1000.0)


# -- $filter -------------------------------------------------------------------------------------
def test_filter_and_or_parentheses_case_insensitive_strings() -> None:
    pred = odata.parse_filter(ROLE, f"name eq 'o''Brien' and (_businessunitid_value eq {ROOT_BU.upper()} or ismanaged eq true)")
    assert pred({"name": "O'BRIEN", "_businessunitid_value": ROOT_BU, "ismanaged": False})
    assert not pred({"name": "O'BRIEN", "_businessunitid_value": CHILD_BU, "ismanaged": False})
    assert pred({"name": "o'brien", "_businessunitid_value": CHILD_BU, "ismanaged": True})


def test_filter_null_navigation_ne_and_in() -> None:
    root = odata.parse_filter(BUSINESSUNIT, "parentbusinessunitid eq null")
    assert root({"_parentbusinessunitid_value": None}) and not root({"_parentbusinessunitid_value": ROOT_BU})
    ne = odata.parse_filter(SYSTEMUSER, "accessmode ne 4 and isdisabled eq false")
    assert ne({"accessmode": 0, "isdisabled": False}) and not ne({"accessmode": 4, "isdisabled": False})
    inn = odata.parse_filter(ENTITY_SETS["privileges"],
                             "Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['prvReadAccount','prvWriteAccount'])")
    assert inn({"name": "prvwriteaccount"}) and not inn({"name": "prvDeleteAccount"})


@pytest.mark.parametrize("text, fragment", [
    ("roleid eq '6b1c2d3e-0000-4000-8000-00000000a101'", "incompatible types"),
    ("Name eq 'x'", "Could not find a property named 'Name'"),
    ("name eq", "Syntax error"),
    ("(name eq 'x'", "Syntax error"),
])
def test_filter_refusals(text: str, fragment: str) -> None:
    with pytest.raises(DataverseError) as err:
        odata.parse_filter(ROLE, text)
    assert err.value.status == 400 and err.value.code == "0x0" and fragment in err.value.message


def test_select_unknown_and_skip_refused() -> None:
    with pytest.raises(DataverseError, match="Could not find a property named 'nope'"):
        odata.parse_select(ROLE, "name,nope")
    with pytest.raises(DataverseError, match=r"\$skip is not supported"):
        odata.parse_query(ROLE, {"$skip": "2"}, ENTITY_SETS)


def test_paging_offsets_and_skiptoken_roundtrip() -> None:
    q = odata.parse_query(ROLE, {"$skiptoken": odata.encode_skiptoken(2)}, ENTITY_SETS)
    page, nxt, total = odata.run_collection([{"n": i} for i in range(5)], q, 2)
    assert page == [{"n": 2}, {"n": 3}] and nxt == 4 and total == 5
    with pytest.raises(DataverseError):
        odata.decode_skiptoken("garbage")


# -- catalog -------------------------------------------------------------------------------------
def test_catalog_depth_rules() -> None:
    privs = {p["name"]: p for p in catalog.standard_privileges()}
    def depths(name: str) -> tuple[bool, ...]:
        p = privs[name]
        return p["canbebasic"], p["canbelocal"], p["canbedeep"], p["canbeglobal"]
    assert depths("prvReadAccount") == (True, True, True, True)
    assert depths("prvReadProduct") == (False, False, False, True)            # organization-owned
    assert depths("prvReadUserEntityUISettings") == (True, False, False, False)
    assert depths("prvActOnBehalfOfAnotherUser") == (False, False, False, True)
    assert {n for n in privs if n.endswith("Organization")} == {"prvReadOrganization", "prvWriteOrganization",
                                                                 "prvAppendToOrganization"}
    for name in ("prvReadUser", "prvCreateOrder", "prvAppendNote", "prvReadIncident", "prvReadQuery",
                 "prvWriteTransactionCurrency", "prvReadSdkMessageProcessingStep", "prvWritemsdyn_PostConfig",
                 "prvReadAppModule", "prvReadAttribute", "prvReadRelationship", "prvWriteSystemForm"):
        assert name in privs, name
    assert "prvAssignProduct" not in privs and "prvShareAccount" in privs


def test_solution_table_privileges() -> None:
    user = {p["name"]: p for p in catalog.solution_table_privileges("nav_Connection", "user")}
    org = {p["name"]: p for p in catalog.solution_table_privileges("nav_Stats", "organization")}
    assert len(user) == 8 and user["prvAssignnav_Connection"]["canbebasic"]
    assert len(org) == 6 and "prvSharenav_Stats" not in org and not org["prvReadnav_Stats"]["canbelocal"]


# -- store ---------------------------------------------------------------------------------------
def test_root_role_creates_copies_in_child_bus(store: DataverseStore) -> None:
    rid = "11111111-2222-4333-8444-555555555555"
    store.create_role(rid, "Integration Test", ROOT_BU)
    copies = store.copies_of(rid)
    assert [c["_businessunitid_value"] for c in copies] == [CHILD_BU]
    assert copies[0]["_parentrootroleid_value"] == rid and store.roles[rid]["_parentrootroleid_value"] == rid
    store.update_role(rid, {"name": "Renamed"})
    assert copies[0]["name"] == "Renamed"
    with pytest.raises(DataverseError) as err:
        store.update_role(copies[0]["roleid"], {"name": "x"})
    assert err.value.status == 400


def test_role_from_other_business_unit_refused(store: DataverseStore) -> None:
    with pytest.raises(DataverseError) as err:
        store.associate_role(SALES26_USER, SALESPERSON_ROLE)
    assert err.value.status == 400 and "business unit" in err.value.message
    copy = next(r for r in store.copies_of(SALESPERSON_ROLE))
    store.associate_role(SALES26_USER, copy["roleid"])
    assert copy["roleid"] in store.user_role_ids(SALES26_USER)


def test_privilege_depth_validation_is_all_or_nothing(store: DataverseStore) -> None:
    rid = store.create_role(None, "Depths", ROOT_BU)["roleid"]
    read_account = store.privilege_by_name("prvReadAccount")["privilegeid"]
    read_product = store.privilege_by_name("prvReadProduct")["privilegeid"]
    with pytest.raises(DataverseError) as err:
        store.change_role_privileges(rid, [(read_account, "Global"), (read_product, "Basic")], replace=False)
    assert err.value.status == 400 and "prvReadProduct" in err.value.message
    assert store.role_privileges(rid) == []
    store.change_role_privileges(rid, [(read_account, 1), (read_product, "3")], replace=False)
    assert {p["PrivilegeName"]: p["Depth"] for p in store.role_privileges(rid)} == {
        "prvReadAccount": "Local", "prvReadProduct": "Global"}


def test_admin_check_and_privilege_message(store: DataverseStore) -> None:
    assert store.is_admin(DEPLOYER_USER) and not store.is_admin(LIMITED_USER)
    with pytest.raises(DataverseError) as err:
        store.require_admin(store.systemusers[LIMITED_USER], "prvImportSolution", "solution")
    assert err.value.status == 403 and err.value.code == "0x80040220"
    assert f"Principal user (Id={LIMITED_USER}, type=8, roleCount=1" in err.value.message
    assert "is missing prvImportSolution privilege" in err.value.message


def test_application_user_unique_even_when_soft_deleted(store: DataverseStore) -> None:
    app = ids.BUSINESS_CENTRAL_APP_ID
    uid = store.create_application_user(app, ROOT_BU)["systemuserid"]
    with pytest.raises(DataverseError) as err:
        store.create_application_user(app, ROOT_BU)
    assert err.value.code == "0x80040237"
    store.soft_delete_user(uid)
    assert uid not in store.systemusers
    with pytest.raises(DataverseError, match="soft-deleted"):
        store.create_application_user(app, ROOT_BU)
    assert store.purge_soft_deleted(app) == 1
    store.create_application_user(app, ROOT_BU)


def test_snapshot_restore_roundtrip(store: DataverseStore) -> None:
    state = json.loads(json.dumps(store.snapshot()))
    store.create_role(None, "Transient", ROOT_BU)
    store.restore(state)
    assert not any(r["name"] == "Transient" for r in store.roles.values())
    assert store.user_role_ids(SALES01_USER) == [SALESPERSON_ROLE]


# -- packages ------------------------------------------------------------------------------------
def test_read_package_roles_tables_and_refusals() -> None:
    data = solution_zip("emu_Pkg", "2.1.0.3", True, roles=[("aaaaaaaa-0000-4000-8000-000000000001", "Pkg Role",
                                                          {"prvReadAccount": "Global"})],
                        tables={"emu_Thing": "UserOwned", "emu_Lookup": "OrganizationOwned"})
    info = read_package(io.BytesIO(data))
    assert (info.unique_name, info.version, info.managed, info.publisher) == ("emu_Pkg", "2.1.0.3", True, "emutest")
    assert info.roles[0].privileges == {"prvReadAccount": "Global"}
    assert info.tables == {"emu_Thing": "user", "emu_Lookup": "organization"}
    with pytest.raises(DataverseError, match="must be a zip"):
        read_package(io.BytesIO(b"not a zip"))
    buf = io.BytesIO()
    import zipfile
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("customizations.xml", "<ImportExportXml />")
    with pytest.raises(DataverseError, match="missing: solution.xml"):
        read_package(io.BytesIO(buf.getvalue()))


@pytest.mark.parametrize("chunk", [1, 3, 4096, 1 << 20])
def test_streamed_upload_decodes_across_chunk_boundaries(chunk: int) -> None:
    raw = bytes(range(256)) * 64
    # base64 with line breaks (JSON \n escapes) and "/" written as "\/", both legal JSON
    text = json.dumps({"OverwriteUnmanagedCustomizations": True,
                       "CustomizationFile": base64.encodebytes(raw).decode(), "PublishWorkflows": False})
    body = text.replace("/", "\\/").encode()
    assert b"\\/" in body and b"\\n" in body

    async def chunks():
        for i in range(0, len(body), chunk):
            yield body[i:i + chunk]

    result = asyncio.run(read_blob_body(chunks(), "StageSolution"))
    assert result.blob is not None and result.blob.read() == raw and result.blob_size == len(raw)
    assert result.data == {"OverwriteUnmanagedCustomizations": True, "CustomizationFile": "", "PublishWorkflows": False}


@pytest.mark.parametrize("edit, key", [
    (lambda dv: dv["roles"][2].update(privileges={"prvReadNothing": "Global"}), "dataverse.roles[2].privileges"),
    (lambda dv: dv["roles"][2].update(privileges={"prvReadProduct": "Sometimes"}), "dataverse.roles[2].privileges"),
    (lambda dv: dv["systemusers"][3].update(roles=["No Such Role"]), "dataverse.systemusers[3].roles"),
    (lambda dv: dv["roles"][0].pop("name"), "dataverse.roles[0].name"),
])
def test_bad_dataverse_seed_names_the_key(edit: Any, key: str) -> None:
    from emulator.seed import SeedError
    seed = load_seed()
    edit(seed["dataverse"])
    with pytest.raises(SeedError) as err:
        DataverseStore(seed)
    assert key in str(err.value) and "default-seed.yaml" in str(err.value)
