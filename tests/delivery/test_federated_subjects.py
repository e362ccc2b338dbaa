"""The federated credentials the program creates are exactly the subjects the workflows present.

IntegrationIdentity (infra/program/identity.py) adds one federated credential per entry of
``githubEnvironments`` / ``githubBranches`` of a stack. GitHub puts `environment:<name>` in the
token of a job bound to an environment, so a credential for a branch subject would never be used
by these workflows, and a deploy job whose environment has no credential could not sign in.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from infra.program.config import StackSettings, load_settings
from tests.delivery.conftest import REPO, triggers


def _stack_settings(stack: str) -> StackSettings:
    config = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))["config"]
    return load_settings(
        lambda key: config.get(f"bc-sales:{key}"), all_keys=config.keys(), env={}, stack=stack, check_files=False
    )


def _workflow_subjects(workflows: list[dict[Any, Any]]) -> dict[str, set[str]]:
    """subject suffix -> the stacks whose jobs present it."""
    found: dict[str, set[str]] = {}
    for workflow in workflows:
        on = triggers(workflow)
        for job in workflow["jobs"].values():
            if job.get("permissions", {}).get("id-token") != "write":
                continue
            stacks = set(job.get("strategy", {}).get("matrix", {}).get("stack", [])) or {job.get("environment")}
            suffix = f"environment:{job['environment']}" if "environment" in job else (
                "pull_request" if "pull_request" in on else "ref:refs/heads/main"
            )
            found.setdefault(suffix, set()).update(s for s in stacks if s)
    return found


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_program_creates_only_subjects_the_workflows_present(
    stack: str, preview_workflow: dict[Any, Any], deploy_workflow: dict[Any, Any]
) -> None:
    settings = _stack_settings(stack)
    repo = settings.github_repository
    assert repo, f"Pulumi.{stack}.yaml: githubRepository is empty"
    presented = {f"repo:{repo}:{suffix}" for suffix in _workflow_subjects([preview_workflow, deploy_workflow])}
    created = {subject for _, subject in settings.ci_subjects}
    assert created <= presented, f"credentials no workflow job can use: {sorted(created - presented)}"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_deploy_job_has_its_environment_credential(stack: str, deploy_workflow: dict[Any, Any]) -> None:
    settings = _stack_settings(stack)
    created = {subject for _, subject in settings.ci_subjects}
    job = next(j for j in deploy_workflow["jobs"].values() if j.get("environment") == stack)
    assert f"repo:{settings.github_repository}:environment:{job['environment']}" in created


def test_pull_request_subject_is_left_to_the_deploying_identity(preview_workflow: dict[Any, Any]) -> None:
    """PR previews present `pull_request`; the program never trusts it for the integration app
    (anyone who can open a branch could act as Business Central). docs/ci-cd.md tells the reader
    to add it by hand to the deploying identity only."""
    assert "pull_request" in _workflow_subjects([preview_workflow])
    for stack in ("dev", "prod"):
        assert not any(s.endswith(":pull_request") for _, s in _stack_settings(stack).ci_subjects)
    doc = (REPO / "docs" / "ci-cd.md").read_text(encoding="utf-8")
    assert ":pull_request" in doc and "by hand" in doc
