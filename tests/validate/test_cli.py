"""The `bc-sales` console command as people run it: the installed script, exit codes, no tracebacks."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.validate.conftest import REAL_STACK, REPO, Project

SCRIPT = Path(sys.executable).with_name("bc-sales")


def bc_sales(*args: str, cwd: Path = REPO, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_SALES_", "AZURE_", "ARM_"))}
    return subprocess.run([str(SCRIPT), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stdout + done.stderr, done.stderr


def test_the_console_script_is_installed() -> None:
    assert SCRIPT.is_file(), "pip install -e . installs [project.scripts] bc-sales"
    done = bc_sales("--help")
    assert done.returncode == 0 and "validate" in done.stdout and "review" in done.stdout


def test_validate_clean_stack_exits_0() -> None:
    done = bc_sales("validate", "--stack", "local")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "stack local: no problems"


def test_validate_all_stacks_lists_every_problem_and_exits_1() -> None:
    done = bc_sales("validate", "--all-stacks")
    no_traceback(done)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert "stack local: no problems" in lines
    assert any(line.startswith("stack dev: ") for line in lines) and any(line.startswith("stack prod: ") for line in lines)
    assert any("Pulumi.dev.yaml:7: bc-sales:tenantId: '00000000-0000-0000-0000-000000000000' is an example value"
               in line for line in lines)
    assert any("Pulumi.prod.yaml:7: bc-sales:environmentUrl:" in line for line in lines)
    assert "problems in stacks dev, prod (nothing was deployed)" in done.stderr


@pytest.mark.parametrize("args", [[], ["validate"], ["validate", "--stack", "dev", "--all-stacks"],
                                  ["validate", "--stack", "staging"], ["frobnicate"],
                                  ["review"], ["review", "--base", "no-such-revision"]])
def test_usage_mistakes_exit_2_without_traceback(args: list[str]) -> None:
    done = bc_sales(*args)
    no_traceback(done)
    assert done.returncode == 2, (args, done.stdout, done.stderr)
    assert done.stderr.strip()


def test_validate_from_a_subfolder_and_broken_files_give_no_traceback(project: Project) -> None:
    project.stack("real", REAL_STACK)
    (project.root / "roles" / "integration-user.yaml").write_text("name: [unclosed\n")
    project.stack("odd", "just text\n")
    done = bc_sales("validate", "--stack", "real", "--stack", "odd", cwd=project.root / "roles")
    no_traceback(done)
    assert done.returncode == 1
    assert "roles/integration-user.yaml:2: YAML syntax error" in done.stdout
    assert "Pulumi.odd.yaml:1: a stack file is a mapping with a 'config' section" in done.stdout
    assert "stack odd: 3 problems (2 shown above)" in done.stdout  # role-file problems are listed once


def test_review_exit_status_follows_problems_at_head(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git_env = {**os.environ, "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@t.invalid", "GIT_COMMITTER_NAME": "T",
               "GIT_COMMITTER_EMAIL": "t@t.invalid", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path)}

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=git_env)

    git("init", "-q", "-b", "main")
    shutil.copytree(REPO / "roles", repo / "roles")
    git("add", "-A")
    git("commit", "-qm", "base")
    ok = bc_sales("review", "--base", "HEAD", "--repo", str(repo))
    assert ok.returncode == 0 and "No changes" in ok.stdout
    (repo / "roles" / "integration-user.yaml").write_text("name: Integration User\ntables: {account: 1}\n")
    git("commit", "-qam", "broken")
    bad = bc_sales("review", "--base", "HEAD~1", "--repo", str(repo))
    no_traceback(bad)
    assert bad.returncode == 1
    assert "Security role removed" not in bad.stdout and "not compared" in bad.stdout


def test_emulator_subcommand_works_from_any_folder(tmp_path: Path) -> None:
    state = tmp_path / "emu"
    proc = subprocess.Popen([str(SCRIPT), "emulator", "--port", "0", "--state", str(state)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        urls = json.loads(line)
        assert urls["environment_url"].startswith(("https://127.0.0.3:", "https://127.0.0.1:"))  # own origin
        assert Path(urls["ca_bundle"]).is_file()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert proc.returncode == 0
    bad = bc_sales("emulator", "--port", "-1", cwd=tmp_path)
    no_traceback(bad)
    assert bad.returncode == 2


def test_mock_run_summarises_and_fails_on_a_broken_config(tmp_path: Path) -> None:
    overrides = json.dumps({"solutionSource": "business-central", "solutionPath": None})
    done = bc_sales("mock-run", "--stack", "dev", "--overrides", overrides, "--out", str(tmp_path / "rec.json"),
                    cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "stack dev: 22 resources registered under the mock runtime" in done.stdout
    assert "pulumi-python:dynamic/dataverse:SolutionRequirement" in done.stdout
    assert "connectionSetup" in done.stdout
    assert json.loads((tmp_path / "rec.json").read_text())["error"] is None
    broken = bc_sales("mock-run", "--stack", "dev", "--overrides", json.dumps({"tenantId": "nope"}), cwd=tmp_path)
    assert broken.returncode == 1
    assert "bc-sales:tenantId = 'nope': expected a GUID" in broken.stderr
    assert broken.stderr.count("expected a GUID") == 1, broken.stderr  # said once, not by both processes
    assert "Traceback" not in broken.stderr


def test_infra_and_the_command_import_without_tests(tmp_path: Path) -> None:
    """tests/ is not installed, the emulator is an optional extra and devkit/bench are source-checkout
    tools: importing infra and the command loads none of them (the emulator subcommand does, when run)."""
    code = ("import sys; import infra.cli.main, infra.validate, infra.review, infra.program.config; "
            "assert not any(m.split('.')[0] in ('tests', 'emulator', 'devkit', 'bench') for m in sys.modules), "
            "sorted(sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert done.returncode == 0, done.stderr


def test_emulator_subcommand_without_the_extra_says_how_to_install_it(tmp_path: Path) -> None:
    """Without the optional extra `emulator` (here: starlette cannot be imported) the subcommand
    names the extra and exits 2, without a traceback."""
    code = ("import sys; sys.modules['starlette'] = None; from infra.cli.main import main; sys.exit(main(['emulator']))")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    no_traceback(done)
    assert done.returncode == 2, done.stderr
    assert "pip install 'bc-sales-infra[emulator]'" in done.stderr and "'starlette'" in done.stderr
