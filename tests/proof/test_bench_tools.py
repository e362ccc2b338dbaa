"""The benchmark's measuring tools measure what they claim (fast checks, no emulator)."""

from __future__ import annotations

import subprocess
import sys
import zlib
import json
from pathlib import Path
from typing import Any

from bench import minimal
from bench.bounds import lower_bounds, minimal_cost, seed_role_names
from bench.emulator_proc import Request, import_notice
from bench.package import FILLER_MEMBER, write_large_package
from bench.rss import PeakRssMonitor
from bench.state_size import PROVIDER_KEY, SECRET_SIG, checkpoint_entry, entry_bytes
from devkit.workload import rw1

REPO = Path(__file__).resolve().parents[2]


def test_large_package_is_valid_and_incompressible(tmp_path: Path) -> None:
    import zipfile

    from infra.model.solution_package import read_package

    path = write_large_package(REPO / "solution" / "standin", tmp_path / "big.zip", 2_000_000)
    info = read_package(path)
    assert info.unique_name == "bcsales_IntegrationStandIn" and path.stat().st_size >= 2_000_000
    with zipfile.ZipFile(path) as zf:
        filler = zf.read(FILLER_MEMBER)
    assert len(filler) == 2_000_000
    assert len(zlib.compress(filler[:200_000])) > 199_000, "filler compresses: RSS would be understated"


def test_peak_rss_sees_a_short_spike() -> None:
    code = "import time, sys; sys.stdin.readline(); b = bytearray(60_000_000); b[::4096] = b'x' * len(b[::4096]); del b; time.sleep(0.2)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)
    try:
        with PeakRssMonitor(proc.pid) as mon:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
            proc.wait(timeout=20)
    finally:
        proc.kill() if proc.poll() is None else None
    assert mon.report is not None and mon.report.growth_bytes > 50_000_000, mon.report


def _conn() -> dict[str, str]:
    return {"environment_url": "https://127.0.0.1:1", "tenant_id": "t", "authority_host": "https://127.0.0.1:1",
            "graph_url": "https://127.0.0.1:1", "graph_resource": "https://graph.microsoft.com", "ca_bundle": ""}


def test_minimal_model_for_rw1() -> None:
    """The documented derivation: 81 requests (100 without $batch), 15 RT -> 10.45 s for RW-1."""
    wl = rw1(_conn())
    held = seed_role_names()
    ids = {"role-integration-administrator": "ia", "role-integration-user": "iu", "role-product-availability-user": "pau"}
    names = {"ia": "Integration Administrator", "iu": "Integration User", "pau": "Product Availability User"}
    outs = {k: {"role_id": v, "adopted": True} for k, v in ids.items()}
    costs = {}
    seen: set[str] = set()
    for node in wl.nodes:
        costs[node.name] = minimal_cost(node.kind, outs.get(node.name, {}), node.build(outs), managed=True,
                                        role_names=names, held=held, names_seen=seen)
    assert len(wl.nodes) == 32
    assert sum(c.requests for c in costs.values()) == 81  # $batch allowed; incl. one lookup of "Salesperson"
    bounds = lower_bounds(wl, costs)
    assert bounds["chain_round_trips"] == 15 and bounds["critical_path_s"] == 10.45
    seen.clear()
    unbatched = sum(minimal_cost(n.kind, outs.get(n.name, {}), n.build(outs), managed=True, role_names=names,
                                 held=held, names_seen=seen, batch=False).requests for n in wl.nodes)
    assert unbatched == 100  # every operation as its own request
    assert bounds["capacity_round_trips"] > bounds["chain_round_trips"]
    assert minimal.solution_create(10, managed=False).requests == 15  # + PublishAllXml


def test_import_notice_uses_the_first_poll_after_completion() -> None:
    def req(method: str, path: str, started: float, ended: float) -> Request:
        return Request(method, path, "", 200, started, ended, None)

    reqs = [req("POST", "/api/data/v9.2/ImportSolutionAsync", 0.0, 0.03),
            req("GET", "/api/data/v9.2/asyncoperations(1)", 9.0, 9.03),
            req("GET", "/api/data/v9.2/asyncoperations(1)", 10.2, 10.23),
            req("GET", "/api/data/v9.2/asyncoperations(1)", 11.0, 11.03)]
    out = import_notice(reqs, 10.0)
    assert out["polls"] == 3 and abs(out["notice_s"] - 0.2) < 1e-9


def test_state_entry_encrypts_provider_only_when_secret() -> None:
    props = {"connection": _conn(), "name": "x", PROVIDER_KEY: "A" * 120}
    plain = checkpoint_entry(urn="u", type_="t", id_="i", inputs=props, outputs=props, dependencies=[],
                             property_dependencies={}, parent="p", provider_ref="r", provider_secret=False)
    secret = checkpoint_entry(urn="u", type_="t", id_="i", inputs=props, outputs=props, dependencies=[],
                              property_dependencies={}, parent="p", provider_ref="r", provider_secret=True)
    assert SECRET_SIG in secret["inputs"][PROVIDER_KEY] and plain["inputs"][PROVIDER_KEY] == "A" * 120
    assert entry_bytes(secret) > entry_bytes(plain) > 2 * len(str(_conn()))


def test_rw1_writes_to_an_untracked_default_not_the_committed_baseline(monkeypatch: Any, tmp_path: Path) -> None:
    import bench.rw1 as rw1_mod

    assert rw1_mod.DEFAULT_OUT == rw1_mod.REPO / ".bench" / "rw1.json"
    assert ".bench/" in (rw1_mod.REPO / ".gitignore").read_text().splitlines()
    seen: dict[str, Any] = {}
    monkeypatch.setattr(rw1_mod, "phase_first_up", lambda work: {"first": 1})
    monkeypatch.setattr(rw1_mod, "phase_per_resource", lambda: {"per": 1})
    monkeypatch.setattr(rw1_mod, "build_report", lambda first, per, rss: {"first": first, "per": per, "rss": rss})
    monkeypatch.setattr(rw1_mod, "print_report", lambda rep: seen.setdefault("printed", rep))
    out = tmp_path / "figures.json"
    assert rw1_mod.main(["--out", str(out), "--package-mb", "0"]) == 0
    assert json.loads(out.read_text())["first"] == {"first": 1}
    parser_default = rw1_mod.DEFAULT_OUT
    assert parser_default != rw1_mod.REPO / "bench" / "results" / "rw1.json"
