"""The emulator's contract faults fixed against Microsoft's documentation, one test per documented
behaviour (plain HTTPS, so the check does not depend on any client library)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests

from emulator import Emulator
from emulator.dataverse import schema
from emulator.dataverse.router import BLOB_ACTIONS, FUNCTIONS, UNBOUND_ACTIONS
from tests.emulator_tests.testkit import ROOT_BU, SALES01_USER, DvClient

from .helpers import graph_headers, session

USER = "sales01@contoso.example"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


@pytest.fixture
def graph(emulator: Emulator) -> tuple[requests.Session, dict[str, str], str]:
    return session(emulator), graph_headers(emulator), f"{emulator.urls.graph_url}/v1.0"


@pytest.fixture
def dv(emulator: Emulator) -> DvClient:
    return DvClient(emulator)


# -- Microsoft Graph ---------------------------------------------------------------------------
def test_graph_patch_accepts_the_user_odata_type(graph, emulator: Emulator) -> None:
    """Microsoft's request examples send "@odata.type": "#microsoft.graph.user" in the body of
    PATCH /users/{id} (https://learn.microsoft.com/graph/api/user-update); another type is refused."""
    http, h, base = graph
    ok = http.patch(f"{base}/users/{USER}", json={"@odata.type": "#microsoft.graph.user", "usageLocation": "DE"},
                    headers=h, timeout=5)
    assert ok.status_code == 204 and emulator.graph.get_user(USER).usage_location == "DE"
    bad = http.patch(f"{base}/users/{USER}", json={"@odata.type": "#microsoft.graph.group"}, headers=h, timeout=5)
    assert bad.status_code == 400


def test_graph_batch_decodes_every_segment_of_item_urls(graph) -> None:
    """Batch item URLs are relative resource URLs (https://learn.microsoft.com/graph/json-batching); clients
    percent-encode them, and the service decodes them like a top-level request."""
    http, h, base = graph
    body = {"requests": [{"id": "1", "method": "GET", "url": "/users/sales01%40contoso.example"},
                         {"id": "2", "method": "GET", "url": "/users/sales01%40contoso.example/licenseDetails"},
                         {"id": "3", "method": "GET", "url": "users?$filter=userPrincipalName%20eq%20'sales02%40contoso.example'"}]}
    resp = http.post(f"{base}/$batch", json=body, headers=h, timeout=5).json()["responses"]
    by_id = {r["id"]: r for r in resp}
    assert by_id["1"]["status"] == 200 and by_id["1"]["body"]["userPrincipalName"] == USER
    assert by_id["2"]["status"] == 200
    assert [u["userPrincipalName"] for u in by_id["3"]["body"]["value"]] == ["sales02@contoso.example"]


def test_graph_batch_with_an_absolute_url_is_refused_whole(graph, emulator: Emulator) -> None:
    """"url: Required. The relative resource URL"; a malformed batch is answered 400 as a whole
    (https://learn.microsoft.com/graph/json-batching) -- so the valid PATCH next to it does not run."""
    http, h, base = graph
    body = {"requests": [{"id": "1", "method": "PATCH", "url": f"/users/{USER}", "body": {"usageLocation": "FR"},
                          "headers": {"Content-Type": "application/json"}},
                         {"id": "2", "method": "GET", "url": f"{base}/users/{USER}"}]}
    resp = http.post(f"{base}/$batch", json=body, headers=h, timeout=5)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "BadRequest"
    assert emulator.graph.get_user(USER).usage_location == "US"


def test_graph_responses_are_odata_json(graph) -> None:
    """Graph answers OData-Version: 4.0 and application/json;odata.metadata=minimal;... (the response headers
    shown in https://learn.microsoft.com/graph/json-batching)."""
    http, h, base = graph
    resp = http.get(f"{base}/users/{USER}", headers=h, timeout=5)
    assert resp.headers["OData-Version"] == "4.0"
    assert resp.headers["Content-Type"].startswith("application/json;odata.metadata=minimal")
    items = http.post(f"{base}/$batch", json={"requests": [{"id": "1", "method": "GET", "url": "/subscribedSkus"}]},
                      headers=h, timeout=5).json()["responses"]
    assert items[0]["headers"]["OData-Version"] == "4.0"


def test_graph_count_needs_consistency_level(graph, emulator: Emulator) -> None:
    """/users/$count without ConsistencyLevel: eventual is 400 Request_BadRequest "$count is not currently
    supported."; with it, a plain number; $count=true is ignored without the header and gives @odata.count with it
    (https://learn.microsoft.com/graph/aad-advanced-queries#error-handling-for-advanced-queries-on-directory-objects)."""
    http, h, base = graph
    refused = http.get(f"{base}/users/$count", headers=h, timeout=5)
    error = refused.json()["error"]
    assert refused.status_code == 400
    assert (error["code"], error["message"]) == ("Request_BadRequest", "$count is not currently supported.")
    eventual = {**h, "ConsistencyLevel": "eventual"}
    count = http.get(f"{base}/users/$count", headers=eventual, timeout=5)
    total = len(emulator.graph.list_users())
    assert count.status_code == 200 and count.headers["Content-Type"].startswith("text/plain") and int(count.text) == total
    assert "@odata.count" not in http.get(f"{base}/users?$count=true&$top=2", headers=h, timeout=5).json()
    assert http.get(f"{base}/users?$count=true&$top=2", headers=eventual, timeout=5).json()["@odata.count"] == total


def test_graph_ignores_empty_path_segments(graph) -> None:
    """msgraph-sdk, set up as https://learn.microsoft.com/graph/sdks/create-client shows, sends
    https://graph.microsoft.com/v1.0//users/... (httpx ends its base URL with a slash), so the service must treat
    the empty segment as absent. Not written in the documentation: inferred from Microsoft's SDK working in tenants."""
    http, h, base = graph
    assert http.get(f"{base}//users/{USER}", headers=h, timeout=5).status_code == 200


# -- Dataverse ---------------------------------------------------------------------------------
def test_dataverse_wrong_method_on_a_function(dv: DvClient, emulator: Emulator) -> None:
    """POST WhoAmI: 404, code "", "No HTTP resource was found that matches the request URI '...'"
    (https://learn.microsoft.com/troubleshoot/power-platform/dataverse/dataverse-web-api-and-sdk/web-api-client-errors)."""
    resp = dv.post("WhoAmI")
    assert resp.status_code == 404
    assert resp.json()["error"] == {"code": "", "message": "No HTTP resource was found that matches the request URI "
                                    f"'{emulator.urls.environment_url}/api/data/v9.2/WhoAmI'."}
    assert dv.post(f"RetrieveRolePrivilegesRole(RoleId={ROOT_BU})").status_code == 404


def test_dataverse_service_document_lists_the_entity_sets(dv: DvClient, emulator: Emulator) -> None:
    """GET /api/data/v9.2/ lists every entity set (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-service-documents)."""
    body = dv.get("").json()
    assert body["@odata.context"] == f"{emulator.urls.environment_url}/api/data/v9.2/$metadata"
    names = {v["name"] for v in body["value"] if v["kind"] == "EntitySet"}
    assert set(schema.ENTITY_SETS) | {"EntityDefinitions"} == names


def test_dataverse_csdl_describes_what_is_served(dv: DvClient) -> None:
    """$metadata is CSDL (namespace Microsoft.Dynamics.CRM, alias mscrm) for every entity set, property,
    navigation, action and function served, and every type it names is declared
    (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-service-documents#csdl-metadata-document)."""
    resp = dv.get("$metadata")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/xml")
    root = ET.fromstring(resp.content)
    schema_el = root.find(f".//{EDM}Schema")
    assert schema_el is not None and schema_el.get("Namespace") == "Microsoft.Dynamics.CRM" and schema_el.get("Alias") == "mscrm"
    declared = {el.get("Name") for tag in ("EntityType", "ComplexType", "EnumType") for el in schema_el.iter(f"{EDM}{tag}")}
    for el in schema_el.iter():
        for attr in ("Type", "BaseType", "EntityType"):
            value = (el.get(attr) or "").removeprefix("Collection(").removesuffix(")")
            if value.startswith("mscrm."):
                assert value.removeprefix("mscrm.") in declared, f"{el.tag} names undeclared type {value}"
    types = {el.get("Name"): el for el in schema_el.iter(f"{EDM}EntityType")}
    for entity in schema.ENTITY_SETS.values():
        el = types[entity.logical_name]
        assert {p.get("Name") for p in el.iter(f"{EDM}Property")} == set(entity.properties)
        assert {n.get("Name") for n in el.iter(f"{EDM}NavigationProperty")} == set(entity.navigations)
        assert el.find(f"{EDM}Key/{EDM}PropertyRef").get("Name") == entity.key
    sets = {el.get("Name") for el in schema_el.iter(f"{EDM}EntitySet")}
    assert sets == set(schema.ENTITY_SETS)
    operations = {el.get("Name") for tag in ("Action", "Function") for el in schema_el.iter(f"{EDM}{tag}")}
    served = {*UNBOUND_ACTIONS, *FUNCTIONS, *BLOB_ACTIONS, "WhoAmI", "RetrieveUserPrivileges", "AddPrivilegesRole",
              "ReplacePrivilegesRole", "RemovePrivilegeRole"}
    assert served <= operations


def test_dataverse_entity_definitions(dv: DvClient) -> None:
    """EntityDefinitions(LogicalName='...') with $select, and the collection filtered by LogicalName
    (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api)."""
    select = "EntitySetName,PrimaryIdAttribute,LogicalName,SchemaName,PrimaryNameAttribute"
    one = dv.get(f"EntityDefinitions(LogicalName='systemuser')?$select={select}").json()
    assert {k: one[k] for k in select.split(",")} == {"EntitySetName": "systemusers", "PrimaryIdAttribute": "systemuserid",
                                                     "LogicalName": "systemuser", "SchemaName": "SystemUser",
                                                     "PrimaryNameAttribute": "fullname"}
    assert one["MetadataId"]  # always returned
    listed = dv.get("EntityDefinitions", params={"$select": "LogicalName,EntitySetName",
                                                 "$filter": "LogicalName eq 'role'"}).json()["value"]
    assert [(r["LogicalName"], r["EntitySetName"]) for r in listed] == [("role", "roles")]
    by_id = dv.get(f"EntityDefinitions({one['MetadataId']})?$select=LogicalName").json()
    assert by_id["LogicalName"] == "systemuser"
    assert dv.get("EntityDefinitions(LogicalName='nosuchtable')").status_code == 404


def test_dataverse_attributes_and_the_picklist_cast(dv: DvClient) -> None:
    """…/Attributes lists every column served; the PicklistAttributeMetadata cast returns only choice columns with
    their OptionSet (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api#querying-entitymetadata-attributes)."""
    attrs = dv.get("EntityDefinitions(LogicalName='systemuser')/Attributes?$select=LogicalName,AttributeType").json()["value"]
    kinds = {a["LogicalName"]: a["AttributeType"] for a in attrs}
    assert kinds["accessmode"] == "Picklist" and kinds["businessunitid"] == "Lookup" and kinds["systemuserid"] == "Uniqueidentifier"
    assert len(kinds) == len(schema.SYSTEMUSER.properties)
    cast = dv.get("EntityDefinitions(LogicalName='systemuser')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata"
                  "?$select=LogicalName&$expand=OptionSet($select=Options)").json()["value"]
    assert [a["LogicalName"] for a in cast] == ["accessmode"]
    labels = {o["Value"]: o["Label"]["UserLocalizedLabel"]["Label"] for o in cast[0]["OptionSet"]["Options"]}
    assert labels[4] == "Non-interactive"


def test_dataverse_formatted_values_lookup_annotations_and_preference_applied(dv: DvClient) -> None:
    """Prefer: odata.include-annotations gives FormattedValue for choices and lookups, lookuplogicalname, and
    the preference is echoed in Preference-Applied
    (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/select-columns#formatted-values)."""
    prefer = 'odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname"'
    resp = dv.get(f"systemusers({SALES01_USER})?$select=accessmode,_businessunitid_value", headers={"Prefer": prefer})
    body = resp.json()
    assert resp.headers["Preference-Applied"] == prefer
    assert body["accessmode@OData.Community.Display.V1.FormattedValue"] == "Read-Write"
    assert body["_businessunitid_value@OData.Community.Display.V1.FormattedValue"] == "contoso"
    assert body["_businessunitid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "businessunit"
    plain = dv.get(f"systemusers({SALES01_USER})?$select=accessmode")
    assert "Preference-Applied" not in plain.headers and not [k for k in plain.json() if "@OData.Community" in k]


def test_dataverse_total_record_count(dv: DvClient, emulator: Emulator) -> None:
    """With $count=true and the totalrecordcount annotation: @odata.count and @Microsoft.Dynamics.CRM.totalrecordcount;
    without $count=true the annotation is -1; both preferences are applied
    (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/count-rows)."""
    prefer = 'odata.maxpagesize=3,odata.include-annotations="Microsoft.Dynamics.CRM.*"'
    resp = dv.get("roles?$select=name&$count=true", headers={"Prefer": prefer})
    body = resp.json()
    total = len(emulator.dataverse.roles)
    assert body["@odata.count"] == body["@Microsoft.Dynamics.CRM.totalrecordcount"] == total
    assert body["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] is False and len(body["value"]) == 3
    assert resp.headers["Preference-Applied"] == 'odata.maxpagesize=3,odata.include-annotations="Microsoft.Dynamics.CRM.*"'
    assert dv.get("roles?$select=name", headers={"Prefer": prefer}).json()["@Microsoft.Dynamics.CRM.totalrecordcount"] == -1


def test_dataverse_count_segment_is_plain_text(dv: DvClient, emulator: Emulator) -> None:
    """GET accounts/$count answers just the number, Content-Type text/plain
    (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/count-rows)."""
    resp = dv.get("systemusers/$count")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
    assert int(resp.text) == len(emulator.dataverse.systemusers)
    assert int(dv.get("roles/$count", params={"$filter": f"_businessunitid_value eq {ROOT_BU}"}).text) == len(
        [r for r in emulator.dataverse.roles.values() if r["_businessunitid_value"] == ROOT_BU])
