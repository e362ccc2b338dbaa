"""Pulumi.yaml and the stack files agree with the config model, by the CLI's own rules.

We have no Pulumi CLI here, so the CLI's checks on project config are re-stated from its source
(sdk/go/common/workspace: project.json schema, ``ValidateConfigValue``, required keys without a
default must be set in every stack) and applied to our files.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.program.config import config_keys

ROOT = Path(__file__).resolve().parents[2]
PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
STACKS = ("dev", "prod", "local")
SIMPLE_TYPES = {"string", "integer", "boolean", "array"}


def cli_type_ok(type_name: str, items: dict[str, Any] | None, value: Any) -> bool:
    """The CLI's ValidateConfigValue for a value as YAML gives it."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and re.fullmatch(r"-?\d+", value) is not None)
    if type_name == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if not isinstance(value, list) or items is None:
        return False
    return all(cli_type_ok(items["type"], items.get("items"), v) for v in value)


def test_runtime_and_main() -> None:
    assert PROJECT["name"] == "bc-sales"
    assert PROJECT["main"] == "infra/"
    # No virtualenv option: see Pulumi.yaml (a relative one breaks the dynamic provider launcher).
    assert PROJECT["runtime"] == {"name": "python", "options": {"toolchain": "pip"}}
    assert (ROOT / PROJECT["main"] / "__main__.py").is_file()


def test_every_key_is_declared_with_the_model_default() -> None:
    declared = PROJECT["config"]
    keys = config_keys()
    assert list(declared) == [k.name for k in keys]
    for key in keys:
        decl = declared[key.name]
        assert set(decl) <= {"type", "items", "description", "default"}, key.name
        assert decl["description"] == key.description and key.description, key.name
        assert decl.get("type") == key.pulumi_type, key.name
        if key.required:
            assert "default" not in decl, key.name
        else:
            assert decl["default"] == key.default, key.name


def test_declarations_follow_the_cli_schema() -> None:
    for name, decl in PROJECT["config"].items():
        if "type" in decl:
            assert decl["type"] in SIMPLE_TYPES, name
            if decl["type"] == "array":
                assert decl["items"] == {"type": "string"}, f"{name}: arrays need items"
            if "default" in decl:
                assert cli_type_ok(decl["type"], decl.get("items"), decl["default"]), name


@pytest.mark.parametrize("stack", STACKS)
def test_stack_file_satisfies_the_cli(stack: str) -> None:
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    declared = PROJECT["config"]
    for full, value in config.items():
        ns, _, key = full.partition(":")
        assert ns == "bc-sales", f"{stack}: {full} is not in the project namespace"
        assert key in declared, f"{stack}: {full} is not declared in Pulumi.yaml"
        decl = declared[key]
        if "type" in decl:
            assert cli_type_ok(decl["type"], decl.get("items"), value), f"{stack}: {full}={value!r}"
    missing = [k for k, d in declared.items() if "default" not in d and f"bc-sales:{k}" not in config]
    assert missing == [], f"{stack} is missing required keys {missing}"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_real_tenant_examples_mark_placeholders(stack: str) -> None:
    text = (ROOT / f"Pulumi.{stack}.yaml").read_text()
    assert "PLACEHOLDER" in text and "contoso" in text
    assert "secret" not in yaml.safe_load(text)["config"].get("bc-sales:integrationUser", {})


def test_readme_documents_every_key() -> None:
    readme = (ROOT / "README.md").read_text()
    for key in config_keys():
        assert f"| `{key.name}` |" in readme, f"README.md config reference lacks {key.name}"
