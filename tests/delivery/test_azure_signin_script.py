"""Run the Azure DevOps sign-in script (pulumi-steps.yml) with a fake `pulumi` and fake task values.

This is what AzureCLI@2 does on an agent, minus Azure: the task puts servicePrincipalId, tenantId
and idToken in the environment and runs the inline script after substituting the `${{ }}`
parameters and `$(...)` macros. The fake pulumi records its arguments and the variables it sees.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.delivery.conftest import REPO, load_yaml

TOKEN = "eyJhbGciOiJSUzI1NiJ9.fake-federated-token.sig"  # not a real token
CLIENT_ID = "11111111-2222-4333-8444-555555555555"
TENANT_ID = "66666666-7777-4888-9999-000000000000"

FAKE_PULUMI = """#!/usr/bin/env python3
import json, os, stat, sys
token_file = os.environ.get("AZURE_FEDERATED_TOKEN_FILE", "")
info = {
    "args": sys.argv[1:],
    "env": {k: v for k, v in os.environ.items() if k.startswith(("ARM_", "AZURE_", "PULUMI_"))},
    "token_file_content": open(token_file).read() if token_file else None,
    "token_file_mode": oct(stat.S_IMODE(os.stat(token_file).st_mode)) if token_file else None,
}
json.dump(info, open(os.environ["FAKE_PULUMI_RECORD"], "w"))
"""


def _script(command: str, stack: str, temp_dir: Path) -> str:
    [task] = load_yaml(REPO / ".azure-pipelines/templates/pulumi-steps.yml")["steps"]
    script = task["inputs"]["inlineScript"]
    script = script.replace("${{ parameters.command }}", command).replace("${{ parameters.stack }}", stack)
    script = script.replace("$(Agent.TempDirectory)", str(temp_dir)).replace("$(Build.SourceVersion)", "abc123")
    assert "${{" not in script and "$(Agent" not in script
    return script


def _run(tmp_path: Path, command: str, stack: str, pulumi_org: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "pulumi"
    fake.write_text(FAKE_PULUMI, encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    temp_dir = tmp_path / "agent-temp"
    temp_dir.mkdir()
    record = tmp_path / "record.json"
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "idToken": TOKEN, "servicePrincipalId": CLIENT_ID, "tenantId": TENANT_ID,
        "PULUMI_ACCESS_TOKEN": "pul-fake", "PULUMI_ORG": pulumi_org,
        "FAKE_PULUMI_RECORD": str(record),
    }
    proc = subprocess.run(["bash", "-c", _script(command, stack, temp_dir)], env=env, capture_output=True,
                          text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads(record.read_text(encoding="utf-8")) | {"temp_dir": str(temp_dir)}


def test_up_maps_the_service_connection_to_arm_and_azure_variables(tmp_path: Path) -> None:
    proc, seen = _run(tmp_path, "up", "prod", pulumi_org="contoso")
    env = seen["env"]
    assert env["ARM_USE_OIDC"] == "true"
    assert env["ARM_OIDC_TOKEN"] == TOKEN
    assert env["ARM_CLIENT_ID"] == env["AZURE_CLIENT_ID"] == CLIENT_ID
    assert env["ARM_TENANT_ID"] == env["AZURE_TENANT_ID"] == TENANT_ID
    assert seen["token_file_content"] == TOKEN and seen["token_file_mode"] == "0o600"
    assert seen["args"][:3] == ["up", "--stack", "contoso/prod"]
    assert {"--yes", "--diff", "--non-interactive", "--policy-pack", "policy"} <= set(seen["args"])
    # the token file is gone after the step, and nothing secret reached the log
    assert list(Path(seen["temp_dir"]).iterdir()) == []
    assert TOKEN not in proc.stdout + proc.stderr


@pytest.mark.parametrize("org", ["", "$(PULUMI_ORG)"])
def test_preview_without_an_organisation_uses_the_bare_stack_name(tmp_path: Path, org: str) -> None:
    _, seen = _run(tmp_path, "preview", "dev", pulumi_org=org)
    assert seen["args"][:3] == ["preview", "--stack", "dev"]
    assert "--yes" not in seen["args"]
