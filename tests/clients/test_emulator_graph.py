"""GraphClient against the emulator: SKUs and free seats, users, licenseDetails, $batch chunking."""

from __future__ import annotations

from emulator import FaultRule
from emulator.seed import ids
from infra.clients.graph import GraphClient

from .conftest import secret_env, logged_statuses

SALES_SKU = ids.SALES_SKU_ID


def test_subscribed_skus_and_free_seats(emulator, conn) -> None:
    g = GraphClient.for_connection(conn, env=secret_env())
    skus = {s.sku_part_number: s for s in g.subscribed_skus()}
    sales = skus["DYN365_ENTERPRISE_SALES"]
    assert sales.sku_id == SALES_SKU and sales.enabled == 40
    assert g.free_seats()["DYN365_ENTERPRISE_SALES"] == sales.enabled - sales.consumed
    assert g.sku_ids()["DYN365_BUSCENTRAL_ESSENTIAL"] == ids.BUSINESS_CENTRAL_SKU_ID


def test_users_and_license_details(conn) -> None:
    g = GraphClient.for_connection(conn, env=secret_env())
    user = g.get_user("bc-integration@contoso.example")
    assert user is not None and user.id == ids.INTEGRATION_USER_OBJECT_ID and user.usage_location == "US"
    assert g.get_user("nobody@contoso.example") is None
    assert g.get_user("new.hire@contoso.example").usage_location is None
    details = g.license_details(user.id)
    assert SALES_SKU in {d.sku_id for d in details}


def test_batch_is_chunked_by_20(emulator, conn) -> None:
    g = GraphClient.for_connection(conn, env=secret_env())
    upns = [f"sales{n:02d}@contoso.example" for n in range(1, 31)] + ["ghost@contoso.example"]
    emulator.clear_log()
    users = g.get_users(upns)
    assert len(logged_statuses(emulator, "/$batch")) == 2
    assert users["ghost@contoso.example"] is None
    assert users["sales07@contoso.example"].id == ids.salesperson_object_id(7)
    lic = g.license_details_many([users[u].id for u in upns[:25]])
    assert all(SALES_SKU in {d.sku_id for d in v} for v in lic.values())


def test_throttled_batch_request_is_retried(emulator, conn) -> None:
    g = GraphClient.for_connection(conn, env=secret_env())
    g.get_user("sales01@contoso.example")
    emulator.faults.add(FaultRule(kind="429", path_regex=r"\$batch", retry_after=0, limit=1))
    users = g.get_users(["sales01@contoso.example", "sales02@contoso.example"])
    assert all(u is not None for u in users.values())
    assert g.http.stats.statuses[429] == 1
