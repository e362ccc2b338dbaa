"""Three origins, as in a tenant: Entra (login host), Microsoft Graph and the Dataverse environment are
different hosts (https://learn.microsoft.com/graph/deployments lists a sign-in host and a Graph host per cloud;
https://learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors gives
the environment's own URL). A request that reaches the wrong origin is refused there."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import trustme

from emulator import Emulator

from .helpers import graph_headers, session, token


def test_each_service_has_its_own_loopback_origin(emulator: Emulator) -> None:
    u = emulator.urls
    hosts = [urlsplit(x) for x in (u.authority_host, u.graph_url, u.environment_url)]
    assert [h.hostname for h in hosts] == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    assert len({h.port for h in hosts}) == 1 and hosts[0].port == emulator.port
    http = session(emulator)  # one CA, one certificate valid for every origin
    assert http.get(f"{u.authority}/v2.0/.well-known/openid-configuration", timeout=5).status_code == 200
    assert http.get(f"{u.graph_url}/v1.0/users/sales01@contoso.example", headers=graph_headers(emulator),
                    timeout=5).status_code == 200
    dv = {"Authorization": f"Bearer {token(emulator, f'{u.environment_url}/.default')}"}
    assert http.get(f"{u.environment_url}/api/data/v9.2/WhoAmI", headers=dv, timeout=5).status_code == 200


def test_requests_on_the_wrong_origin_are_refused(emulator: Emulator) -> None:
    """Each origin answers only its own paths: the environment host and the sign-in host 404 anything else;
    Graph answers 400 "Invalid version." for a path outside a version segment (the service's answer, e.g.
    https://github.com/microsoftgraph/msgraph-sample-blazor-clientside/issues/94)."""
    u = emulator.urls
    http = session(emulator)
    gh = graph_headers(emulator)
    dv = {"Authorization": f"Bearer {token(emulator, f'{u.environment_url}/.default')}"}
    assert http.get(f"{u.environment_url}/v1.0/users/sales01@contoso.example", headers=gh, timeout=5).status_code == 404
    assert http.get(f"{u.authority_host}/v1.0/users/sales01@contoso.example", headers=gh, timeout=5).status_code == 404
    assert http.get(f"{u.authority_host}/api/data/v9.2/WhoAmI", headers=dv, timeout=5).status_code == 404
    wrong = http.get(f"{u.graph_url}/api/data/v9.2/WhoAmI", headers=dv, timeout=5)
    assert wrong.status_code == 400 and wrong.json()["error"]["message"] == "Invalid version."
    assert http.post(f"{u.graph_url}/{u.tenant_id}/oauth2/v2.0/token", data={"grant_type": "client_credentials"},
                     timeout=5).status_code == 400
    assert http.post(f"{u.environment_url}/{u.tenant_id}/oauth2/v2.0/token", data={"grant_type": "client_credentials"},
                     timeout=5).status_code == 404
    # the admin API lives on the Entra origin only
    assert http.get(f"{u.authority_host}/_emulator/counters", timeout=5).status_code == 200
    assert http.get(f"{u.environment_url}/_emulator/counters", timeout=5).status_code == 404
    by_surface = http.get(f"{u.authority_host}/_emulator/counters", timeout=5).json()["by_surface"]
    assert by_surface["dataverse"] >= 2 and by_surface["graph"] >= 2  # counted by the origin reached


def test_ports_layout_for_machines_with_one_loopback_address(emulator_factory) -> None:
    """Where only 127.0.0.1 exists (macOS without aliases) the three origins are three ports of it."""
    emu = emulator_factory(layout="ports")
    u = emu.urls
    parts = [urlsplit(x) for x in (u.authority_host, u.graph_url, u.environment_url)]
    assert {p.hostname for p in parts} == {"127.0.0.1"} and len({p.port for p in parts}) == 3
    dv = {"Authorization": f"Bearer {token(emu, f'{u.environment_url}/.default')}"}
    assert session(emu).get(f"{u.environment_url}/api/data/v9.2/WhoAmI", headers=dv, timeout=5).status_code == 200
    assert session(emu).get(f"{u.graph_url}/api/data/v9.2/WhoAmI", headers=dv, timeout=5).status_code == 400


def test_a_taken_port_is_a_clear_error(emulator: Emulator) -> None:
    with pytest.raises(OSError, match=r"cannot listen on 127\.0\.0\.1:\d+"):
        Emulator.start(port=emulator.port)


def test_a_single_origin_certificate_is_replaced(tmp_path: Path) -> None:
    """A state folder from before the three origins holds a certificate for 127.0.0.1 only; it is replaced."""
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    leaf.private_key_pem.write_to_path(str(tmp_path / "server-key.pem"))
    (tmp_path / "server.pem").write_bytes(b"".join(b.bytes() for b in leaf.cert_chain_pems))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    old_ca = (tmp_path / "ca.pem").read_bytes()
    with Emulator.start(tls_dir=tmp_path) as emu:
        assert (tmp_path / "ca.pem").read_bytes() != old_ca
        assert session(emu).get(f"{emu.urls.graph_url}/v1.0/users/x", timeout=5).status_code == 401  # TLS verified
