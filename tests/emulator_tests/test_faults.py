"""Fault injection as a client sees it over real sockets: 429, 503, reset, cut; nth/probability/filters."""

from __future__ import annotations

import pytest
import requests

from emulator import Emulator, FaultRule

from .helpers import graph_headers, session, wait_for

USER = "sales04@contoso.example"


def _discovery(emu: Emulator) -> str:
    return f"{emu.urls.authority}/v2.0/.well-known/openid-configuration"


def _user_url(emu: Emulator) -> str:
    return f"{emu.urls.graph_url}/v1.0/users/{USER}?$select=id,usageLocation"


def test_429_carries_retry_after_in_the_surface_error_shape(emulator: Emulator) -> None:
    http, h = session(emulator), graph_headers(emulator)
    emulator.faults.add(FaultRule(kind="429", retry_after=7, path_regex=r"^/v1\.0/", limit=1))
    resp = http.get(_user_url(emulator), headers=h, timeout=5)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "7"
    assert resp.json()["error"]["code"] == "TooManyRequests"
    assert http.get(_user_url(emulator), headers=h, timeout=5).status_code == 200
    assert [(r.status, r.fault) for r in emulator.requests if r.path.startswith("/v1.0")] == [(429, "429"), (200, None)]


def test_503(emulator: Emulator) -> None:
    http = session(emulator)
    emulator.faults.add(FaultRule(kind="503", retry_after=None, limit=1))
    resp = http.get(_discovery(emulator), timeout=5)
    assert resp.status_code == 503 and "Retry-After" not in resp.headers
    assert resp.json()["error"] == "temporarily_unavailable"


def test_reset_before_the_service_sees_the_request(emulator: Emulator) -> None:
    http, h = session(emulator), graph_headers(emulator)
    emulator.faults.add(FaultRule(kind="reset", method="PATCH", limit=1))
    with pytest.raises(requests.ConnectionError):
        http.patch(f"{emulator.urls.graph_url}/v1.0/users/{USER}", json={"usageLocation": "FR"}, headers=h, timeout=5)
    assert emulator.graph.get_user(USER).usage_location == "US"
    assert wait_for(lambda: any(r.fault == "reset" and r.status == 0 for r in emulator.requests))


def test_reset_after_the_service_processed_the_request(emulator: Emulator) -> None:
    http, h = session(emulator), graph_headers(emulator)
    emulator.faults.add(FaultRule(kind="reset", method="PATCH", phase="after", limit=1))
    with pytest.raises(requests.ConnectionError):
        http.patch(f"{emulator.urls.graph_url}/v1.0/users/{USER}", json={"usageLocation": "FR"}, headers=h, timeout=5)
    assert emulator.graph.get_user(USER).usage_location == "FR"  # the outcome the client never heard about


def test_cut_body_mid_way(emulator: Emulator) -> None:
    http = session(emulator)
    emulator.faults.add(FaultRule(kind="cut", limit=1))
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        http.get(_discovery(emulator), timeout=5)
    assert http.get(_discovery(emulator), timeout=5).status_code == 200
    assert wait_for(lambda: [(r.status, r.fault) for r in emulator.requests if r.fault] == [(200, "cut")])


def test_nth_and_limit(emulator: Emulator) -> None:
    http = session(emulator)
    rule = emulator.faults.add(FaultRule(kind="503", nth=3))
    statuses = [http.get(_discovery(emulator), timeout=5).status_code for _ in range(7)]
    assert statuses == [200, 200, 503, 200, 200, 503, 200]
    assert (rule.matched, rule.fired) == (7, 2)
    emulator.faults.clear()
    emulator.faults.add(FaultRule(kind="503", nth=2, limit=1))
    assert [http.get(_discovery(emulator), timeout=5).status_code for _ in range(5)] == [200, 503, 200, 200, 200]


def test_method_and_path_filters(emulator: Emulator) -> None:
    http, h = session(emulator), graph_headers(emulator)
    emulator.faults.add(FaultRule(kind="429", method="POST", path_regex=r"/assignLicense$"))
    assert http.get(_user_url(emulator), headers=h, timeout=5).status_code == 200
    resp = http.post(f"{emulator.urls.graph_url}/v1.0/users/{USER}/assignLicense", headers=h, timeout=5,
                     json={"addLicenses": [], "removeLicenses": []})
    assert resp.status_code == 429


def test_probability_is_reproducible_with_the_fault_seed(emulator_factory) -> None:
    def pattern(seed: int) -> list[int]:
        emu = emulator_factory(fault_seed=seed)
        emu.faults.add(FaultRule(kind="503", probability=0.3))
        http = session(emu)
        return [http.get(_discovery(emu), timeout=5).status_code for _ in range(30)]

    first, again, other = pattern(7), pattern(7), pattern(8)
    assert first == again
    assert 0 < first.count(503) < 30
    assert first != other


def test_rule_validation() -> None:
    with pytest.raises(ValueError, match="kind"):
        FaultRule(kind="418")
    with pytest.raises(ValueError, match="probability or nth"):
        FaultRule(kind="429", probability=0.5, nth=2)
    with pytest.raises(ValueError, match="path_regex"):
        FaultRule(kind="429", path_regex="(")


def test_faults_through_the_admin_api(emulator: Emulator) -> None:
    http = session(emulator)
    admin = f"{emulator.urls.authority_host}/_emulator/faults"
    created = http.post(admin, json={"kind": "503", "nth": 1, "limit": 2}, timeout=5)
    assert created.status_code == 201
    assert [http.get(_discovery(emulator), timeout=5).status_code for _ in range(3)] == [503, 503, 200]
    listed = http.get(admin, timeout=5).json()
    assert listed[0]["fired"] == 2 and listed[0]["matched"] == 3
    bad = http.post(admin, json={"kind": "429", "colour": "red"}, timeout=5)
    assert bad.status_code == 400 and "colour" in bad.json()["error"]
    assert http.delete(admin, timeout=5).status_code == 204
    assert http.get(admin, timeout=5).json() == []


def test_injected_429_on_dataverse_uses_dataverse_error_shape(emulator: Emulator) -> None:
    http = session(emulator)
    emulator.faults.add(FaultRule(kind="429", retry_after=3, path_regex=r"^/api/data/"))
    resp = http.get(f"{emulator.urls.environment_url}/api/data/v9.2/WhoAmI", timeout=5)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "3"
    assert resp.json() == {"error": {"code": "0x80072322", "message": resp.json()["error"]["message"]}}
    assert http.get(f"{emulator.urls.authority}/v2.0/.well-known/openid-configuration", timeout=5).status_code == 200


def test_hold_keeps_the_request_unhandled_until_released(emulator: Emulator) -> None:
    """A "hold" rule stops the matching request before it is handled (tests crash clients there)."""
    import threading

    rule = emulator.faults.add(FaultRule(kind="hold", nth=1, limit=1, path_regex="openid-configuration"))
    answered = threading.Event()
    worker = threading.Thread(target=lambda: (session(emulator).get(_discovery(emulator)), answered.set()))
    worker.start()
    assert rule.holding.wait(timeout=10), "the request never reached the rule"
    assert not answered.wait(timeout=0.3), "a held request was answered"
    rule.release()
    assert answered.wait(timeout=10)
    worker.join(timeout=10)
    import json
    assert json.loads(json.dumps(rule.to_dict()))["kind"] == "hold"   # the admin API can list it
