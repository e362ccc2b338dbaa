"""Fixtures for the delivery tests: repository paths, parsed pipeline files, the policy pack.

The policy pack (policy/) is not a Python package: the Pulumi CLI runs it as a program with its
own directory on sys.path. The tests do the same so that ``import guardrails`` / ``import policies``
resolve exactly as they do under the CLI.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
POLICY_DIR = REPO / "policy"
AZURE_PIPELINE = REPO / "azure-pipelines.yml"

if str(POLICY_DIR) not in sys.path:
    sys.path.insert(0, str(POLICY_DIR))


def load_yaml(path: Path) -> Any:
    """Parse YAML with PyYAML's safe loader (`on:` becomes the key True in YAML 1.1; see `on_key`)."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def triggers(workflow: dict[Any, Any]) -> Any:
    """The `on:` section of a workflow, whichever way the YAML loader keyed it."""
    return workflow.get("on", workflow.get(True))


@pytest.fixture(scope="session")
def workflow_files() -> list[Path]:
    files = sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))
    assert files, f"no workflow files under {WORKFLOWS}"
    return files


@pytest.fixture(scope="session")
def preview_workflow() -> dict[Any, Any]:
    return load_yaml(WORKFLOWS / "pulumi-preview.yml")


@pytest.fixture(scope="session")
def deploy_workflow() -> dict[Any, Any]:
    return load_yaml(WORKFLOWS / "pulumi-deploy.yml")


@pytest.fixture(scope="session")
def azure_pipeline() -> dict[str, Any]:
    return load_yaml(AZURE_PIPELINE)
