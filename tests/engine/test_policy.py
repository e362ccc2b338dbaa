"""The policy pack through the real engine (issue 10, engine test 5).

The pack runs from its own virtualenv (``policy/venv``, as docs/ci-cd.md sets it up), created
once per test run from ``policy/requirements.txt``.

How the pack is started: with ``--policy-pack policy`` the engine asks the Python language host to
run the pack (RunPlugin). The language host this project can build (sdk v3.68.0, see README "The
Pulumi CLI") predates the engine's current RunPlugin request and runs the wrong program, so the
test hands the engine an executable instead -- the engine's own "binary analyzer" path -- that
starts the pack the way Pulumi's current Python host does: the pack's venv interpreter running
``python -m pulumi.policy <engine address> <pack folder>`` in the pack folder. Everything after the
start (handshake, stack configuration, the policy config file, every resource checked, mandatory
violations failing the preview) is the real engine's.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devkit.engine import ROOT
from emulator import Emulator
from tests.engine.conftest import EngineStack
from tests.engine.expect import dataverse_writes

LAUNCHER = """#!/bin/sh
# Starts the policy pack as Pulumi's Python language host does (RunPlugin for a policy pack).
cd "{pack}" && exec "{pack}/venv/bin/python" -u -m pulumi.policy "$1" "{pack}"
"""


@pytest.fixture(scope="session")
def policy_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """policy/venv as docs/ci-cd.md makes it: python -m venv + pip install -r policy/requirements.txt.

    Built once per test run: pytest-xdist workers share the run's base temporary folder, and a
    lock keeps a second worker from building (downloading, compiling grpcio) at the same time."""
    shared = tmp_path_factory.getbasetemp().parent if "PYTEST_XDIST_WORKER" in os.environ \
        else tmp_path_factory.getbasetemp()
    venv = shared / "policy-venv"
    with open(shared / "policy-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / ".complete").is_file():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
            subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                            "--disable-pip-version-check", "--retries", "10", "--timeout", "60",
                            "-r", str(ROOT / "policy" / "requirements.txt")], check=True, timeout=900)
            (venv / ".complete").touch()
    return venv


def preview_with_policy(stack: EngineStack, policy_venv: Path) -> subprocess.CompletedProcess[str]:
    pack = stack.project / "policy"
    (pack / "venv").symlink_to(policy_venv, target_is_directory=True)
    launcher = stack.project / "policy-launcher" / "bc-sales-guardrails"
    launcher.parent.mkdir()
    launcher.write_text(LAUNCHER.format(pack=pack))
    launcher.chmod(0o755)
    # the engine reads the pack's name and version from a PulumiPolicy.yaml beside a binary pack
    (launcher.parent / "PulumiPolicy.yaml").write_bytes((pack / "PulumiPolicy.yaml").read_bytes())
    return stack.preview("--policy-pack", str(launcher), "--policy-pack-config", str(pack / "config.json"),
                         check=False)


def test_the_local_stack_complies(engine_stack: EngineStack, policy_venv: Path, emulator: Emulator) -> None:
    result = preview_with_policy(engine_stack, policy_venv)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "bc-sales-guardrails@v0.1.0" in result.stdout, result.stdout   # the pack really ran
    assert "mandatory" not in result.stdout.lower()


def test_global_delete_on_a_core_table_is_refused(engine_stack: EngineStack, policy_venv: Path,
                                                  emulator: Emulator) -> None:
    role_file = engine_stack.project / "roles" / "integration-user.yaml"
    text = role_file.read_text()
    edited = text.replace("account:              {verbs: [create, read, write, append, append-to, assign], depth: global}",
                          "account:              {verbs: [create, read, write, delete, append, append-to, assign], "
                          "depth: global}")
    assert edited != text, "the role file's account line moved: update this test"
    role_file.write_text(edited)

    result = preview_with_policy(engine_stack, policy_venv)
    seen = result.stdout + result.stderr
    assert result.returncode != 0, seen
    assert "no-global-delete-on-core-tables" in seen, seen
    assert "privileges.prvDeleteAccount = 'Global': role 'Integration User' would delete every account record" \
        in seen, seen
    assert dataverse_writes(emulator) == []   # a preview: nothing was changed
