"""PowerPlatform-Dataverse-Client (Microsoft's Dataverse SDK for Python), unmodified, against the
emulator's Dataverse origin: the queries and writes this project makes. The client resolves every
table through EntityDefinitions first, and turns choice labels into values through the
PicklistAttributeMetadata cast, so these tests also check that metadata surface.
Each test names the Microsoft page it follows."""

from __future__ import annotations

from PowerPlatform.Dataverse.client import DataverseClient

from emulator import Emulator
from emulator.seed import ids
from tests.emulator_tests.testkit import CHILD_BU, ROOT_BU, SALES01_USER

from .ms_clients import dataverse, trust_emulator  # noqa: F401 - fixtures

SALES01_OID = ids.salesperson_object_id(1)
FORMATTED = "@OData.Community.Display.V1.FormattedValue"
LOOKUP_TABLE = "@Microsoft.Dynamics.CRM.lookuplogicalname"


def test_query_systemusers_with_select_and_filter(dataverse: DataverseClient) -> None:
    """records.list with $select and $filter on systemusers
    (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/overview)."""
    rows = dataverse.records.list("systemuser", select=["fullname", "azureactivedirectoryobjectid", "accessmode"],
                                  filter=f"azureactivedirectoryobjectid eq {SALES01_OID}")
    assert len(rows) == 1
    row = rows.first()
    assert row["systemuserid"] == SALES01_USER and row["fullname"] == "Sales 01" and row["accessmode"] == 0


def test_query_roles_page_by_page(dataverse: DataverseClient, emulator: Emulator) -> None:
    """records.list_pages with Prefer: odata.maxpagesize follows @odata.nextLink to the end
    (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results)."""
    pages = list(dataverse.records.list_pages("role", select=["name", "_businessunitid_value"],
                                              filter=f"_businessunitid_value eq {ROOT_BU}", page_size=2))
    names = [r["name"] for page in pages for r in page]
    expected = sorted(r["name"] for r in emulator.dataverse.roles.values() if r["_businessunitid_value"] == ROOT_BU)
    assert len(pages) == (len(expected) + 1) // 2 and sorted(names) == expected


def test_get_one_record(dataverse: DataverseClient) -> None:
    """records.get by id with $select (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/retrieve-entity-using-web-api)."""
    row = dataverse.records.get("systemuser", SALES01_USER, select=["fullname", "isdisabled"])
    assert row["fullname"] == "Sales 01" and row["isdisabled"] is False


def test_create_update_delete_a_role(dataverse: DataverseClient, emulator: Emulator) -> None:
    """records.create / update / delete of a role: POST answers 204 with OData-EntityId, PATCH with If-Match: *,
    DELETE (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-entity-web-api,
    https://learn.microsoft.com/power-apps/developer/data-platform/webapi/update-delete-entities-using-web-api)."""
    role_id = dataverse.records.create("role", {"name": "Contoso Reader", "businessunitid@odata.bind": f"/businessunits({ROOT_BU})"})
    assert emulator.dataverse.roles[role_id]["name"] == "Contoso Reader"
    dataverse.records.update("role", role_id, {"name": "Contoso Reader 2"})
    assert emulator.dataverse.roles[role_id]["name"] == "Contoso Reader 2"
    dataverse.records.delete("role", role_id)
    assert role_id not in emulator.dataverse.roles


def test_choice_label_becomes_its_value(dataverse: DataverseClient, emulator: Emulator) -> None:
    """A choice column written with its label: the client reads the table's
    Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata with $expand=OptionSet and sends the value
    (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api#querying-entitymetadata-attributes)."""
    role_id = dataverse.records.create("role", {"name": "Team Only", "isinherited": "Team privileges only",
                                                "businessunitid@odata.bind": f"/businessunits({ROOT_BU})"})
    assert emulator.dataverse.roles[role_id]["isinherited"] == 0


def test_batch_with_a_change_set(dataverse: DataverseClient, emulator: Emulator) -> None:
    """client.batch: a change set that creates a role and renames it through its Content-ID, plus a read
    (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api)."""
    batch = dataverse.batch.new()
    with batch.changeset() as cs:
        ref = cs.records.create("role", {"name": "Batch Role", "businessunitid@odata.bind": f"/businessunits({ROOT_BU})"})
        cs.records.update("role", ref, {"description": "made in a change set"})
    batch.records.get("systemuser", SALES01_USER, select=["fullname"])
    result = batch.execute()
    assert not result.failed, [(r.status_code, r.error_message) for r in result.failed]
    assert [r.status_code for r in result.responses] == [204, 204, 200]
    made = [r for r in emulator.dataverse.roles.values() if r["name"] == "Batch Role" and r["_businessunitid_value"] == ROOT_BU]
    assert len(made) == 1 and made[0]["description"] == "made in a change set"


def test_formatted_values_and_lookup_annotations(dataverse: DataverseClient) -> None:
    """Prefer: odata.include-annotations="*": choice labels and lookup names as FormattedValue, the lookup's
    table as lookuplogicalname (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/select-columns#formatted-values)."""
    row = dataverse.records.list("systemuser", select=["accessmode", "_businessunitid_value"],
                                 filter=f"systemuserid eq {SALES01_USER}", include_annotations="*").first()
    assert row["accessmode" + FORMATTED] == "Read-Write"
    assert row["_businessunitid_value" + FORMATTED] == "contoso"  # the business unit's primary name
    assert row["_businessunitid_value" + LOOKUP_TABLE] == "businessunit"


def test_table_metadata(dataverse: DataverseClient) -> None:
    """tables.get reads EntityDefinitions: entity set name, primary id and primary name attribute
    (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api)."""
    info = dataverse.tables.get("systemuser")
    assert info is not None
    assert info["entity_set_name"] == "systemusers" and info["primary_id_attribute"] == "systemuserid"
    assert info["primary_name_attribute"] == "fullname"


def test_role_in_a_child_business_unit_is_listed(dataverse: DataverseClient) -> None:
    """$filter on a lookup value with a GUID literal (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/filter-rows)."""
    rows = dataverse.records.list("role", select=["name"], filter=f"_businessunitid_value eq {CHILD_BU}")
    assert "Salesperson" in [r["name"] for r in rows]
