"""Structure of the Azure DevOps pipeline (azure-pipelines.yml and its step templates).

There is no offline linter for Azure Pipelines YAML, so the test parses the files, resolves the
`template:` references (files exist, parameters declared, allowed values respected) and asserts the
delivery design: preview on pull requests, dev on main, prod after dev behind an environment
approval, one deployment per stack at a time, workload identity federation and no secrets.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.delivery.conftest import AZURE_PIPELINE, REPO, load_yaml

STAGES = ["Test", "Preview", "DeployDev", "DeployProd"]


def _stage(pipeline: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in pipeline["stages"] if s["stage"] == name)


def _job_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    if "deployment" in job:
        return job["strategy"]["runOnce"]["deploy"]["steps"]
    return job["steps"]


def _all_jobs(pipeline: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for stage in pipeline["stages"]:
        for job in stage["jobs"]:
            yield stage["stage"], job


def _templates(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in steps if "template" in s]


def _template(path: str) -> dict[str, Any]:
    return load_yaml(REPO / path)


def _flat_steps(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Steps of a template with `${{ if }}` blocks flattened (all branches)."""
    out: list[dict[str, Any]] = []
    for step in template["steps"]:
        conditional = [k for k in step if isinstance(k, str) and k.startswith("${{")]
        if conditional:
            for key in conditional:
                out.extend(step[key])
        else:
            out.append(step)
    return out


def test_triggers_main_and_pull_requests(azure_pipeline: dict[str, Any]) -> None:
    assert azure_pipeline["trigger"]["branches"]["include"] == ["main"]
    assert azure_pipeline["pr"]["branches"]["include"] == ["main"]


def test_stages_and_their_order(azure_pipeline: dict[str, Any]) -> None:
    assert [s["stage"] for s in azure_pipeline["stages"]] == STAGES
    assert _stage(azure_pipeline, "Preview")["dependsOn"] == "Test"
    assert _stage(azure_pipeline, "DeployDev")["dependsOn"] == "Test"
    assert _stage(azure_pipeline, "DeployProd")["dependsOn"] == "DeployDev", "prod is promoted after dev"


def test_stage_conditions(azure_pipeline: dict[str, Any]) -> None:
    preview = _stage(azure_pipeline, "Preview")["condition"].replace(" ", "")
    assert "eq(variables['Build.Reason'],'PullRequest')" in preview and preview.startswith("and(succeeded(),")
    for name in ("DeployDev", "DeployProd"):
        condition = _stage(azure_pipeline, name)["condition"].replace(" ", "")
        assert condition.startswith("and(succeeded(),"), name
        assert "ne(variables['Build.Reason'],'PullRequest')" in condition, name
        assert "eq(variables['Build.SourceBranch'],'refs/heads/main')" in condition, name


def test_deployments_target_approval_environments_one_at_a_time(azure_pipeline: dict[str, Any]) -> None:
    for stage_name, environment, stack in (("DeployDev", "bc-sales-dev", "dev"), ("DeployProd", "bc-sales-prod", "prod")):
        stage = _stage(azure_pipeline, stage_name)
        assert stage["lockBehavior"] == "sequential"
        [job] = stage["jobs"]
        assert job["environment"] == environment, "approvals and the exclusive lock are configured on the environment"
        steps = _job_steps(job)
        assert steps[0] == {"checkout": "self", "fetchDepth": 1}, "deployment jobs must check out the run's commit"
        [pulumi] = [t for t in _templates(steps) if t["template"].endswith("pulumi-steps.yml")]
        assert pulumi["parameters"]["command"] == "up"
        assert pulumi["parameters"]["stack"] == stack
        assert pulumi["parameters"]["serviceConnection"] == "${{ variables.%sServiceConnection }}" % stack


def test_pull_requests_preview_both_stacks_and_publish_the_review_aid(azure_pipeline: dict[str, Any]) -> None:
    jobs = {j["job"]: j for j in _stage(azure_pipeline, "Preview")["jobs"]}
    previews = {}
    for name in ("PreviewDev", "PreviewProd"):
        [pulumi] = [t for t in _templates(jobs[name]["steps"]) if t["template"].endswith("pulumi-steps.yml")]
        assert "environment" not in jobs[name], "PR previews must not wait for prod approvals"
        previews[pulumi["parameters"]["stack"]] = pulumi["parameters"]
    assert set(previews) == {"dev", "prod"}
    assert all(p["command"] == "preview" for p in previews.values())
    assert previews["prod"]["serviceConnection"] == "${{ variables.prodServiceConnection }}"
    review = jobs["RoleDiff"]
    assert review["steps"][0] == {"checkout": "self", "fetchDepth": 0}
    script = next(s["bash"] for s in review["steps"] if "bash" in s)
    assert 'bc-sales review --base "origin/${base}"' in script and "|| status=$?" in script
    assert "##vso[task.uploadsummary]" in script
    # the summary is published first, then the job fails with the review's exit status
    assert script.index("task.uploadsummary") < script.index('exit "$status"')
    validate = jobs["Validate"]
    assert any(s.get("bash") == "bc-sales validate --all-stacks" for s in validate["steps"])
    for name in ("PreviewDev", "PreviewProd"):
        assert jobs[name]["dependsOn"] == "Validate", f"{name} must wait for bc-sales validate"


def test_every_run_tests_first(azure_pipeline: dict[str, Any]) -> None:
    [job] = _stage(azure_pipeline, "Test")["jobs"]
    assert "condition" not in _stage(azure_pipeline, "Test")
    assert any(s.get("bash") == "bash scripts/test.sh" for s in job["steps"])
    # tests/engine/test_upgrade builds the stack from an older commit: a shallow checkout lacks it
    assert job["steps"][0] == {"checkout": "self", "fetchDepth": 0}
    [setup] = _templates(job["steps"])
    assert setup["parameters"] == {"purpose": "test"}
    test_steps = " ".join(str(s.get("bash", "")) for s in _flat_steps(_template(setup["template"])))
    assert "npm ci" in test_steps


def test_template_references_resolve(azure_pipeline: dict[str, Any]) -> None:
    used = 0
    for _, job in _all_jobs(azure_pipeline):
        for ref in _templates(_job_steps(job)):
            path = REPO / ref["template"]
            assert path.is_file(), ref["template"]
            declared = {p["name"]: p for p in _template(ref["template"])["parameters"]}
            given = ref.get("parameters", {})
            assert set(given) <= set(declared), f"{ref['template']}: undeclared {set(given) - set(declared)}"
            for name, spec in declared.items():
                if "default" not in spec:
                    assert name in given, f"{ref['template']}: required parameter {name} missing"
                if "values" in spec and name in given:
                    assert given[name] in spec["values"], f"{ref['template']}: {name}={given[name]!r}"
            used += 1
    assert used >= 9


def test_service_connections_are_compile_time_variables(azure_pipeline: dict[str, Any]) -> None:
    variables = {v["name"]: v["value"] for v in azure_pipeline["variables"] if "name" in v}
    assert variables["devServiceConnection"] != variables["prodServiceConnection"]
    groups = [v["group"] for v in azure_pipeline["variables"] if "group" in v]
    assert groups == ["bc-sales-pulumi"], "PULUMI_ACCESS_TOKEN lives in a variable group, not in YAML"


def test_pulumi_step_signs_in_by_workload_identity_federation() -> None:
    template = _template(".azure-pipelines/templates/pulumi-steps.yml")
    [task] = template["steps"]
    assert task["task"] == "AzureCLI@2"
    inputs = task["inputs"]
    assert inputs["azureSubscription"] == "${{ parameters.serviceConnection }}"
    assert inputs["addSpnToEnvironment"] is True
    script = inputs["inlineScript"]
    for assignment in (
        'ARM_OIDC_TOKEN="$idToken"', 'ARM_CLIENT_ID="$servicePrincipalId"', 'ARM_TENANT_ID="$tenantId"',
        "ARM_USE_OIDC=true", 'AZURE_CLIENT_ID="$servicePrincipalId"', 'AZURE_FEDERATED_TOKEN_FILE="$token_file"',
    ):
        assert assignment in script
    assert "umask 077" in script and "trap 'rm -f \"$token_file\"' EXIT" in script
    assert "--policy-pack policy" in script and "--policy-pack-config policy/config.json" in script
    assert "--diff" in script and "--non-interactive" in script
    assert task["env"]["PULUMI_ACCESS_TOKEN"] == "$(PULUMI_ACCESS_TOKEN)"


def _pipeline_files() -> list[Path]:
    return [AZURE_PIPELINE, *sorted((REPO / ".azure-pipelines").rglob("*.yml"))]


@pytest.mark.parametrize("path", _pipeline_files(), ids=lambda p: p.name)
def test_no_secrets_and_no_token_echo(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for forbidden in ("servicePrincipalKey", "CLIENT_SECRET", "client_secret", "set -x", "System.Debug"):
        assert forbidden not in text, f"{path.name}: {forbidden}"
    for line in text.splitlines():
        if re.search(r"\b(echo|printf)\b", line) and re.search(r"idToken|ACCESS_TOKEN|OIDC_TOKEN", line):
            assert "> \"$token_file\"" in line, f"{path.name}: a token may be printed: {line.strip()}"
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text), "no ids in YAML"
