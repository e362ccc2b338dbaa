"""Licence seat check: counting, tenant ids, skip/require without credentials, real Graph."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from emulator.seed import ids
from infra import facts
from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.credentials import resolve_credential
from infra.program.license_seats import LicenseNeed, SkuSeats, check_seats, license_needs, run_license_seat_check
from infra.program.license_seats_graph import GraphSeatSource
from tests.program.test_config import load

SALES = facts.SKU_IDS["DYN365_ENTERPRISE_SALES"]


class FakeGraph:
    def __init__(self, skus: list[SkuSeats], held: Mapping[str, set[str] | None]) -> None:
        self.skus, self.held = skus, held
        self.asked: list[Sequence[str]] = []

    def subscribed_skus(self) -> list[SkuSeats]:
        return self.skus

    def assigned_sku_ids(self, users: Sequence[str]) -> Mapping[str, set[str] | None]:
        self.asked.append(list(users))
        return {u: self.held.get(u) for u in users}


NEED = [LicenseNeed("DYN365_ENTERPRISE_SALES", ("a@x.example", "b@x.example", "c@x.example"))]


def test_enough_free_seats() -> None:
    report = check_seats(NEED, facts.SKU_IDS, FakeGraph([SkuSeats("DYN365_ENTERPRISE_SALES", SALES, 10, 7)], {}))
    assert report.problems == []
    assert report.notes == ["licence DYN365_ENTERPRISE_SALES: 3 new assignment(s), 3 seat(s) free"]


def test_too_few_seats_names_the_users_and_numbers() -> None:
    report = check_seats(NEED, facts.SKU_IDS, FakeGraph([SkuSeats("DYN365_ENTERPRISE_SALES", SALES, 10, 8)], {}))
    assert report.problems == [
        "licence DYN365_ENTERPRISE_SALES: 3 new assignment(s) needed (a@x.example, b@x.example, c@x.example) "
        "but only 2 of 10 seats are free; buy seats or remove users from the stack config"
    ]


def test_users_who_hold_the_sku_need_no_seat() -> None:
    """A re-run of an unchanged stack must not fail for seats its own users consume."""
    graph = FakeGraph([SkuSeats("DYN365_ENTERPRISE_SALES", SALES, 10, 10)],
                      {"a@x.example": {SALES}, "b@x.example": {SALES.upper()}, "c@x.example": {SALES}})
    report = check_seats(NEED, facts.SKU_IDS, graph)
    assert report.problems == []
    assert graph.asked == [["a@x.example", "b@x.example", "c@x.example"]]  # one batched question


def test_sku_not_subscribed() -> None:
    report = check_seats(NEED, facts.SKU_IDS, FakeGraph([SkuSeats("DYN365_ENTERPRISE_TEAM_MEMBERS", "t", 5, 0)], {}))
    assert report.problems == [
        "licence DYN365_ENTERPRISE_SALES: the tenant has no subscription for this SKU "
        "(needed by a@x.example, b@x.example, c@x.example); subscribed: DYN365_ENTERPRISE_TEAM_MEMBERS"
    ]


def test_tenant_sku_id_wins_over_the_table() -> None:
    other = "99999999-0000-0000-0000-000000000000"
    report = check_seats(NEED, facts.SKU_IDS, FakeGraph([SkuSeats("DYN365_ENTERPRISE_SALES", other, 10, 0)], {}))
    assert report.sku_ids["DYN365_ENTERPRISE_SALES"] == other
    assert any("differs from the table's" in n for n in report.notes)


def test_needs_follow_the_config(tmp_path: Any) -> None:
    from tests.program.packages import vendor_like_zip

    s = load("dev", {"solutionPath": str(vendor_like_zip(tmp_path / "v.zip"))})
    assert license_needs(s) == [LicenseNeed("DYN365_ENTERPRISE_SALES", (
        "bc-integration-dev@contoso.onmicrosoft.com", "alex.wilber@contoso.onmicrosoft.com",
        "megan.bowen@contoso.onmicrosoft.com"))]  # lee.gu: licenseSku null
    assert license_needs(load("local")) == []  # identityMode existing assigns nothing


def test_without_credentials_auto_skips_and_required_refuses(tmp_path: Any) -> None:
    from tests.program.packages import vendor_like_zip

    zip_path = str(vendor_like_zip(tmp_path / "v.zip"))
    notes: list[str] = []
    table = run_license_seat_check(load("dev", {"solutionPath": zip_path}), lambda: None, notes.append)
    assert table["DYN365_ENTERPRISE_SALES"] == SALES
    assert notes and "skipped: no Graph credentials" in notes[0]
    with pytest.raises(ValueError, match="seatCheck is required but no Graph credentials were found"):
        run_license_seat_check(load("prod", {"solutionPath": zip_path}), lambda: None, notes.append)


def test_graph_seat_source_against_the_emulator(emulator: Any) -> None:
    u = emulator.urls
    conn = EnvironmentEndpoints(environment_url=u.environment_url, tenant_id=u.tenant_id, authority_host=u.authority_host,
                      graph_url=u.graph_url, ca_bundle=u.ca_bundle)
    env = {"AZURE_TENANT_ID": u.tenant_id, "AZURE_CLIENT_ID": ids.DEPLOYER_CLIENT_ID,
           "AZURE_CLIENT_SECRET": ids.DEPLOYER_SECRET}
    source = GraphSeatSource(conn, resolve_credential(conn, env=env))
    skus = {s.part_number: s for s in source.subscribed_skus()}
    assert skus["DYN365_ENTERPRISE_SALES"].sku_id == SALES
    assert skus["DYN365_ENTERPRISE_SALES"].enabled == 40
    held = source.assigned_sku_ids(["sales01@contoso.example", "nobody@contoso.example"])
    assert SALES in (held["sales01@contoso.example"] or set())
    assert held["nobody@contoso.example"] is None
    need = [LicenseNeed("DYN365_ENTERPRISE_SALES", ("sales01@contoso.example", "nobody@contoso.example"))]
    report = check_seats(need, facts.SKU_IDS, source)
    assert report.problems == [] and report.notes[0].startswith("licence DYN365_ENTERPRISE_SALES: 1 new assignment")
