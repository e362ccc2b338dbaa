"""`python -m emulator` as a subprocess, and state surviving a restart with --snapshot."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from emulator import Emulator
from emulator.seed import ids

from .helpers import graph_headers, session, token

ROOT = Path(__file__).resolve().parents[2]
USER = "sales09@contoso.example"


def _start(state: Path, *extra: str) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--port", "0", "--state", str(state), *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        pytest.fail(f"emulator did not start: {proc.stderr.read() if proc.stderr else ''}")
    return proc, json.loads(line)


def _stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=10)


def _http(info: dict) -> requests.Session:
    s = requests.Session()
    s.verify = info["ca_bundle"]
    return s


def _graph_token(info: dict, http: requests.Session) -> str:
    resp = http.post(f"{info['authority']}/oauth2/v2.0/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": ids.DEPLOYER_CLIENT_ID,
        "client_secret": ids.DEPLOYER_SECRET, "scope": "https://graph.microsoft.com/.default"})
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


def test_cli_prints_one_json_line_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc, info = _start(tmp_path / "state")
    try:
        assert set(info) == {"authority_host", "tenant_id", "authority", "graph_url", "environment_url", "ca_bundle",
                             "power_platform_url", "pid"}
        assert info["pid"] == proc.pid
        assert info["ca_bundle"] == str(tmp_path / "state" / "ca.pem")
        assert info["authority"] == f"{info['authority_host']}/{info['tenant_id']}"
        resp = _http(info).get(f"{info['authority']}/v2.0/.well-known/openid-configuration", timeout=5)
        assert resp.status_code == 200
        counters = _http(info).get(f"{info['authority_host']}/_emulator/counters", timeout=5).json()
        assert counters["total"] == 1
    finally:
        rc = _stop(proc)
    assert rc == 0


def test_cli_reports_bad_seed_without_traceback(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("tenant:\n  id: not-a-guid\n")
    proc = subprocess.run([sys.executable, "-m", "emulator", "--seed", str(seed)], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert f"{seed}: tenant.id: 'not-a-guid' is not a GUID" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_snapshot_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    proc, info = _start(state, "--snapshot")
    try:
        http = _http(info)
        tok = _graph_token(info, http)
        h = {"Authorization": f"Bearer {tok}"}
        assert http.patch(f"{info['graph_url']}/v1.0/users/{USER}", json={"usageLocation": "NL"}, headers=h, timeout=5).status_code == 204
    finally:
        assert _stop(proc) == 0
    assert (state / "state.json").exists()
    proc, info2 = _start(state, "--snapshot")
    try:
        http = _http(info2)  # same CA file, same token signing key: the old token still works
        user = http.get(f"{info2['graph_url']}/v1.0/users/{USER}?$select=usageLocation", headers=h, timeout=5)
        assert user.status_code == 200 and user.json()["usageLocation"] == "NL"
    finally:
        _stop(proc)


def test_in_process_snapshot_written_on_change(tmp_path: Path, emulator_tls_dir: Path) -> None:
    emu = Emulator.start(state_dir=tmp_path, snapshot=True, tls_dir=emulator_tls_dir)
    try:
        http, h = session(emu), graph_headers(emu)
        http.patch(f"{emu.urls.graph_url}/v1.0/users/{USER}", json={"usageLocation": "SE"}, headers=h, timeout=5)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # written by the server loop within ~0.25 s, without a stop
            path = tmp_path / "state.json"
            if path.exists() and '"SE"' in path.read_text():
                break
            time.sleep(0.05)
        else:
            pytest.fail("snapshot was not written after a change")
    finally:
        emu.stop()
    again = Emulator.start(state_dir=tmp_path, snapshot=True, tls_dir=emulator_tls_dir)
    try:
        assert again.graph.get_user(USER).usage_location == "SE"
    finally:
        again.stop()


def test_subprocess_env_is_not_required() -> None:
    """The CLI needs no environment variables (it runs in CI containers and on laptops alike)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "ARM_"))}
    out = subprocess.run([sys.executable, "-m", "emulator", "--help"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "--provisioning-delay" in out.stdout


def test_installed_package_runs_from_any_folder(tmp_path: Path) -> None:
    """`python -m emulator` needs the installed package, not the checkout as working directory; its
    seed and certificate are package data."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-m", "emulator", "--seed", str(tmp_path / "missing.yaml")], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "missing.yaml: <file>: cannot read" in out.stderr  # it ran, and said why not
    code = ("import emulator, emulator.seed as s; from pathlib import Path; "
            "assert s.DEFAULT_SEED_PATH.is_file() and (s.DEFAULT_SEED_PATH.parent / 'deployer-cert.pem').is_file(); "
            "print(Path(emulator.__file__).resolve().parent)")
    where = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=30)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()) == ROOT / "emulator"


def test_snapshot_includes_dataverse_state(tmp_path: Path, emulator_tls_dir: Path) -> None:
    """The core persists ``ctx.dataverse.snapshot()`` and hands it back to ``restore()`` on start."""
    role_id = "6b1c2d3e-0000-4000-8000-0000000a5a5a"
    emu = Emulator.start(state_dir=tmp_path, snapshot=True, tls_dir=emulator_tls_dir)
    try:
        if emu.dataverse is None or not hasattr(emu.dataverse, "snapshot"):
            pytest.fail("Dataverse surface is not installed or has no snapshot()")
        env = emu.urls.environment_url
        h = {"Authorization": f"Bearer {token(emu, f'{env}/.default')}", "Content-Type": "application/json",
             "OData-Version": "4.0", "Accept": "application/json"}
        root_bu = next(b["id"] for b in emu.seed["dataverse"]["business_units"] if b["parent"] is None)
        resp = session(emu).post(f"{env}/api/data/v9.2/roles", headers=h, timeout=5, json={
            "roleid": role_id, "name": "Snapshot Probe", "businessunitid@odata.bind": f"/businessunits({root_bu})"})
        assert resp.status_code in (201, 204), resp.text
    finally:
        emu.stop()
    again = Emulator.start(state_dir=tmp_path, snapshot=True, tls_dir=emulator_tls_dir)
    try:
        env = again.urls.environment_url
        h = {"Authorization": f"Bearer {token(again, f'{env}/.default')}", "Accept": "application/json"}
        resp = session(again).get(f"{env}/api/data/v9.2/roles({role_id})?$select=name", headers=h, timeout=5)
        assert resp.status_code == 200 and resp.json()["name"] == "Snapshot Probe"
    finally:
        again.stop()
