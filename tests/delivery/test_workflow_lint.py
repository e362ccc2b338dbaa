"""The GitHub workflows lint clean with a real actionlint, and the lint really runs.

The second and third tests plant mistakes and expect actionlint to report them: a lint step that
silently checked nothing would otherwise pass forever.
"""

from __future__ import annotations

from pathlib import Path

import pytest

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


@pytest.mark.parametrize("name", ["pulumi-preview.yml", "pulumi-deploy.yml"])
def test_pulumi_action_inputs_exist(name: str, tmp_path: Path) -> None:
    """Our pulumi/actions inputs are the action's real inputs, and a misspelt one is caught.

    The bundled actionlint (1.7.7) knows pulumi/actions up to v6; v7 changed only the Node.js
    runtime (its inputs are v6's), so the check runs on a copy that names v6.
    """
    text = (WORKFLOWS / name).read_text(encoding="utf-8")
    assert text.count("uses: pulumi/actions@v7") >= 1
    as_v6 = text.replace("uses: pulumi/actions@v7", "uses: pulumi/actions@v6")
    clean, broken = tmp_path / "clean" / name, tmp_path / "broken" / name
    for path, content in ((clean, as_v6), (broken, as_v6.replace("policyPackConfigs:", "policyPackConfig:"))):
        path.parent.mkdir()
        path.write_text(content, encoding="utf-8")
    findings = lint([clean, broken])  # one linter start for both copies
    assert [f for f in findings if f.file == str(clean)] == []
    assert any(f.file == str(broken) and f.kind == "action" and "policyPackConfig" in f.message for f in findings), findings
