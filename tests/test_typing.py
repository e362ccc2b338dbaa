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

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_clients_and_providers_type_check() -> None:
    # No cache at all: a cache in the checkout is shared by every run there (mypy keeps it in
    # SQLite, which a second run can find locked), and --no-incremental would not read it anyway.
    try:
        run = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir=/dev/null"],
                             cwd=ROOT, capture_output=True, text=True, timeout=1200)
    except subprocess.TimeoutExpired:
        pytest.fail("mypy did not finish within 1200 s (a time limit, not a type error)")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Success: no issues found" in run.stdout
