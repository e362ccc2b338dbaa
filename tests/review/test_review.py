"""The role-diff review aid over real git history (a temporary repository, real commits)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra.model.solution_package import write_package
from infra.review import main, review

REPO = Path(__file__).resolve().parents[2]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent",
}


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """A repository whose first commit holds the shipped roles/ and solution/."""
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    shutil.copytree(REPO / "roles", r / "roles")
    shutil.copytree(REPO / "solution", r / "solution")
    (r / "README.md").write_text("x\n")
    commit(r, "base")
    return r


def test_privilege_role_and_solution_changes(repo: Path) -> None:
    iu = repo / "roles" / "integration-user.yaml"
    edit(iu, "account:              {verbs: [create, read, write, append, append-to, assign], depth: global}",
         "account:              {verbs: [create, read, write, delete, append, append-to, assign], depth: global}")
    edit(iu, "contact:              {verbs: [create, read, write, append, append-to], depth: global}",
         "contact:              {verbs: [create, read, write, append, append-to], depth: local}")
    edit(iu, "  quote:                        {verbs: [read], depth: global}                                   # Quote\n", "")
    edit(iu, "  ActOnBehalfOfAnotherUser: global", "  {}")
    edit(iu, "privileges:             # privileges that belong to no table\n  {}", "")
    (repo / "roles" / "product-availability-user.yaml").unlink()
    (repo / "roles" / "sales-helper.yaml").write_text(
        "name: Sales Helper\ntables:\n  salesorder: {verbs: [read], depth: local}\n"
        "  systemuser: {verbs: [read, append-to], depth: basic}\n"
    )
    edit(repo / "solution" / "standin" / "solution.xml", "<Version>1.0.0.0</Version>", "<Version>1.0.1.0</Version>")
    write_package(REPO / "solution" / "standin", repo / "solution" / "vendor.zip")
    commit(repo, "change roles")

    out = review(repo, "main~1", "main")
    base_sha = git(repo, "rev-parse", "--short=7", "main~1").strip()
    assert out.startswith(f"## Security roles and solution: `main~1` ({base_sha}) → `main` (")

    section = out.split("### Security role: Integration User\n\n", 1)[1].split("\n\n", 1)[0]
    assert section.splitlines() == [
        "- Account — Delete: added at Organization (Global)",
        "- Contact — Create: depth changed from Organization (Global) to Business Unit (Local)",
        "- Contact — Read: depth changed from Organization (Global) to Business Unit (Local)",
        "- Contact — Write: depth changed from Organization (Global) to Business Unit (Local)",
        "- Contact — Append: depth changed from Organization (Global) to Business Unit (Local)",
        "- Contact — Append To: depth changed from Organization (Global) to Business Unit (Local)",
        "- Quote — Read: removed (was Organization (Global))",
        "- Act on Behalf of Another User: removed (was Organization (Global))",
    ]
    added = out.split("### Security role added: Sales Helper\n\n", 1)[1].split("\n\n", 2)
    assert added[0].startswith("`roles/sales-helper.yaml`, id `") and added[0].endswith("3 privileges:")
    assert added[1].splitlines() == [
        "- Order — Read: added at Business Unit (Local)",
        "- User — Read: added at User (Basic)",
        "- User — Append To: added at User (Basic)",
    ]
    assert "### Security role removed: Product Availability User" in out
    assert "`roles/product-availability-user.yaml` was deleted" in out
    assert "Integration Administrator" not in out  # unchanged roles are not listed

    solution = out.split("### Solution package\n\n", 1)[1].strip().splitlines()
    assert solution[0].startswith("- `bcsales_IntegrationStandIn`: version 1.0.0.0 → 1.0.1.0 (upgrade); package SHA-256 `")
    # the committed zip has the stand-in's unique name too: reported as a problem, not silently mixed
    assert "vendor.zip: the solution bcsales_IntegrationStandIn is also in solution/standin" in out


def test_vendor_zip_added_and_managed_flag_change(repo: Path) -> None:
    vendor_src = repo.parent / "vendor-src"
    shutil.copytree(REPO / "solution" / "standin", vendor_src)
    edit(vendor_src / "solution.xml", "<UniqueName>bcsales_IntegrationStandIn</UniqueName>",
         "<UniqueName>MicrosoftDynamicsNavIntegration</UniqueName>")
    write_package(vendor_src, repo / "solution" / "MicrosoftDynamicsNavIntegration.zip")
    commit(repo, "add vendor zip")
    out = review(repo, "HEAD~1")
    assert "- `MicrosoftDynamicsNavIntegration` added: version 1.0.0.0, managed " \
           "(`solution/MicrosoftDynamicsNavIntegration.zip`, SHA-256 `" in out

    edit(vendor_src / "solution.xml", "<Managed>1</Managed>", "<Managed>0</Managed>")
    write_package(vendor_src, repo / "solution" / "MicrosoftDynamicsNavIntegration.zip")
    commit(repo, "unmanaged, same version")
    out = review(repo, "HEAD~1")
    line = next(x for x in out.splitlines() if x.startswith("- `MicrosoftDynamicsNavIntegration`"))
    assert "**managed flag changed: managed → unmanaged**" in line
    assert "**content changed without a version change: the unmanaged package is imported again**" in line
    assert "every security role re-applies its role file after the import" in line
    assert "### Security role" not in out


def test_downgrade_rename_and_id_change(repo: Path) -> None:
    edit(repo / "solution" / "standin" / "solution.xml", "<Version>1.0.0.0</Version>", "<Version>0.9.0.0</Version>")
    edit(repo / "roles" / "integration-administrator.yaml", "name: Integration Administrator",
         "name: BC Integration Administrator")
    edit(repo / "roles" / "product-availability-user.yaml", "name: Product Availability User",
         "name: Product Availability User\nid: 11111111-2222-3333-4444-555555555555")
    commit(repo, "rename")
    out = review(repo, "HEAD~1", "HEAD")
    assert "version 1.0.0.0 → 0.9.0.0 (**downgrade — will be refused: deployments move forward**)" in out
    assert "### Security role: BC Integration Administrator\n\n- Renamed from **Integration Administrator** " \
           "to **BC Integration Administrator**\n" in out
    assert "- Id changed from `3d3860f5-d4cc-58c7-9d2c-ed57d6eabcc6` to `11111111-2222-3333-4444-555555555555`: " \
           "the role will be replaced" in out


def test_invalid_role_file_at_head_is_a_problem_not_a_removed_role(repo: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    edit(repo / "roles" / "integration-user.yaml", "depth: basic", "depth: user")
    edit(repo / "roles" / "integration-user.yaml", "{verbs: [read], depth: global, solution",
         "{verbs: [read], depth: globall, solution")
    commit(repo, "typo")
    assert main(["--repo", str(repo), "--base", "HEAD~1"]) == 1  # CI fails on it
    captured = capsys.readouterr()
    out = captured.out
    assert "**Problems at `HEAD`** (the deployment will fail on these):" in out
    assert "- roles/integration-user.yaml:" in out and "unknown depth 'user'; allowed depths: basic, local, deep, global" in out
    assert "unknown depth 'globall'" in out  # every problem of the file, not only the first
    assert "Security role removed" not in out
    assert "### Security role: Integration User — not compared" in out
    assert "`bc-sales validate --all-stacks`" in out  # what to do about it
    assert "problems at HEAD" in captured.err


def test_a_fixed_role_file_exits_zero_again(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    iu = repo / "roles" / "integration-user.yaml"
    edit(iu, "depth: basic", "depth: user")
    commit(repo, "typo")
    edit(iu, "depth: user", "depth: basic")
    commit(repo, "fix")
    assert main(["--repo", str(repo), "--base", "HEAD~1"]) == 0
    out = capsys.readouterr().out
    assert "Problems at" not in out
    assert "_Some files did not load at `HEAD~1` (1); what they declare shows as added._" in out


def test_solution_source_change_is_shown_per_stack(repo: Path) -> None:
    stack = repo / "Pulumi.dev.yaml"
    stack.write_text("config:\n  bc-sales:solutionPath: solution/standin\n")
    commit(repo, "stack")
    stack.write_text("config:\n  bc-sales:solutionSource: business-central\n"
                     "  bc-sales:solutionMinimumVersion: 9.0.0.0\n")
    edit(repo / "solution" / "standin" / "solution.xml", "<Version>1.0.0.0</Version>", "<Version>1.1.0.0</Version>")
    commit(repo, "let Business Central import the solution")
    out = review(repo, "HEAD~1")
    assert "### Solution source\n\n- `dev`: package (`solution/standin`) → business-central (Business Central " \
           "imports the solution; required installed at version 9.0.0.0 or later)" in out
    assert "_Every stack uses `solutionSource: business-central`: no stack imports these packages._" in out


def test_no_changes(repo: Path) -> None:
    (repo / "README.md").write_text("y\n")
    commit(repo, "docs only")
    assert review(repo, "HEAD~1").endswith("No changes to security roles or the solution package.\n")


def test_missing_revision_and_not_a_repo(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--repo", str(repo), "--base", "origin/main"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"infra.review: revision 'origin/main' does not exist in {repo} "
                           "(fetch it first, e.g. git fetch origin main)")
    assert main(["--repo", str(repo), "--base", "HEAD", "--head=--output=x"]) == 2
    assert "revision '--output=x' does not exist" in capsys.readouterr().err
    plain = tmp_path / "plain"
    plain.mkdir()
    assert main(["--repo", str(plain), "--base", "HEAD"]) == 2
    assert f"{plain} is not a git repository" in capsys.readouterr().err


def test_command_line_entry_point(repo: Path) -> None:
    edit(repo / "roles" / "product-availability-user.yaml", "nav_connection:        {verbs: [read], depth: global,",
         "nav_connection:        {verbs: [read, write], depth: global,")
    commit(repo, "write")
    done = subprocess.run([sys.executable, "-m", "infra.review", "--base", "HEAD~1"], cwd=repo,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert "### Security role: Product Availability User\n\n" \
           "- Business Central Connection — Write: added at Organization (Global)\n" in done.stdout


def test_export_ignore_attributes_do_not_hide_the_solution(repo: Path) -> None:
    (repo / ".gitattributes").write_text("solution/** export-ignore\nroles/** export-ignore\n")
    edit(repo / "solution" / "standin" / "solution.xml", "<Version>1.0.0.0</Version>", "<Version>2.0.0.0</Version>")
    commit(repo, "attributes")
    assert "version 1.0.0.0 → 2.0.0.0 (upgrade)" in review(repo, "HEAD~1")


def test_managed_content_change_without_a_version_change_is_flagged(repo: Path) -> None:
    edit(repo / "solution" / "standin" / "customizations.xml", '<RolePrivilege name="prvReadAccount" level="Local" />',
         '<RolePrivilege name="prvReadAccount" level="Global" />')
    commit(repo, "same version, new content")
    line = next(x for x in review(repo, "HEAD~1").splitlines() if x.startswith("- `bcsales_IntegrationStandIn`"))
    assert "**content changed without a version change: a managed package is refused at preview" in line
    assert "raise the version" in line and "every security role re-applies its role file" in line
