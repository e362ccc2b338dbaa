"""The program's own resource graph goes through the policy pack.

The program runs under pulumi's mock runtime (no CLI, no cloud) with the dev and prod stack files;
every registered resource is handed to every policy as the analyzer would. The stand-in solution
and a loopback environment URL replace the placeholders that only a real tenant can satisfy.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

import policies as p
from tests.delivery.conftest import REPO
from tests.delivery.policy_helpers import run_policy


def _program_resources(stack: str, **overrides: Any) -> list[dict[str, Any]]:
    """The resources the program registers for ``stack`` (devkit.mockrun), with their inputs as
    the analyzer sees them: secrets unwrapped, no engine-internal (``__``) properties."""
    values: dict[str, Any] = {"solutionPath": "solution/standin", "environmentUrl": "https://127.0.0.1:8443",
                              "seatCheck": "off", **overrides}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARM_", "AZURE_", "PULUMI_", "BC_SALES_"))}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "record.json"
        proc = subprocess.run(
            [sys.executable, "-m", "devkit.mockrun", "--stack", stack, "--overrides", json.dumps(values),
             "--out", str(out)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        record = json.loads(out.read_text(encoding="utf-8"))
    resources = [{"type": r["type"], "name": r["name"],
                  "inputs": {k: _unwrap(v) for k, v in r["inputs"].items() if not k.startswith("__")}}
                 for r in record["resources"] if r["type"] != "pulumi:pulumi:Stack"]
    assert resources, "the program registered nothing"
    return resources


def _unwrap(value: Any) -> Any:
    """mockrun marks secrets as ``{"__secret__": value}``; a policy sees the plain value."""
    if isinstance(value, dict):
        if set(value) == {"__secret__"}:
            return _unwrap(value["__secret__"])
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _violations(stack: str, resources: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    config = json.loads((REPO / "policy" / "config.json").read_text(encoding="utf-8"))
    found = []
    for resource in resources:
        for policy in p.POLICIES:
            for message in run_policy(policy, resource["type"], resource["inputs"], stack=stack,
                                      config=config[policy.name], name=resource["name"]):
                found.append((policy.name, resource["name"], message))
    return found


@pytest.fixture(autouse=True)
def _real_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    # the program computes the secret's end date from the real time; judge it at the same time
    monkeypatch.setattr(p, "clock", lambda: dt.datetime.now(dt.timezone.utc))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_program_complies_with_the_guardrails(stack: str) -> None:
    resources = _program_resources(stack)
    types = {r["type"] for r in resources}
    assert {"pulumi-python:dynamic/dataverse:UserRoleAssignment", "pulumi-python:dynamic/dataverse:SecurityRole",
            "pulumi-python:dynamic/dataverse:SolutionImport"} <= types
    assert _violations(stack, resources) == []


def test_a_long_secret_rotation_is_caught() -> None:
    resources = _program_resources("dev", clientSecretRotationDays=180)
    assert any(r["type"] == "azuread:index/applicationPassword:ApplicationPassword" for r in resources)
    [(policy, name, _)] = _violations("dev", resources)
    assert (policy, name) == ("client-secrets-expire", "client-secret")
