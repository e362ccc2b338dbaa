"""RW-1 through the real Pulumi engine: ``python -m bench.rw1 --engine pulumi``.

The ``local`` stack of a copy of the project, with RW-1's 25 salespeople (sales01..25, role
Salesperson) in its stack file, is deployed by the pinned ``pulumi`` (scripts/pulumi-cli.sh)
against an emulator subprocess with the benchmark's latency and import time. The engine runs the
real program (config, role files, package, components) and starts the dynamic provider host itself,
so the figures include everything a user's ``pulumi up --skip-preview`` pays.

Measured:
* ``wall_s``: the whole ``pulumi up --skip-preview`` process, start to exit;
* ``startup_s`` / ``shutdown_s``: from the start to the first request the emulator logged, and from
  the last response to the exit -- the engine's own overhead inside that wall time;
* ``empty_up_s``: ``pulumi up --skip-preview`` of a project whose program registers nothing (same
  CLI, language host and Python): the engine's start-up overhead measured apart;
* requests (Dataverse, Entra) of the first up, and of a second ``up --expect-no-changes``.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from bench.emulator_proc import EmulatorProcess, dataverse, entra, import_notice, tokens
from devkit.engine import copy_project, engine_env, pulumi_cli
from devkit.workload import DEPLOYER_CLIENT_ID, DEPLOYER_SECRET, salesperson_oid


def rw1_project(dest: Path, salespeople: int) -> Path:
    """A copy of the project whose local stack deploys RW-1's salespeople."""
    copy_project(dest)
    stack_file = dest / "Pulumi.local.yaml"
    doc = yaml.safe_load(stack_file.read_text())
    doc["config"]["bc-sales:salespeople"] = [
        {"userPrincipalName": f"sales{i:02d}@contoso.example", "roles": ["Salesperson"],
         "objectId": salesperson_oid(i)} for i in range(1, salespeople + 1)]
    stack_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    return dest


def emulator_env(urls: dict[str, Any]) -> dict[str, str]:
    """The emulator's endpoints and the seed's deploying app, as the benchmark has always given them."""
    return {"BC_SALES_ENVIRONMENT_URL": urls["environment_url"], "BC_SALES_AUTHORITY_HOST": urls["authority_host"],
            "BC_SALES_GRAPH_URL": urls["graph_url"], "BC_SALES_CA_BUNDLE": urls["ca_bundle"],
            "AZURE_TENANT_ID": urls["tenant_id"], "AZURE_CLIENT_ID": DEPLOYER_CLIENT_ID,
            "AZURE_CLIENT_SECRET": DEPLOYER_SECRET}


def _pulumi(cli: Path, project: Path, env: dict[str, str], *args: str) -> tuple[float, float]:
    """Run one CLI command; returns (start, end) epoch seconds. Raises with the output on failure."""
    t0 = time.time()
    result = subprocess.run([str(cli), *args, "--non-interactive"], cwd=project, env=env, capture_output=True,
                            text=True, timeout=1800)
    t1 = time.time()
    if result.returncode != 0:
        raise RuntimeError(f"pulumi {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}")
    return t0, t1


def empty_up_seconds(cli: Path, work: Path, env: dict[str, str]) -> float:
    """``pulumi up --skip-preview`` of a program that registers nothing: CLI + language host + Python."""
    project = work / "empty"
    (project / "prog").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: empty\nmain: prog/\nruntime:\n  name: python\n"
                                         "  options:\n    toolchain: pip\n")
    (project / "prog" / "__main__.py").write_text("import pulumi  # noqa: F401\n")
    env = {**env, "PYTHONPATH": str(project)}
    subprocess.run([str(cli), "stack", "select", "--create", "bench"], cwd=project, env=env, check=True,
                   capture_output=True, timeout=120)
    _pulumi(cli, project, env, "up", "--yes", "--skip-preview", "--stack", "bench")   # warm the caches once
    t0, t1 = _pulumi(cli, project, env, "up", "--yes", "--skip-preview", "--stack", "bench")
    return round(t1 - t0, 3)


def phase_engine_up(work: Path, *, latency_ms: float, import_seconds: float, salespeople: int = 25
                    ) -> dict[str, Any]:
    """First up and a no-op up of RW-1 through the real engine; see the module docstring."""
    cli = pulumi_cli()
    version = subprocess.run([str(cli), "version"], capture_output=True, text=True, check=True).stdout.strip()
    out: dict[str, Any] = {"cli": str(cli), "version": version}
    with EmulatorProcess(latency_ms=latency_ms, import_seconds=import_seconds) as emu:
        project = rw1_project(work / "project", salespeople)
        env = engine_env(cli, work, project, emulator_env(emu.urls))
        subprocess.run([str(cli), "stack", "select", "--create", "local"], cwd=project, env=env, check=True,
                       capture_output=True, timeout=120)
        emu.clear_log()
        t0, t1 = _pulumi(cli, project, env, "up", "--yes", "--skip-preview", "--stack", "local")
        reqs = emu.requests()
        first_req = min(r.started for r in reqs)
        last_resp = max(r.ended for r in reqs)
        resources = json.loads(subprocess.run([str(cli), "stack", "export", "--stack", "local"], cwd=project,
                                              env=env, capture_output=True, text=True, check=True).stdout)
        out.update({
            "wall_s": round(t1 - t0, 3),
            "startup_s": round(first_req - t0, 3),
            "shutdown_s": round(t1 - last_resp, 3),
            "requests_total": len(dataverse(reqs)),
            "entra_requests": len(entra(reqs)),
            "token_requests": len(tokens(reqs)),
            "import": import_notice(reqs, import_seconds),
            "dynamic_resources": sum(1 for r in resources["deployment"]["resources"]
                                     if r["type"].startswith("pulumi-python:dynamic/")),
        })
        emu.clear_log()
        n0, n1 = _pulumi(cli, project, env, "up", "--yes", "--skip-preview", "--expect-no-changes", "--stack", "local")
        noop = emu.requests()
        out["noop_up"] = {"wall_s": round(n1 - n0, 3), "requests": len(dataverse(noop)),
                          "writes": len([r for r in dataverse(noop) if r.is_write])}
        out["empty_up_s"] = empty_up_seconds(cli, work, env)
    return out
