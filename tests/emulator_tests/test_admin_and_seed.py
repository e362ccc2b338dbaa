"""Admin HTTP API (/_emulator), reset, knobs, request log; the default seed's contract values."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from emulator import Emulator, FaultRule
from emulator.seed import DEFAULT_SEED_PATH, SeedError, load_seed

from .helpers import graph_headers, session

P = "6b1c2d3e-0000-4000-8000-"


def test_request_log_and_counters_over_http(emulator: Emulator) -> None:
    http = session(emulator)
    admin = f"{emulator.urls.authority_host}/_emulator"
    http.get(f"{emulator.urls.authority}/v2.0/.well-known/openid-configuration?x=1", timeout=5)
    http.get(f"{emulator.urls.graph_url}/v1.0/users/sales01@contoso.example", timeout=5)  # no token: 401
    log = http.get(f"{admin}/requests", timeout=5).json()
    assert [(r["method"], r["status"]) for r in log] == [("GET", 200), ("GET", 401)]
    assert log[0]["query"] == "x=1" and log[0]["duration_ms"] >= 0 and log[0]["ended"] >= log[0]["started"]
    counters = http.get(f"{admin}/counters", timeout=5).json()
    assert counters["total"] == 2 and counters["by_status"] == {"200": 1, "401": 1}
    assert counters["by_surface"] == {"entra": 1, "graph": 1}
    assert http.delete(f"{admin}/requests", timeout=5).status_code == 204
    assert http.get(f"{admin}/requests", timeout=5).json() == [] and emulator.requests == []


def test_request_listener_sees_each_request_before_the_client_has_its_answer(emulator: Emulator) -> None:
    http = session(emulator)
    discovery = f"{emulator.urls.authority}/v2.0/.well-known/openid-configuration"
    seen: list[tuple[str, int, int]] = []
    stop = emulator.on_request(lambda r: seen.append((r.path, r.status, len(emulator.requests))))
    http.get(discovery, timeout=5)
    # already there when the response is in hand, and the record is in the log when it is called
    assert seen == [(urlsplit(discovery).path, 200, 1)]
    stop()
    http.get(discovery, timeout=5)
    assert len(seen) == 1 and len(emulator.requests) == 2


def test_caller_is_recorded_from_the_token(emulator: Emulator) -> None:
    h = graph_headers(emulator)
    session(emulator).get(f"{emulator.urls.graph_url}/v1.0/subscribedSkus", headers=h, timeout=5)
    assert emulator.requests[-1].caller == emulator.app("deployer")["service_principal_id"]


def test_reset_restores_the_seed(emulator: Emulator) -> None:
    http = session(emulator)
    emulator.graph.update_user("new.hire@contoso.example", {"usageLocation": "DE"})
    emulator.faults.add(FaultRule(kind="429", path_regex="^/v1.0"))
    assert http.post(f"{emulator.urls.authority_host}/_emulator/reset", timeout=5).status_code == 204
    assert emulator.graph.get_user("new.hire@contoso.example").usage_location is None
    assert emulator.faults.rules == [] and emulator.requests == []


def test_latency_knob_changes_at_runtime(emulator: Emulator) -> None:
    http = session(emulator)
    url = f"{emulator.urls.authority}/v2.0/.well-known/openid-configuration"
    resp = http.patch(f"{emulator.urls.authority_host}/_emulator/settings", json={"latency_ms": 150}, timeout=5)
    assert resp.status_code == 200 and resp.json()["latency_ms"] == 150
    t0 = time.perf_counter()
    http.get(url, timeout=5)
    assert time.perf_counter() - t0 >= 0.15
    bad = http.patch(f"{emulator.urls.authority_host}/_emulator/settings", json={"colour": 1}, timeout=5)
    assert bad.status_code == 400 and "colour" in bad.json()["error"]


def test_token_lifetime_knob_makes_tokens_expire(emulator_factory) -> None:
    emu = emulator_factory(token_lifetime_s=1)
    h = graph_headers(emu)
    http = session(emu)
    url = f"{emu.urls.graph_url}/v1.0/users/sales01@contoso.example"
    assert http.get(url, headers=h, timeout=5).status_code == 200
    emu.ctx.clock = lambda: time.time() + 2
    resp = http.get(url, headers=h, timeout=5)
    assert resp.status_code == 401 and "expired" in resp.json()["error"]["message"]


def test_default_seed_matches_the_architecture_contract() -> None:
    seed = load_seed()
    assert seed["tenant"]["id"] == f"{P}00000000a001"
    apps = {a["name"]: a for a in seed["apps"]}
    assert apps["deployer"]["client_id"] == f"{P}00000000d001"
    assert apps["deployer"]["secrets"] == ["emu-deployer-secret-6f2b9c"]
    assert apps["deployer"]["federated_credentials"][0] | {"name": None} == {
        "name": None, "issuer": "https://token.actions.githubusercontent.com",
        "subject": "repo:contoso/bc-sales:environment:dev", "audiences": ["api://AzureADTokenExchange"]}
    assert apps["limited"]["client_id"] == f"{P}00000000d002" and apps["limited"]["secrets"] == ["emu-limited-secret-41ac7e"]
    assert apps["business-central"]["client_id"] == f"{P}00000000d003"
    users = {u["upn"]: u for u in seed["users"]}
    integ = users["bc-integration@contoso.example"]
    assert (integ["object_id"], integ["usage_location"], integ["licenses"]) == (f"{P}00000000e000", "US", ["DYN365_ENTERPRISE_SALES"])
    for n in range(1, 31):
        u = users[f"sales{n:02d}@contoso.example"]
        assert u["object_id"] == f"{P}0000000000{n:02d}" and u["licenses"] == ["DYN365_ENTERPRISE_SALES"]
    hire = users["new.hire@contoso.example"]
    assert (hire["object_id"], hire["usage_location"], hire["licenses"]) == (f"{P}00000000e001", None, [])
    skus = {s["sku_part_number"]: (s["sku_id"], s["enabled"]) for s in seed["skus"]}
    assert skus == {"DYN365_ENTERPRISE_SALES": ("1e1a282c-9c54-43a2-9310-98ef728faace", 40),
                    "DYN365_ENTERPRISE_TEAM_MEMBERS": ("8e7a3d30-d97d-43ab-837c-d7701cef83dc", 5),
                    "DYN365_BUSCENTRAL_ESSENTIAL": ("2880026b-2b0c-4251-8656-5d41ff11e3aa", 10)}
    roles = {r["name"]: r["template_id"] for r in seed["dataverse"]["roles"]}
    assert roles["System Administrator"] == "627090ff-40a3-4053-8790-584edc5be201"
    assert roles["System Customizer"] == "119f245c-3cc8-4b62-b31c-d1a046ced15d"
    assert {"Salesperson", "Sales Manager"} <= set(roles)


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda s: s["tenant"].update(id="x"), "tenant.id: 'x' is not a GUID"),
    (lambda s: s["users"][0].update(usage_location="USA"), "users[0].usage_location: 'USA' is not a two-letter"),
    (lambda s: s["users"][0].update(licenses=["NOPE"]), "users[0].licenses: 'NOPE' is not a SKU of this seed; allowed:"),
    (lambda s: s["skus"][0].update(enabled=-1), "skus[0].enabled: -1 is not a seat count"),
    (lambda s: s["apps"].append(dict(s["apps"][0])), "apps[3].client_id:"),
])
def test_seed_errors_name_file_key_and_value(tmp_path: Path, mutate, message: str) -> None:
    data = yaml.safe_load(DEFAULT_SEED_PATH.read_text())
    mutate(data)
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SeedError) as info:
        load_seed(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)


def test_context_repr_has_no_secrets(emulator: Emulator) -> None:
    text = repr(emulator.ctx) + repr(emulator)
    assert "emu-deployer-secret" not in text and "request-token" not in text
