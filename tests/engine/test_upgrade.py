"""A stack deployed by the program as it was before the redesign (issue 14) upgrades with no change.

The redesign renamed resource classes (their Pulumi type tokens come with aliases) and moved
modules. Pulumi's state keeps each dynamic resource's provider pickled by reference to its module,
and the engine unpickles the *stored* one for Read (refresh) and Delete (destroy). So the proof
runs the real engine: ``up`` with the program of commit ``BEFORE`` (taken with ``git archive``),
then with today's program on the same stack: ``preview`` plans no change (no replace), ``up
--expect-no-changes``, ``refresh --expect-no-changes`` and ``destroy`` all succeed.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from emulator import Emulator
from devkit.engine import PROJECT_PARTS, ROOT, copy_project, engine_env
from tests.engine.conftest import EngineStack, emulator_env

#: The last commit before the redesign (issue 14): its program created the stack.
BEFORE = "299015214aca23ddb6b2799c371c2d1e42706e04"


def project_at(commit: str, dest: Path) -> Path:
    """The project's program, stack files, role files and package as they were at ``commit``."""
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit, *PROJECT_PARTS],
                                 capture_output=True, check=True, timeout=120).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        reason = getattr(exc, "stderr", b"") or str(exc)
        message = f"git archive {commit} failed (a shallow clone?): {reason!r}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def test_a_stack_made_before_the_redesign_upgrades_without_change(
        pulumi_cli: Path, tmp_path: Path, emulator: Emulator) -> None:
    old = EngineStack(pulumi_cli, project_at(BEFORE, tmp_path / "before"),
                      engine_env(pulumi_cli, tmp_path, tmp_path / "before", emulator_env(emulator)))
    old.env["PYTHONPATH"] = str(old.project)          # the old program imports its own infra
    old.init()
    old.up("--skip-preview")
    created = {r["urn"] for r in old.resources()}

    new_project = copy_project(tmp_path / "after")
    new = EngineStack(pulumi_cli, new_project, {**old.env, "PYTHONPATH": str(new_project)})
    (new_project / "Pulumi.local.yaml").write_bytes((old.project / "Pulumi.local.yaml").read_bytes())

    preview = new.preview("--diff", "--expect-no-changes")
    assert "replace" not in preview.stdout.lower().replace("replaces", ""), preview.stdout
    new.up("--expect-no-changes")
    # the stored (old) provider pickles are what refresh and destroy unpickle
    new.refresh("--expect-no-changes")
    after = {r["urn"] for r in new.resources()}
    assert len(after) == len(created)
    # The aliases moved the recorded resources to the new names (same resources, no replace).
    types = lambda urns: {u.split("::")[2].rsplit("$", 1)[-1] for u in urns}  # noqa: E731
    old_types = {"pulumi-python:dynamic/dataverse:Preflight", "pulumi-python:dynamic/dataverse:UserAccess"}
    new_types = {"pulumi-python:dynamic/dataverse:DeployerCheck", "pulumi-python:dynamic/dataverse:UserRoleAssignment"}
    assert old_types <= types(created) and not new_types & types(created)
    assert new_types <= types(after) and not old_types & types(after)
    assert any(u.endswith("::preflight") for u in created) and any(u.endswith("::deployer-check") for u in after)
    new.destroy()
    assert new.resources() == []
