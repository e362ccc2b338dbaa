"""Smoke test of the emulator skeleton: it starts, serves HTTPS with a verified CA, and logs."""

from __future__ import annotations

import requests

from emulator import Emulator


def test_discovery_over_verified_https(emulator: Emulator) -> None:
    session = requests.Session()
    session.verify = emulator.urls.ca_bundle
    resp = session.get(f"{emulator.urls.authority}/v2.0/.well-known/openid-configuration", timeout=5)
    assert resp.status_code == 200
    assert resp.json()["token_endpoint"] == f"{emulator.urls.authority}/oauth2/v2.0/token"
    assert [(r.method, r.status) for r in emulator.requests] == [("GET", 200)]


def test_each_emulator_has_fresh_state(emulator_factory) -> None:
    first = emulator_factory()
    first.graph.update_user("new.hire@contoso.example", {"usageLocation": "DE"})
    second = emulator_factory()
    assert second.graph.get_user("new.hire@contoso.example").usage_location is None
    assert first.urls.ca_bundle == second.urls.ca_bundle
