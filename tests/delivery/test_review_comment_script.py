"""The review-aid comment script (actions/github-script in pulumi-preview.yml) creates one comment
and then edits it, leaving people's comments alone. Run with node against a fake GitHub client."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.delivery.conftest import WORKFLOWS, load_yaml

HARNESS = Path(__file__).with_name("github_script_harness.cjs")
MARKER = "<!-- bc-sales-role-diff -->"


def _run(tmp_path: Path, existing: list[dict[str, Any]]) -> list[list[Any]]:
    job = load_yaml(WORKFLOWS / "pulumi-preview.yml")["jobs"]["role-diff"]
    step = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/github-script@"))
    script = tmp_path / "script.js"
    script.write_text(step["with"]["script"], encoding="utf-8")
    review = tmp_path / step["env"]["REVIEW_FILE"]
    review.write_text("## Security roles and solution\n\n- Quote — Write: added at Organization (Global)\n", encoding="utf-8")
    env = {**os.environ, **{k: str(v) for k, v in step["env"].items()}}  # the step's env, as the runner sets it
    proc = subprocess.run(["node", str(HARNESS), str(script), json.dumps(existing)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_first_run_creates_the_comment(tmp_path: Path) -> None:
    calls = _run(tmp_path, [{"id": 1, "user": {"type": "User"}, "body": f"{MARKER} pasted by a person"}])
    assert [c[0] for c in calls] == ["paginate", "createComment"]
    created = calls[1][1]
    assert created["issue_number"] == 7 and created["owner"] == "contoso"
    assert created["body"].startswith(MARKER + "\n## Security roles and solution")


def test_later_runs_edit_the_bot_comment(tmp_path: Path) -> None:
    existing = [
        {"id": 1, "user": {"type": "User"}, "body": "looks good"},
        {"id": 2, "user": {"type": "Bot"}, "body": "pulumi preview output"},
        {"id": 3, "user": {"type": "Bot"}, "body": f"{MARKER}\nold diff"},
    ]
    calls = _run(tmp_path, existing)
    assert [c[0] for c in calls] == ["paginate", "updateComment"]
    assert calls[1][1]["comment_id"] == 3
    assert "Quote — Write" in calls[1][1]["body"]
