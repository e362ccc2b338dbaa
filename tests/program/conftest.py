"""Fixtures: the real program run under the mock runtime for each stack, in clean subprocesses.

Each stack runs in its own ``python -m devkit.mockrun`` process with an environment that
proves no Pulumi CLI or plugin is needed: PATH holds only the virtualenv's ``bin`` (no ``pulumi``
there), PULUMI_HOME is an empty folder (no plugins), and no deploying credentials -- except where
a test gives them on purpose (the prod seat check against the emulator's Graph; a canary secret
for the local stack to prove it never reaches the state).
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Iterator

import pytest

from emulator.seed import ids
from tests.program.packages import vendor_like_zip

ROOT = Path(__file__).resolve().parents[2]
TENANT_ID = ids.TENANT_ID
DEPLOYER = {"AZURE_TENANT_ID": TENANT_ID, "AZURE_CLIENT_ID": ids.DEPLOYER_CLIENT_ID,
            "AZURE_CLIENT_SECRET": ids.DEPLOYER_SECRET}
#: A value that must never appear in the recorded state of the local stack.
CANARY_SECRET = "canary-secret-7f3e91b2-do-not-store"


@dataclass
class Run:
    """What one program run registered (see devkit/mockrun.py)."""

    stack: str
    record: dict[str, Any]
    stderr: str
    #: when the subprocess was started and when it ended (UTC): the program read the clock in between
    window: tuple[datetime, datetime]

    @property
    def error(self) -> str | None:
        return self.record["error"]

    @property
    def resources(self) -> list[dict[str, Any]]:
        return self.record["resources"]

    @property
    def outputs(self) -> dict[str, Any]:
        return self.record["outputs"] or {}

    def by_name(self, name: str) -> dict[str, Any]:
        found = [r for r in self.resources if r["name"] == name]
        assert len(found) == 1, f"{name}: {len(found)} registrations in {self.stack}"
        return found[0]

    def of_type(self, suffix: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"].endswith(suffix)]

    def urn(self, name: str) -> str:
        return self.by_name(name)["urn"]

    def infos(self) -> list[str]:
        return [entry["message"] for entry in self.record["logs"] if entry["level"] in ("INFO", "WARNING")]


def clean_env(tmp: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """An environment without the CLI, plugins or credentials."""
    bin_dir = str(Path(sys.executable).parent)
    pulumi_home = tmp / "pulumi-home"
    pulumi_home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": bin_dir,
        "HOME": str(tmp),
        "PULUMI_HOME": str(pulumi_home),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(extra or {})
    return env


def run_stack(stack: str, tmp: Path, *, overrides: dict[str, Any] | None = None,
              env: dict[str, str] | None = None, preview: bool = False) -> Run:
    tmp.mkdir(parents=True, exist_ok=True)
    out = tmp / f"{stack}.json"
    cmd = [sys.executable, "-m", "devkit.mockrun", "--stack", stack, "--out", str(out),
           "--overrides", json.dumps(overrides or {})]
    if preview:
        cmd.append("--preview")
    started = datetime.now(UTC)
    proc = subprocess.run(cmd, cwd=ROOT, env=clean_env(tmp, env), capture_output=True, text=True, timeout=120)
    ended = datetime.now(UTC)
    assert out.is_file(), f"mockrun {stack} wrote no record:\n{proc.stdout}\n{proc.stderr}"
    record = json.loads(out.read_text())
    # a failed program run exits non-zero (people run it as `bc-sales mock-run`)
    assert proc.returncode == (1 if record["error"] else 0), f"mockrun {stack}:\n{proc.stdout}\n{proc.stderr}"
    return Run(stack, record, proc.stderr, (started, ended))


@pytest.fixture(scope="session")
def vendor_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return vendor_like_zip(tmp_path_factory.mktemp("vendor") / "MicrosoftDynamicsNavIntegration.zip")


@pytest.fixture(scope="session")
def graph_emulator(emulator_tls_dir: Path) -> Iterator[Any]:
    from emulator import Emulator

    emu = Emulator.start(None, tls_dir=emulator_tls_dir)
    try:
        yield emu
    finally:
        emu.stop()


def emulator_endpoints(emu: Any) -> dict[str, str]:
    u = emu.urls
    return {"BC_SALES_ENVIRONMENT_URL": u.environment_url, "BC_SALES_AUTHORITY_HOST": u.authority_host,
            "BC_SALES_GRAPH_URL": u.graph_url, "BC_SALES_CA_BUNDLE": u.ca_bundle,
            "BC_SALES_POWER_PLATFORM_URL": u.power_platform_url}


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory, vendor_zip: Path, graph_emulator: Any) -> dict[str, Run]:
    """dev, prod and local, run concurrently (each ~2 s)."""
    base = tmp_path_factory.mktemp("runs")
    u = graph_emulator.urls
    jobs = {
        # dev: no credentials -> the seat check is skipped with a note.
        "dev": dict(overrides={"solutionPath": str(vendor_zip)}),
        # prod: seatCheck required -> checked against the emulator's Graph with the deployer app.
        "prod": dict(
            overrides={"solutionPath": str(vendor_zip), "tenantId": u.tenant_id, "authorityHost": u.authority_host,
                       "graphUrl": u.graph_url, "caBundle": u.ca_bundle},
            env=dict(DEPLOYER),
        ),
        # local: endpoints from BC_SALES_*; a canary credential that must not reach the state.
        "local": dict(env={**emulator_endpoints(graph_emulator), "AZURE_TENANT_ID": TENANT_ID,
                           "AZURE_CLIENT_ID": DEPLOYER["AZURE_CLIENT_ID"], "AZURE_CLIENT_SECRET": CANARY_SECRET}),
    }
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(run_stack, name, base / name, **kw) for name, kw in jobs.items()}
        return {name: f.result() for name, f in futures.items()}


@pytest.fixture(scope="session")
def dev(runs: dict[str, Run]) -> Run:
    return runs["dev"]


@pytest.fixture(scope="session")
def prod(runs: dict[str, Run]) -> Run:
    return runs["prod"]


@pytest.fixture(scope="session")
def local(runs: dict[str, Run]) -> Run:
    return runs["local"]

