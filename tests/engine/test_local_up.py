"""The README's main command, ``scripts/local-up.sh``, through the real engine; then a no-op second up.

Issue 10, engine tests 1 and 2.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from devkit.engine import ROOT, engine_env
from emulator import Emulator
from infra.program.config import PROJECT_ROOT
from tests.engine.conftest import EngineStack
from tests.engine.expect import check_local_deployment, dataverse_writes
from tests.program.test_config import load

#: Resource types the local stack must never register: their plugins cannot be had offline.
FOREIGN_PACKAGES = ("azuread:", "random:", "pulumi:providers:azuread", "pulumi:providers:random")


def test_local_up_script_end_to_end(pulumi_cli: Path, tmp_path: Path) -> None:
    """local-up.sh installs nothing (--no-install), gets the CLI, starts the emulator, ups the stack."""
    state = tmp_path / "emulator-state"
    env = engine_env(pulumi_cli, tmp_path, ROOT, {
        "BC_SALES_EMULATOR_STATE": str(state),
        "BC_SALES_PULUMI_BACKEND": f"file://{tmp_path / 'backend'}",
        # the script must find the CLI itself: only the pinned build's folder is known to it
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "BC_SALES_TOOLS_DIR": str(pulumi_cli.parents[3]),
    })
    env.pop("PULUMI_BACKEND_URL")
    env.pop("PULUMI_CONFIG_PASSPHRASE")   # the script's own default must match the committed salt
    env.pop("PYTHONPATH")                 # the repository itself: the editable install is right
    before = (ROOT / "Pulumi.local.yaml").read_bytes()
    result = subprocess.run(["bash", str(ROOT / "scripts" / "local-up.sh"), "--no-install"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert f"using {pulumi_cli}" in result.stderr
    assert "Resources:\n    + 13 created" in result.stdout, result.stdout
    # the committed encryptionsalt means the stack file is left exactly as it was
    assert (ROOT / "Pulumi.local.yaml").read_bytes() == before

    # the emulator wrote its tables to the state folder when it stopped: read them back
    emu = Emulator.start(state_dir=state, snapshot=True)
    try:
        settings = load("local", env={"BC_SALES_ENVIRONMENT_URL": emu.urls.environment_url,
                                      "BC_SALES_AUTHORITY_HOST": emu.urls.authority_host,
                                      "BC_SALES_GRAPH_URL": emu.urls.graph_url,
                                      "BC_SALES_CA_BUNDLE": emu.urls.ca_bundle})
        role_ids = check_local_deployment(emu.dataverse, settings, PROJECT_ROOT / "roles")
    finally:
        emu.stop()

    # outputs as documented (README "Deploying", step 5)
    outputs = json.loads(result.stdout[result.stdout.rindex("\n{\n"):])
    assert outputs["roleIds"] == role_ids
    assert outputs["integrationUserUpn"] == settings.integration_user.user_principal_name
    assert outputs["clientId"] == settings.application_client_id
    assert outputs["tenantId"] == settings.tenant_id
    assert outputs["installedSolutionVersion"] == outputs["solution"]["version"] == "1.0.0.0"
    served = json.loads((state / "emulator.json").read_text().splitlines()[0])   # local-up's emulator
    assert outputs["environmentUrl"] == served["environment_url"]


def test_second_up_changes_nothing_and_writes_nothing(engine_stack: EngineStack, emulator: Emulator) -> None:
    engine_stack.up()
    types = {r["type"] for r in engine_stack.resources()}
    assert not [t for t in types if t.startswith(FOREIGN_PACKAGES)], sorted(types)
    assert not any((Path(engine_stack.env["PULUMI_HOME"]) / "plugins").glob("*")), "a plugin was installed"

    emulator.clear_log()
    engine_stack.up("--expect-no-changes")
    assert dataverse_writes(emulator) == []
    assert emulator.requests, "the second up did not even read Dataverse"
