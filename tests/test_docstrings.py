"""Every public class, function and method in infra/ has a docstring (issue 14).

Public: a name without a leading underscore, defined at module level or in a public class; dunder
methods are left out. Docstrings carry shapes, units, errors raised and the Microsoft or Pulumi
document a behaviour follows (the developers' guide); this test only makes sure none is missing.
"""

from __future__ import annotations

import ast
from pathlib import Path

INFRA = Path(__file__).resolve().parents[1] / "infra"


def undocumented(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    missing: list[str] = []

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node.name.startswith("_"):
                    continue
                if ast.get_docstring(node) is None:
                    missing.append(f"{path.relative_to(INFRA.parent)}:{node.lineno}: {prefix}{node.name}")
                if isinstance(node, ast.ClassDef):
                    visit(node.body, f"{prefix}{node.name}.")

    visit(tree.body, "")
    return missing


def test_every_public_definition_in_infra_has_a_docstring() -> None:
    missing = [m for path in sorted(INFRA.rglob("*.py")) for m in undocumented(path)]
    assert missing == [], f"{len(missing)} public definitions without a docstring:\n" + "\n".join(missing)
