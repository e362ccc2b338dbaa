"""Microsoft Graph v1.0 surface: users, $filter/$select/$top paging, SKUs, licences, $batch."""

from __future__ import annotations

import pytest

from emulator import Emulator
from emulator.seed import ids

from .helpers import LIMITED_SECRET, SALES_SKU, TEAM_MEMBERS_SKU, graph_headers, session, token

NEW_HIRE = "new.hire@contoso.example"
NEW_HIRE_ID = ids.NEW_HIRE_OBJECT_ID


@pytest.fixture
def graph(emulator: Emulator):
    """(session, headers, base url) for the deployer app."""
    return session(emulator), graph_headers(emulator), f"{emulator.urls.graph_url}/v1.0"


def _assert_graph_error(resp, status: int, code: str) -> str:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["code"] == code
    assert {"request-id", "date", "client-request-id"} <= set(err["innerError"])
    return err["message"]


def test_get_user_by_upn_and_id_returns_default_properties(graph) -> None:
    http, h, base = graph
    by_upn = http.get(f"{base}/users/sales07@contoso.example", headers=h, timeout=5).json()
    assert by_upn["id"] == ids.salesperson_object_id(7)
    assert by_upn["userPrincipalName"] == "sales07@contoso.example"
    assert "usageLocation" not in by_upn and "assignedLicenses" not in by_upn  # not default properties
    by_id = http.get(f"{base}/users/{by_upn['id']}?$select=id,usageLocation,assignedLicenses", headers=h, timeout=5).json()
    assert by_id["usageLocation"] == "US"
    assert by_id["assignedLicenses"] == [{"disabledPlans": [], "skuId": SALES_SKU}]
    assert set(by_id) == {"@odata.context", "id", "usageLocation", "assignedLicenses"}


def test_unknown_user_and_bad_select(graph) -> None:
    http, h, base = graph
    _assert_graph_error(http.get(f"{base}/users/nobody@contoso.example", headers=h, timeout=5), 404, "Request_ResourceNotFound")
    _assert_graph_error(http.get(f"{base}/users/{NEW_HIRE}?$select=shoeSize", headers=h, timeout=5), 400, "Request_BadRequest")


def test_filter_eq_in_and_select(graph) -> None:
    http, h, base = graph
    one = http.get(f"{base}/users", params={"$filter": "userPrincipalName eq 'SALES02@contoso.example'", "$select": "id"},
                   headers=h, timeout=5).json()["value"]
    assert one == [{"id": ids.salesperson_object_id(2)}]
    many = http.get(f"{base}/users", params={"$filter": f"userPrincipalName in ('sales02@contoso.example','{NEW_HIRE}')",
                                             "$select": "id,userPrincipalName"}, headers=h, timeout=5).json()["value"]
    assert {u["userPrincipalName"] for u in many} == {"sales02@contoso.example", NEW_HIRE}
    licensed = http.get(f"{base}/users", params={"$filter": f"assignedLicenses/any(x:x/skuId eq {SALES_SKU})", "$top": "999",
                                                 "$select": "id"}, headers=h, timeout=5).json()["value"]
    assert len(licensed) == 31
    _assert_graph_error(http.get(f"{base}/users", params={"$filter": "jobTitle eq 'x'"}, headers=h, timeout=5),
                        400, "Request_UnsupportedQuery")
    _assert_graph_error(http.get(f"{base}/users", params={"$filter": "userPrincipalName eq"}, headers=h, timeout=5),
                        400, "BadRequest")


def test_top_pages_with_next_link(graph) -> None:
    http, h, base = graph
    page = http.get(f"{base}/users", params={"$top": "7", "$select": "id"}, headers=h, timeout=5).json()
    seen, pages = [u["id"] for u in page["value"]], 1
    while "@odata.nextLink" in page:
        page = http.get(page["@odata.nextLink"], headers=h, timeout=5).json()
        seen += [u["id"] for u in page["value"]]
        pages += 1
        assert all(set(u) == {"id"} for u in page["value"])  # $select survives paging
    assert pages == 5 and len(seen) == len(set(seen)) == 32
    _assert_graph_error(http.get(f"{base}/users", params={"$top": "0"}, headers=h, timeout=5), 400, "Request_BadRequest")


def test_subscribed_skus_report_seats(graph) -> None:
    http, h, base = graph
    skus = {s["skuPartNumber"]: s for s in http.get(f"{base}/subscribedSkus", headers=h, timeout=5).json()["value"]}
    assert skus["DYN365_ENTERPRISE_SALES"]["skuId"] == SALES_SKU
    assert skus["DYN365_ENTERPRISE_SALES"]["prepaidUnits"]["enabled"] == 40
    assert skus["DYN365_ENTERPRISE_SALES"]["consumedUnits"] == 31
    assert skus["DYN365_ENTERPRISE_TEAM_MEMBERS"]["prepaidUnits"]["enabled"] == 5
    assert skus["DYN365_BUSCENTRAL_ESSENTIAL"]["consumedUnits"] == 0
    assert skus["DYN365_ENTERPRISE_SALES"]["servicePlans"][0]["servicePlanId"]


def test_assign_license_needs_usage_location_then_records_licensed_at(emulator: Emulator, graph) -> None:
    http, h, base = graph
    body = {"addLicenses": [{"skuId": SALES_SKU, "disabledPlans": []}], "removeLicenses": []}
    msg = _assert_graph_error(http.post(f"{base}/users/{NEW_HIRE}/assignLicense", json=body, headers=h, timeout=5),
                              400, "Request_BadRequest")
    assert "usage location" in msg
    assert emulator.graph.get_user(NEW_HIRE).licensed_at is None
    assert http.patch(f"{base}/users/{NEW_HIRE_ID}", json={"usageLocation": "US"}, headers=h, timeout=5).status_code == 204
    before = emulator.ctx.clock()
    resp = http.post(f"{base}/users/{NEW_HIRE}/assignLicense", json=body, headers=h, timeout=5)
    assert resp.status_code == 200 and resp.json()["id"] == NEW_HIRE_ID
    user = emulator.graph.get_user(NEW_HIRE)
    assert user.licensed_at is not None and user.licensed_at >= before
    assert NEW_HIRE_ID in {u.object_id for u in emulator.graph.licensed_users([SALES_SKU])}
    details = http.get(f"{base}/users/{NEW_HIRE}/licenseDetails", headers=h, timeout=5).json()["value"]
    assert [d["skuPartNumber"] for d in details] == ["DYN365_ENTERPRISE_SALES"]
    skus = http.get(f"{base}/subscribedSkus", headers=h, timeout=5).json()["value"]
    assert next(s for s in skus if s["skuId"] == SALES_SKU)["consumedUnits"] == 32


def test_assign_license_fails_when_no_seats_are_left(graph) -> None:
    http, h, base = graph
    body = {"addLicenses": [{"skuId": TEAM_MEMBERS_SKU, "disabledPlans": []}], "removeLicenses": []}
    for n in range(1, 6):
        assert http.post(f"{base}/users/sales{n:02d}@contoso.example/assignLicense", json=body, headers=h, timeout=5).status_code == 200
    msg = _assert_graph_error(http.post(f"{base}/users/sales06@contoso.example/assignLicense", json=body, headers=h, timeout=5),
                              400, "Request_BadRequest")
    assert TEAM_MEMBERS_SKU in msg
    # Removing one frees a seat.
    remove = {"addLicenses": [], "removeLicenses": [TEAM_MEMBERS_SKU]}
    assert http.post(f"{base}/users/sales01@contoso.example/assignLicense", json=remove, headers=h, timeout=5).status_code == 200
    assert http.post(f"{base}/users/sales06@contoso.example/assignLicense", json=body, headers=h, timeout=5).status_code == 200


def test_assign_license_payload_validation(graph) -> None:
    http, h, base = graph
    msg = _assert_graph_error(http.post(f"{base}/users/sales01@contoso.example/assignLicense",
                                        json={"addLicenses": []}, headers=h, timeout=5), 400, "Request_BadRequest")
    assert "removeLicenses" in msg
    _assert_graph_error(http.post(f"{base}/users/sales01@contoso.example/assignLicense",
                                  json={"addLicenses": [{"skuId": "6b1c2d3e-0000-4000-8000-00000000ffff"}], "removeLicenses": []},
                                  headers=h, timeout=5), 400, "Request_BadRequest")


def test_authentication_and_permissions(emulator: Emulator, graph) -> None:
    http, _, base = graph
    _assert_graph_error(http.get(f"{base}/users/{NEW_HIRE}", timeout=5), 401, "InvalidAuthenticationToken")
    dataverse_token = token(emulator, f"{emulator.urls.environment_url}/.default")
    _assert_graph_error(http.get(f"{base}/users/{NEW_HIRE}", headers={"Authorization": f"Bearer {dataverse_token}"}, timeout=5),
                        401, "InvalidAuthenticationToken")
    limited = graph_headers(emulator, "limited", LIMITED_SECRET)
    assert http.get(f"{base}/users/{NEW_HIRE}", headers=limited, timeout=5).status_code == 200
    _assert_graph_error(http.post(f"{base}/users/sales01@contoso.example/assignLicense", headers=limited, timeout=5,
                                  json={"addLicenses": [], "removeLicenses": []}), 403, "Authorization_RequestDenied")
    _assert_graph_error(http.get(f"{base}/me", headers=limited, timeout=5), 400, "BadRequest")


def test_batch_runs_requests_with_depends_on(graph) -> None:
    http, h, base = graph
    requests_ = [
        {"id": "get", "method": "GET", "url": "/users/sales03@contoso.example?$select=id,usageLocation"},
        {"id": "patch", "method": "PATCH", "url": "/users/sales03@contoso.example", "dependsOn": ["get"],
         "headers": {"Content-Type": "application/json"}, "body": {"usageLocation": "DE"}},
        {"id": "after", "method": "GET", "url": "/users/sales03@contoso.example?$select=usageLocation", "dependsOn": ["patch"]},
        {"id": "missing", "method": "GET", "url": "/users/nobody@contoso.example"},
        {"id": "blocked", "method": "GET", "url": "/subscribedSkus", "dependsOn": ["missing"]},
    ]
    resp = http.post(f"{base}/$batch", json={"requests": requests_}, headers=h, timeout=5)
    assert resp.status_code == 200
    by_id = {r["id"]: r for r in resp.json()["responses"]}
    assert by_id["get"]["status"] == 200 and by_id["get"]["body"]["usageLocation"] == "US"
    assert by_id["patch"]["status"] == 204
    assert by_id["after"]["body"]["usageLocation"] == "DE"
    assert by_id["missing"]["status"] == 404 and by_id["missing"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert by_id["blocked"]["status"] == 424


def test_batch_limit_is_twenty(graph) -> None:
    http, h, base = graph
    reqs = [{"id": str(i), "method": "GET", "url": f"/users/sales{i:02d}@contoso.example?$select=id"} for i in range(1, 22)]
    resp = http.post(f"{base}/$batch", json={"requests": reqs[:20]}, headers=h, timeout=5)
    assert resp.status_code == 200 and [r["status"] for r in resp.json()["responses"]] == [200] * 20
    _assert_graph_error(http.post(f"{base}/$batch", json={"requests": reqs}, headers=h, timeout=5), 400, "BadRequest")
