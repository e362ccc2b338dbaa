"""Groups and group-based licensing (emulator/graph/groups.py), as Entra documents them."""

from __future__ import annotations

from typing import Any

import pytest

from emulator import Emulator
from emulator.seed import ids

from .helpers import LIMITED_SECRET, SALES_SKU, TEAM_MEMBERS_SKU, graph_headers, session

GROUP = ids.SALES_LICENSING_GROUP_ID  # default seed: licenses DYN365_ENTERPRISE_SALES
NEW_HIRE = ids.NEW_HIRE_OBJECT_ID  # unlicensed, no usage location
SALES05 = ids.salesperson_object_id(5)  # holds DYN365_ENTERPRISE_SALES directly
STATES = "$select=id,usageLocation,assignedLicenses,licenseAssignmentStates"


@pytest.fixture
def graph(emulator: Emulator):
    return session(emulator), graph_headers(emulator), f"{emulator.urls.graph_url}/v1.0"


def _error(resp: Any, status: int, code: str) -> str:
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code
    return str(resp.json()["error"]["message"])


def _add(http: Any, h: dict, base: str, user: str, group: str = GROUP) -> Any:
    return http.post(f"{base}/groups/{group}/members/$ref", headers=h, timeout=5,
                     json={"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{user}"})


def _seats(http: Any, h: dict, base: str, sku: str = SALES_SKU) -> int:
    skus = http.get(f"{base}/subscribedSkus", headers=h, timeout=5).json()["value"]
    return next(s["consumedUnits"] for s in skus if s["skuId"] == sku)


def test_group_properties_and_members(graph) -> None:
    http, h, base = graph
    group = http.get(f"{base}/groups/{GROUP}", headers=h, timeout=5).json()
    assert group["displayName"] == "Dynamics 365 Sales users" and group["securityEnabled"] is True
    assert "assignedLicenses" not in group  # returned only on $select, as documented
    licensed = http.get(f"{base}/groups/{GROUP}?$select=id,assignedLicenses", headers=h, timeout=5).json()
    assert licensed["assignedLicenses"] == [{"disabledPlans": [], "skuId": SALES_SKU}]
    assert http.get(f"{base}/groups/{GROUP}/members", headers=h, timeout=5).json()["value"] == []
    _error(http.get(f"{base}/groups/{GROUP}?$select=shoeSize", headers=h, timeout=5), 400, "Request_BadRequest")
    _error(http.get(f"{base}/groups/6b1c2d3e-0000-4000-8000-00000000c0ff", headers=h, timeout=5),
           404, "Request_ResourceNotFound")


def test_a_member_inherits_the_groups_licence_with_assigned_by_group(graph, emulator: Emulator) -> None:
    http, h, base = graph
    before = _seats(http, h, base)
    assert _add(http, h, base, NEW_HIRE).status_code == 204
    user = http.get(f"{base}/users/{NEW_HIRE}?{STATES}", headers=h, timeout=5).json()
    assert user["usageLocation"] is None  # group licences inherit the directory's location: no error
    assert user["assignedLicenses"] == [{"disabledPlans": [], "skuId": SALES_SKU}]
    [state] = user["licenseAssignmentStates"]
    assert state["assignedByGroup"] == GROUP and state["state"] == "Active" and state["error"] == "None"
    assert _seats(http, h, base) == before + 1
    details = http.get(f"{base}/users/{NEW_HIRE}/licenseDetails", headers=h, timeout=5).json()["value"]
    assert [d["skuId"] for d in details] == [SALES_SKU]
    # a licensed user becomes a systemuser in Dataverse, whichever way it is licensed
    assert NEW_HIRE in {u.object_id for u in emulator.graph.licensed_users()}
    members = http.get(f"{base}/groups/{GROUP}/members", headers=h, timeout=5).json()["value"]
    assert [(m["@odata.type"], m["id"]) for m in members] == [("#microsoft.graph.user", NEW_HIRE)]
    # leaving the group takes the licence (and the seat) away
    assert http.delete(f"{base}/groups/{GROUP}/members/{NEW_HIRE}/$ref", headers=h, timeout=5).status_code == 204
    user = http.get(f"{base}/users/{NEW_HIRE}?{STATES}", headers=h, timeout=5).json()
    assert user["assignedLicenses"] == [] and user["licenseAssignmentStates"] == []
    assert _seats(http, h, base) == before


def test_a_user_licensed_both_ways_consumes_one_seat_and_shows_both_states(graph) -> None:
    http, h, base = graph
    before = _seats(http, h, base)
    assert _add(http, h, base, SALES05).status_code == 204
    user = http.get(f"{base}/users/{SALES05}?{STATES}", headers=h, timeout=5).json()
    assert user["assignedLicenses"] == [{"disabledPlans": [], "skuId": SALES_SKU}]  # one entry per SKU
    by = sorted((s["assignedByGroup"] or "direct", s["state"]) for s in user["licenseAssignmentStates"])
    assert by == [(GROUP, "Active"), ("direct", "Active")]
    assert _seats(http, h, base) == before  # the same seat


def test_documented_errors(graph, emulator: Emulator) -> None:
    http, h, base = graph
    assert _add(http, h, base, NEW_HIRE).status_code == 204
    msg = _error(_add(http, h, base, NEW_HIRE), 400, "Request_BadRequest")
    assert "added object references already exist" in msg
    _error(_add(http, h, base, "6b1c2d3e-0000-4000-8000-0000000000ff"), 404, "Request_ResourceNotFound")
    _error(http.delete(f"{base}/groups/{GROUP}/members/{SALES05}/$ref", headers=h, timeout=5),
           404, "Request_ResourceNotFound")
    # an inherited licence cannot be removed from the user directly
    msg = _error(http.post(f"{base}/users/{NEW_HIRE}/assignLicense", headers=h, timeout=5,
                           json={"addLicenses": [], "removeLicenses": [SALES_SKU]}), 400, "Request_BadRequest")
    assert "inherited from a group membership" in msg
    # group membership needs a group permission the limited app does not have
    limited = graph_headers(emulator, "limited", LIMITED_SECRET)
    _error(_add(http, limited, base, SALES05), 403, "Authorization_RequestDenied")


def test_no_free_seat_records_count_violation_on_the_user_not_a_refusal(graph, emulator: Emulator) -> None:
    """Group assignments fail in the background: the error is recorded on the user."""
    http, h, base = graph
    team = "6b1c2d3e-0000-4000-8000-00000000c002"
    emulator.graph.groups[team] = type(emulator.graph.groups[GROUP])(team, "Team members", sku_ids=[TEAM_MEMBERS_SKU])
    emulator.graph.skus[TEAM_MEMBERS_SKU].enabled = 1
    first, second = ids.salesperson_object_id(1), ids.salesperson_object_id(2)
    assert _add(http, h, base, first, team).status_code == 204
    assert _add(http, h, base, second, team).status_code == 204  # accepted ...
    states = http.get(f"{base}/users/{second}?{STATES}", headers=h, timeout=5).json()["licenseAssignmentStates"]
    [error] = [s for s in states if s["assignedByGroup"] == team]
    assert error["state"] == "Error" and error["error"] == "CountViolation"  # ... and failed on the user
    assert _seats(http, h, base, TEAM_MEMBERS_SKU) == 1
    group = http.get(f"{base}/groups/{team}?$select=id,hasMembersWithLicenseErrors", headers=h, timeout=5).json()
    assert group["hasMembersWithLicenseErrors"] is True
    # a seat frees up; reprocessing the user assigns it
    assert http.delete(f"{base}/groups/{team}/members/{first}/$ref", headers=h, timeout=5).status_code == 204
    assert http.post(f"{base}/users/{second}/reprocessLicenseAssignment", headers=h, timeout=5).status_code == 202
    states = http.get(f"{base}/users/{second}?{STATES}", headers=h, timeout=5).json()["licenseAssignmentStates"]
    assert [s["state"] for s in states if s["assignedByGroup"] == team] == ["Active"]


def test_group_assign_license_gives_every_member_the_licence(graph, emulator: Emulator) -> None:
    http, h, base = graph
    assert _add(http, h, base, NEW_HIRE).status_code == 204
    resp = http.post(f"{base}/groups/{GROUP}/assignLicense", headers=h, timeout=5,
                     json={"addLicenses": [{"skuId": TEAM_MEMBERS_SKU, "disabledPlans": []}], "removeLicenses": []})
    assert resp.status_code == 202 and resp.json()["id"] == GROUP
    skus = {a["skuId"] for a in http.get(f"{base}/users/{NEW_HIRE}?{STATES}", headers=h, timeout=5).json()["assignedLicenses"]}
    assert skus == {SALES_SKU, TEAM_MEMBERS_SKU}
    msg = _error(http.post(f"{base}/groups/{GROUP}/assignLicense", headers=h, timeout=5, json={"addLicenses": []}),
                 400, "Request_BadRequest")
    assert msg.endswith("The missing parameters are: removeLicenses.")
    # the same body rules as the user's assignLicense: skuId is an Edm.Guid
    msg = _error(http.post(f"{base}/groups/{GROUP}/assignLicense", headers=h, timeout=5,
                           json={"addLicenses": [{"skuId": "not-a-guid"}], "removeLicenses": []}),
                 400, "Request_BadRequest")
    assert msg.startswith("Cannot convert a primitive value to the expected type 'Edm.Guid'.")


def test_groups_survive_a_snapshot(emulator_factory, tmp_path) -> None:
    emu = emulator_factory(state_dir=tmp_path, snapshot=True)
    from emulator.graph.groups import add_member

    add_member(emu.graph, GROUP, NEW_HIRE)
    emu.stop()
    again = emulator_factory(state_dir=tmp_path, snapshot=True)
    assert again.graph.groups[GROUP].members == [NEW_HIRE]
    assert SALES_SKU in again.graph.active_sku_ids(again.graph.get_user(NEW_HIRE))


def test_seed_groups_are_validated() -> None:
    from emulator.seed import SeedError, load_seed

    seed = load_seed()
    seed["groups"] = [{"id": GROUP, "licenses": ["NO_SUCH_SKU"]}]
    with pytest.raises(SeedError, match=r"groups\[0\]\.licenses.*NO_SUCH_SKU"):
        load_seed(seed)
    seed["groups"] = [{"id": GROUP, "members": ["6b1c2d3e-0000-4000-8000-0000000000ff"]}]
    with pytest.raises(SeedError, match=r"groups\[0\]\.members\[0\].*not a user"):
        load_seed(seed)
    seed["groups"] = ["not a mapping"]
    with pytest.raises(SeedError, match=r"groups\[0\]: must be a mapping"):
        load_seed(seed)
    seed = load_seed()
    seed["skus"] = [*seed["skus"], "not a mapping"]
    with pytest.raises(SeedError, match=rf"skus\[{len(seed['skus']) - 1}\]: must be a mapping"):
        load_seed(seed)
