"""A scratch project per test: Pulumi.yaml, the shipped role files, the stand-in package, and stack files
the test writes."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


class Project:
    def __init__(self, root: Path) -> None:
        self.root = root

    def stack(self, name: str, body: str) -> Path:
        path = self.root / f"Pulumi.{name}.yaml"
        path.write_text(textwrap.dedent(body).lstrip("\n"))
        return path

    def role(self, name: str, body: str) -> Path:
        path = self.root / "roles" / name
        path.write_text(textwrap.dedent(body).lstrip("\n"))
        return path

    def edit_role(self, name: str, old: str, new: str) -> None:
        path = self.root / "roles" / name
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, 1))


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(REPO / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copy(REPO / "Pulumi.local.yaml", root / "Pulumi.local.yaml")
    shutil.copytree(REPO / "roles", root / "roles")
    # Pulumi.local.yaml names solution/standin; paths in a stack file are read from its project.
    shutil.copytree(REPO / "solution" / "standin", root / "solution" / "standin")
    return Project(root)


#: A real-looking stack (no example values) whose Business Central imports the solution.
REAL_STACK = """
config:
  bc-sales:tenantId: 3f2a9c4e-1b7d-4e8a-9c21-7d5e8f0a1b2c
  bc-sales:environmentUrl: https://fabrikam-sales.crm4.dynamics.com
  bc-sales:integrationUser:
    userPrincipalName: bc-integration@fabrikam.onmicrosoft.com
    usageLocation: DE
  bc-sales:salespeople:
    - userPrincipalName: anna.berg@fabrikam.onmicrosoft.com
      roles: [Salesperson]
      salespersonCode: ab
  bc-sales:seatCheck: "off"
  bc-sales:solutionSource: business-central
"""
