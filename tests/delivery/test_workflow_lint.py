"""The GitHub workflows lint clean with a real actionlint, and the lint really runs.

The second and third tests plant mistakes and expect actionlint to report them: a lint step that
silently checked nothing would otherwise pass forever.
"""

from __future__ import annotations

from pathlib import Path

from tests.delivery.actionlint import lint
from tests.delivery.conftest import WORKFLOWS


def test_every_workflow_lints_clean(workflow_files: list[Path]) -> None:
    findings = lint(workflow_files)
    assert findings == [], "actionlint findings:\n" + "\n".join(map(str, findings))


def test_actionlint_reports_planted_mistakes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on:\n"
        "  pull_request:\n"
        "jobs:\n"
        "  preview:\n"
        "    runs-on: ubuntu-24.04\n"
        "    permissions:\n"
        "      id-token: writ\n"
        "    steps:\n"
        "      - run: echo \"${{ github.event.pull_request.title }}\"\n"
        "      - run: echo ${{ matrix.stack }}\n",
        encoding="utf-8",
    )
    findings = lint([bad])
    kinds = sorted({f.kind for f in findings})
    lines = sorted({f.line for f in findings})
    assert "permissions" in kinds, findings  # "writ" is not a permission level
    assert "expression" in kinds, findings  # untrusted input in a script, undefined matrix key
    assert {7, 9, 10} <= set(lines), findings


def test_actionlint_checks_pulumi_action_inputs_of_our_preview_workflow(tmp_path: Path) -> None:
    """pulumi/actions@v6 is in actionlint's action catalogue, so a misspelt input is caught."""
    text = (WORKFLOWS / "pulumi-preview.yml").read_text(encoding="utf-8")
    assert "policyPackConfigs:" in text
    broken = tmp_path / "pulumi-preview.yml"
    broken.write_text(text.replace("policyPackConfigs:", "policyPackConfig:"), encoding="utf-8")
    findings = lint([broken])
    assert any(f.kind == "action" and "policyPackConfig" in f.message for f in findings), findings
