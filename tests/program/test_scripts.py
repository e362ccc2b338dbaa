"""scripts/local-up.sh and scripts/test.sh, up to the Pulumi CLI (which this machine does not have).

local-up.sh is run for real: the emulator starts, its URLs land in the environment, the local
stack's config validates against it.  For the CLI part a stand-in ``pulumi`` on PATH records the
commands and, for ``up``, runs the real program under the mock runtime with the environment the
script prepared -- so the hand-over to the CLI is checked too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from emulator.seed import ids

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "local-up.sh"

FAKE_PULUMI = """#!/usr/bin/env bash
set -euo pipefail
printf '%s\\n' "$*" >> "$FAKE_PULUMI_LOG"
case "$1" in
  version) echo v9.0.0 ;;
  up)
    env | grep -E '^(BC_SALES_|AZURE_TENANT_ID|AZURE_CLIENT_ID|PULUMI_)' | sort > "$FAKE_PULUMI_DIR/env.txt"
    "$FAKE_PYTHON" -m devkit.mockrun --stack local --out "$FAKE_PULUMI_DIR/up.json" ;;
  stack)
    if [ "$2" = output ]; then echo '{"environmentUrl": "from-fake"}'; fi ;;
esac
"""


def base_env(tmp: Path, *, with_fake_pulumi: bool) -> dict[str, str]:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    path = [str(bin_dir), "/usr/bin", "/bin"]
    if with_fake_pulumi:
        fake = bin_dir / "pulumi"
        fake.write_text(FAKE_PULUMI)
        fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "ARM_", "PULUMI_", "BC_SALES_"))}
    # no Go and no cached build: the only CLI scripts/pulumi-cli.sh can find is the stand-in on PATH
    env.update(PATH=os.pathsep.join(path), HOME=str(tmp), BC_SALES_EMULATOR_STATE=str(tmp / "emu"),
               BC_SALES_TOOLS_DIR=str(tmp / "tools"), BC_SALES_PULUMI_NO_INSTALLER="1",
               BC_SALES_PULUMI_BACKEND=f"file://{tmp / 'backend'}", FAKE_PULUMI_LOG=str(tmp / "pulumi.log"),
               FAKE_PULUMI_DIR=str(tmp), FAKE_PYTHON=sys.executable)
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def emulator_processes(state: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if "emulator" in cmd and str(state) in cmd:
            found.append(proc)
    return found


def test_help_is_the_header_comment_and_unknown_options_are_refused(tmp_path: Path) -> None:
    env = base_env(tmp_path, with_fake_pulumi=True)
    shown = run(["--help"], env)
    assert shown.returncode == 0
    text = shown.stdout.splitlines()
    assert text[0].startswith("One command for a fresh machine") and "BC_SALES_PULUMI_BACKEND" in text[-1]
    assert not any(line.startswith(("#", "set -")) for line in text), text[-3:]
    wrong = run(["--bogus"], env)
    assert wrong.returncode == 2 and "unknown option '--bogus' (try --help)" in wrong.stderr
    assert not (tmp_path / "emu").exists()


def test_missing_cli_says_how_to_get_one(tmp_path: Path) -> None:
    """No CLI on PATH, no cached build, no Go, no network: scripts/pulumi-cli.sh's one error."""
    result = run(["--no-install"], base_env(tmp_path, with_fake_pulumi=False))
    assert result.returncode == 127, result.stderr
    assert "no Pulumi CLI v3." in result.stderr
    assert "https://get.pulumi.com" in result.stderr and "install Go" in result.stderr
    assert not (tmp_path / "emu").exists()  # refused before starting anything


def test_an_old_cli_on_path_is_not_used(tmp_path: Path) -> None:
    env = base_env(tmp_path, with_fake_pulumi=True)
    fake = tmp_path / "bin" / "pulumi"
    fake.write_text(fake.read_text().replace("echo v9.0.0", "echo v3.100.0"))
    result = subprocess.run(["bash", str(ROOT / "scripts" / "pulumi-cli.sh")], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 3
    assert "is below the pin" in result.stderr


def test_dry_run_starts_the_emulator_and_validates_the_local_stack(tmp_path: Path) -> None:
    result = run(["--no-install", "--dry-run"], base_env(tmp_path, with_fake_pulumi=False))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["identityMode"] == "existing"
    # three origins (docs/emulator.md): the environment is not the sign-in host
    assert summary["environmentUrl"].startswith("https://127.0.0.3:")
    assert summary["authorityHost"].startswith("https://127.0.0.1:")
    port = (tmp_path / "emu" / "port").read_text().strip()
    assert summary["environmentUrl"].endswith(f":{port}") and summary["authorityHost"].endswith(f":{port}")
    assert "pulumi up --yes --stack local" in result.stderr
    assert emulator_processes(tmp_path / "emu") == []  # stopped on exit


def test_hands_over_to_the_cli_with_a_working_environment(tmp_path: Path) -> None:
    env = base_env(tmp_path, with_fake_pulumi=True)
    result = run(["--no-install"], env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "pulumi.log").read_text().splitlines() == [
        "version",            # scripts/pulumi-cli.sh: is the CLI on PATH at or above the pin?
        "version",            # local-up.sh: says which one it uses
        "stack select --create local",
        "up --yes --stack local",
        "stack output --stack local --json",
    ]
    seen = dict(line.split("=", 1) for line in (tmp_path / "env.txt").read_text().splitlines())
    assert seen["BC_SALES_ENVIRONMENT_URL"].startswith("https://127.0.0.3:")
    assert seen["BC_SALES_GRAPH_URL"].startswith("https://127.0.0.2:")
    assert seen["BC_SALES_AUTHORITY_HOST"].startswith("https://127.0.0.1:")
    assert Path(seen["BC_SALES_CA_BUNDLE"]).is_file()
    assert seen["BC_SALES_POWER_PLATFORM_URL"].startswith("https://127.0.0.4:")  # its own origin
    assert seen["AZURE_CLIENT_ID"] == ids.DEPLOYER_CLIENT_ID
    assert seen["PULUMI_CONFIG_PASSPHRASE"] == "local-emulator-passphrase"
    assert seen["PULUMI_BACKEND_URL"] == f"file://{tmp_path / 'backend'}"   # no `pulumi login`
    assert seen["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    assert seen["PULUMI_SKIP_UPDATE_CHECK"] == "true"
    record = json.loads((tmp_path / "up.json").read_text())
    assert record["error"] is None
    assert record["outputs"]["environmentUrl"] == seen["BC_SALES_ENVIRONMENT_URL"]
    assert '"from-fake"' in result.stdout
    # the second run reuses the port, so the stack's connection input does not change
    again = run(["--no-install", "--dry-run"], env)
    url = json.loads(again.stdout.strip().splitlines()[-1])["environmentUrl"]
    if "is not available; using a free one" in again.stderr:
        # a parallel test's emulator took the port in between: the script must say so
        assert url != seen["BC_SALES_ENVIRONMENT_URL"] and url.startswith("https://127.0.0.3:")
    else:
        assert url == seen["BC_SALES_ENVIRONMENT_URL"]


def test_keep_leaves_the_emulator_running(tmp_path: Path) -> None:
    env = base_env(tmp_path, with_fake_pulumi=False)
    result = run(["--no-install", "--keep", "--dry-run"], env)
    assert result.returncode == 0, result.stderr
    procs = emulator_processes(tmp_path / "emu")
    try:
        assert len(procs) == 1
        assert f"kill {procs[0].pid}" in result.stderr
    finally:
        for p in procs:
            os.kill(p.pid, signal.SIGTERM)
            p.wait(timeout=10)


def test_ci_entry_point_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/test.sh" in ci and "set -euo pipefail" in ci
    readme = (ROOT / "README.md").read_text()
    assert "scripts/test.sh" in readme and "scripts/local-up.sh" in readme
    test_sh = (ROOT / "scripts" / "test.sh").read_text()
    assert "pip install" in test_sh and "-m pytest" in test_sh


def test_dry_run_validates_the_local_stack_in_full_and_fails_on_a_broken_role_file(tmp_path: Path) -> None:
    """A copy of the project (the virtualenv, emulator/ and infra/ linked) with a typo in a role file."""
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.local.yaml"):
        (copy / name).write_text((ROOT / name).read_text())
    for folder in ("scripts", "roles", "solution"):
        shutil.copytree(ROOT / folder, copy / folder)
    for link in (".venv", "emulator", "infra"):
        (copy / link).symlink_to(ROOT / link)
    role = copy / "roles" / "integration-user.yaml"
    role.write_text(role.read_text().replace("  contact:   ", "  contct:    ", 1).replace("depth: basic", "depth: user"))
    env = base_env(tmp_path, with_fake_pulumi=False)
    result = subprocess.run(["bash", str(copy / "scripts" / "local-up.sh"), "--no-install", "--dry-run"], cwd=copy,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "roles/integration-user.yaml:18: tables.userentityuisettings.depth: unknown depth 'user'" in result.stdout
    assert "tables.contct: unknown table 'contct' (did you mean contact?)" in result.stdout
    assert "the local stack has problems" in result.stderr
    assert "would now run" not in result.stderr
    assert emulator_processes(tmp_path / "emu") == []
