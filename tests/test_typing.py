"""The provider -> client boundary stays typed (issue 14): mypy over infra/clients and infra/providers.

Configuration in pyproject.toml ``[tool.mypy]``: every function annotated there
(``disallow_untyped_defs``), so a provider cannot go back to taking ``client: Any`` without an
annotation saying so, and a call that does not fit :class:`~infra.clients.dataverse.DataverseApi`
or a dataclass of ``infra.clients.dataverse.dto`` fails here.  mypy is pinned in the ``test``
extra; without it this test fails, it is not skipped.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_clients_and_providers_type_check() -> None:
    run = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Success: no issues found" in run.stdout
