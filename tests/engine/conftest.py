"""Fixtures for the real Pulumi engine: the pinned CLI, a copy of the project, a stack against the emulator.

The CLI, the project copy and the environment come from devkit/engine.py (shared with the
benchmark).  ``pulumi_cli`` gets the CLI through ``scripts/pulumi-cli.sh`` (PATH, cached build, Go build,
installer). When none can be had the engine tests fail under ``CI=true`` and are skipped
elsewhere, with the script's message saying how to get one.

``engine_stack`` is the ``local`` stack of a private copy of the project (so a test may edit role
files or config), driven by the real ``pulumi`` against a fresh in-process emulator, in an
offline-safe environment: a ``file://`` backend and an empty ``PULUMI_HOME`` in the test's temp
folder, the passphrase the committed ``encryptionsalt`` was made with, no update check, no plugin
acquisition. ``PYTHONPATH`` points at the copy so the program and the dynamic provider host import
the copy's ``infra`` (the editable install would otherwise import the repository's).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import psutil
import pytest

from devkit.engine import acquire_cli, copy_project, engine_env
from emulator import Emulator
from tests.program.conftest import DEPLOYER, emulator_endpoints


@pytest.fixture(scope="session")
def pulumi_cli() -> Path:
    """The pinned Pulumi CLI; fails under CI=true when none can be had, else skips saying how to get one."""
    path, message = acquire_cli()
    if path is not None:
        return path
    reason = f"no Pulumi CLI for the engine tests: {message}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason)
    pytest.skip(reason + " (run scripts/pulumi-cli.sh to build or install it)")


def emulator_env(emu: Emulator) -> dict[str, str]:
    """The BC_SALES_* endpoints scripts/local-up.sh exports, and the seed's deploying app."""
    return {**emulator_endpoints(emu), **DEPLOYER}


@dataclass
class EngineStack:
    """One stack of a project copy, driven by the real ``pulumi``."""

    cli: Path
    project: Path
    env: dict[str, str]
    name: str = "local"
    runs: list[subprocess.CompletedProcess[str]] = field(default_factory=list)

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """``pulumi <args> --stack <name> --non-interactive``; output kept in ``runs`` for failure messages."""
        cmd = [str(self.cli), *args, "--stack", self.name, "--non-interactive"]
        result = subprocess.run(cmd, cwd=self.project, env=self.env, capture_output=True, text=True, timeout=timeout)
        self.runs.append(result)
        if check and result.returncode != 0:
            raise AssertionError(f"pulumi {' '.join(args)} exited {result.returncode}\n"
                                 f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}")
        return result

    def init(self) -> None:
        subprocess.run([str(self.cli), "stack", "select", "--create", self.name, "--non-interactive"],
                       cwd=self.project, env=self.env, capture_output=True, text=True, timeout=120, check=True)

    def up(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("up", "--yes", *extra, check=check)

    def preview(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("preview", *extra, check=check)

    def refresh(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("refresh", "--yes", *extra, check=check)

    def destroy(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("destroy", "--yes", *extra, check=check)

    def export(self) -> dict[str, Any]:
        return json.loads(self.run("stack", "export").stdout)

    def outputs(self, *, show_secrets: bool = False) -> dict[str, Any]:
        args = ["stack", "output", "--json"] + (["--show-secrets"] if show_secrets else [])
        return json.loads(self.run(*args).stdout)

    def config_set(self, key: str, value: str, *, path: bool = False, secret: bool = False,
                   plaintext: bool = False) -> None:
        args = (["config", "set", key, value] + (["--path"] if path else []) + (["--secret"] if secret else [])
                + (["--plaintext"] if plaintext else []))
        self.run(*args)

    def resources(self) -> list[dict[str, Any]]:
        return self.export()["deployment"].get("resources") or []

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Start ``pulumi <args>`` in its own process group (for crash tests); output to files in the project."""
        log = open(self.project / f"pulumi-{len(self.runs)}-{args[0]}.log", "w")  # noqa: SIM115 - closed by kill_group
        return subprocess.Popen([str(self.cli), *args, "--stack", self.name, "--non-interactive"], cwd=self.project,
                                env=self.env, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def kill_group(proc: subprocess.Popen[str]) -> None:
    """``kill -9`` the process and everything it started (the CLI, language host, program, provider hosts).

    The engine starts each plugin in a process group of its own, so killing the CLI's group alone
    would leave the language host and the provider hosts running (orphans, as after a crash of the
    CLI alone); a cancelled CI job or a dead machine takes them all, which is what this imitates.
    """
    try:
        tree = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        tree = []
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for child in tree:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    proc.wait(timeout=30)
    psutil.wait_procs(tree, timeout=30)
    if proc.stdout is not None:
        proc.stdout.close()


def wait_until(predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def engine_project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


@pytest.fixture
def make_engine_stack(pulumi_cli: Path, tmp_path: Path, engine_project: Path
                      ) -> Iterator[Callable[..., EngineStack]]:
    """``make_engine_stack(emulator, **extra_env)`` -> an initialised ``local`` stack of the project copy."""

    def make(emu: Emulator, **extra: str) -> EngineStack:
        env = engine_env(pulumi_cli, tmp_path, engine_project, {**emulator_env(emu), **extra})
        stack = EngineStack(pulumi_cli, engine_project, env)
        stack.init()
        return stack

    yield make


@pytest.fixture
def engine_stack(make_engine_stack: Callable[..., EngineStack], emulator: Emulator) -> EngineStack:
    """The ``local`` stack of a fresh project copy against a fresh default emulator."""
    return make_engine_stack(emulator)
