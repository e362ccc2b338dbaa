"""Test packages: a look-alike of Microsoft's managed vendor zip, built from the stand-in source.

Why: the real ``MicrosoftDynamicsNavIntegration`` zip is Microsoft's and is not in the repository,
but the dev/prod stacks name it.  The mock-runtime tests point ``solutionPath`` at this file (same
unique name, managed, a version of its own) so the program reads a real manifest.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from infra import facts

ROOT = Path(__file__).resolve().parents[2]
STANDIN = ROOT / "solution" / "standin"


def vendor_like_zip(dest: Path, *, version: str = "9.0.0.1", managed: bool = True) -> Path:
    """Write a managed package named like the vendor's solution into ``dest`` and return it."""
    solution = (STANDIN / "solution.xml").read_text(encoding="utf-8")
    solution = solution.replace(
        f"<UniqueName>{facts.STANDIN_SOLUTION_UNIQUE_NAME}</UniqueName>",
        f"<UniqueName>{facts.SALES_INTEGRATION_SOLUTION}</UniqueName>",
    ).replace("<Version>1.0.0.0</Version>", f"<Version>{version}</Version>")
    solution = solution.replace("<Managed>1</Managed>", f"<Managed>{1 if managed else 0}</Managed>")
    assert facts.SALES_INTEGRATION_SOLUTION in solution
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("solution.xml", solution)
        zf.writestr("customizations.xml", (STANDIN / "customizations.xml").read_text(encoding="utf-8"))
        zf.writestr("[Content_Types].xml", (STANDIN / "[Content_Types].xml").read_text(encoding="utf-8"))
    return dest
