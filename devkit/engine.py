"""The real Pulumi engine for tests and the benchmark: the pinned CLI, a copy of the project, and an
offline-safe environment to run it in.

The CLI comes from ``scripts/pulumi-cli.sh`` (a ``pulumi`` on PATH at or above the pin, a cached
build, a Go build, the installer).  A project copy lets a run edit role files or config without
touching the checkout; ``PYTHONPATH`` points at the copy so the program and the dynamic provider
host import the copy's ``infra`` (the editable install would otherwise import the checkout's).  The
environment has a ``file://`` backend and an empty ``PULUMI_HOME`` under the caller's work folder,
the passphrase the committed ``encryptionsalt`` of Pulumi.local.yaml was made with, no update check
and no plugin acquisition, and nothing inherited that could change the engine's behaviour
(``AZURE_*``, ``ARM_*``, ``PULUMI_*``, ``BC_SALES_*``, ``PYTHON*``, ``VIRTUAL_ENV``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
#: What a copy of the project needs to run the program and the policy pack.
PROJECT_PARTS = ("Pulumi.yaml", "Pulumi.local.yaml", "infra", "roles", "solution", "policy")
#: The passphrase Pulumi.local.yaml's encryptionsalt was made with (scripts/local-up.sh's default).
LOCAL_PASSPHRASE = "local-emulator-passphrase"


def acquire_cli() -> tuple[Path | None, str]:
    """Run scripts/pulumi-cli.sh (up to an hour for a cold Go build); returns (path or None, its message)."""
    result = subprocess.run(["bash", str(ROOT / "scripts" / "pulumi-cli.sh")], capture_output=True, text=True,
                            timeout=3600)
    if result.returncode == 0 and result.stdout.strip():
        return Path(result.stdout.strip()), result.stderr
    return None, result.stderr.strip() or f"scripts/pulumi-cli.sh exited {result.returncode}"


def pulumi_cli() -> Path:
    """The pinned CLI; RuntimeError with the script's message when none can be had."""
    path, message = acquire_cli()
    if path is None:
        raise RuntimeError(f"no Pulumi CLI: {message}")
    return path


def copy_project(dest: Path, parts: Iterable[str] = PROJECT_PARTS) -> Path:
    """Copy the project's program, stack files, role files, package and policy pack to ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "venv")
    for part in parts:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=ignore)
        else:
            shutil.copy2(src, dest / part)
    return dest


def engine_env(cli: Path, work: Path, project: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """An offline-safe environment for ``cli`` run on ``project``, state and plugins under ``work``;
    ``extra`` (endpoints, credentials) is added last."""
    home = work / "pulumi-home"
    home.mkdir(parents=True, exist_ok=True)
    backend = work / "backend"
    backend.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AZURE_", "ARM_", "PULUMI_", "BC_SALES_", "PYTHON", "VIRTUAL_ENV"))}
    env.update({
        "PATH": os.pathsep.join([str(cli.parent), str(VENV_BIN), "/usr/local/bin", "/usr/bin", "/bin"]),
        "PYTHONPATH": str(project),
        "PULUMI_HOME": str(home),
        "PULUMI_BACKEND_URL": f"file://{backend}",
        "PULUMI_CONFIG_PASSPHRASE": LOCAL_PASSPHRASE,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "NO_COLOR": "1",
    })
    env.update(extra or {})
    return env
