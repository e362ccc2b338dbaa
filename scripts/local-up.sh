#!/usr/bin/env bash
# One command for a fresh machine: install the project, get the Pulumi CLI, start the local cloud
# emulator and run `pulumi up` on the `local` stack against it (file backend, default passphrase),
# then print the stack outputs.
#
#   scripts/local-up.sh              install + CLI + emulator + pulumi up
#   scripts/local-up.sh --dry-run    everything up to the first pulumi command, then stop (no CLI
#                                    needed); it runs bc-sales validate --stack local in full
#                                    (non-zero on problems)
#   scripts/local-up.sh --keep       leave the emulator running afterwards (prints how to stop it)
#   scripts/local-up.sh --no-install skip creating .venv / pip install (it must exist already)
#   scripts/local-up.sh --destroy    pulumi destroy the local stack instead of up
#
# The CLI comes from scripts/pulumi-cli.sh (a `pulumi` on PATH at or above the project's pin, else
# a build from Pulumi's Go modules into .tools/, else the official installer).
# Environment: PYTHON (interpreter for the venv, default python3), PULUMI_CONFIG_PASSPHRASE
# (default: the fixed local-only value Pulumi.local.yaml's encryptionsalt was made with),
# BC_SALES_EMULATOR_PORT (default: the port of the last run, else a free one -- a stable port keeps
# the stack's connection input unchanged between runs), BC_SALES_EMULATOR_STATE (emulator state
# folder, default .emulator/), BC_SALES_PULUMI_BACKEND (default file://<repo>/.pulumi-local).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DRY_RUN=0 KEEP=0 INSTALL=1 ACTION=up
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    --keep) KEEP=1 ;;
    --no-install) INSTALL=0 ;;
    --destroy) ACTION=destroy ;;
    -h|--help) awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;;
    *) echo "local-up: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf 'local-up: %s\n' "$*" >&2; }
die() { printf 'local-up: ERROR: %s\n' "$*" >&2; exit "${2:-1}"; }

# --- 1. Python and the project ----------------------------------------------------------------
PYTHON="${PYTHON:-python3}"
if [ "$INSTALL" = 1 ]; then
  command -v "$PYTHON" >/dev/null 2>&1 || die "no '$PYTHON' on PATH: install Python 3.11 or newer"
  "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
    || die "$("$PYTHON" --version 2>&1) is too old: Python 3.11 or newer is required"
  if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    "$PYTHON" -m venv .venv
  fi
  say "installing the project into .venv (pip install -e '.[test]')"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
fi
[ -x .venv/bin/python ] || die ".venv is missing: run without --no-install"
VPY="$ROOT/.venv/bin/python"

# --- 2. the Pulumi CLI ------------------------------------------------------------------------
if [ "$DRY_RUN" = 0 ]; then
  say "finding the Pulumi CLI (scripts/pulumi-cli.sh)"
  PULUMI="$(bash "$ROOT/scripts/pulumi-cli.sh")" || die "no Pulumi CLI (see the message above)" 127
  say "using $PULUMI ($("$PULUMI" version))"
  # The engine finds the language host and pulumi-resource-pulumi-python beside `pulumi` or on PATH.
  # Pulumi.yaml names no virtualenv (see the comment there), so the program and the dynamic
  # provider host run with the `python3` on PATH: the project's .venv comes first.
  export PATH="$(dirname "$PULUMI"):$ROOT/.venv/bin:$PATH"
fi

# --- 3. the emulator --------------------------------------------------------------------------
STATE="${BC_SALES_EMULATOR_STATE:-$ROOT/.emulator}"
mkdir -p "$STATE"
PORT="${BC_SALES_EMULATOR_PORT:-$(cat "$STATE/port" 2>/dev/null || echo 0)}"
EMU_PID=""
cleanup() {
  if [ -n "$EMU_PID" ] && [ "$KEEP" = 0 ]; then
    kill "$EMU_PID" 2>/dev/null || true
    wait "$EMU_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

start_emulator() {  # $1 = port; sets EMU_PID and EMU_JSON, returns 1 if it did not come up
  : > "$STATE/emulator.json"
  "$VPY" -m emulator --port "$1" --state "$STATE" --snapshot >"$STATE/emulator.json" 2>"$STATE/emulator.log" &
  EMU_PID=$!
  for _ in $(seq 1 600); do  # up to 120 s: a first start on a busy machine imports, makes keys
    if [ -s "$STATE/emulator.json" ]; then EMU_JSON="$(head -n 1 "$STATE/emulator.json")"; return 0; fi
    kill -0 "$EMU_PID" 2>/dev/null || { EMU_PID=""; return 1; }
    sleep 0.2
  done
  kill "$EMU_PID" 2>/dev/null || true
  EMU_PID=""
  return 1
}

say "starting the emulator (state in .emulator/)"
if ! start_emulator "$PORT"; then
  if [ "$PORT" != 0 ] && [ -z "${BC_SALES_EMULATOR_PORT:-}" ]; then
    say "port $PORT is not available; using a free one"
    start_emulator 0 || die "the emulator did not start: $(tail -n 5 "$STATE/emulator.log")"
  else
    die "the emulator did not start: $(tail -n 5 "$STATE/emulator.log")"
  fi
fi

field() { "$VPY" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$EMU_JSON" "$1"; }
ENV_URL="$(field environment_url)"
# The emulator serves Entra, Graph and Dataverse on three origins built from one port (127.0.0.1/.2/.3:<port>,
# or <port>, <port>+1, <port>+2 on 127.0.0.1 where only 127.0.0.1 exists); --port takes the Entra origin's.
"$VPY" -c 'import sys,urllib.parse as u; print(u.urlsplit(sys.argv[1]).port)' "$(field authority_host)" > "$STATE/port"

export BC_SALES_ENVIRONMENT_URL="$ENV_URL"
export BC_SALES_AUTHORITY_HOST="$(field authority_host)"
export BC_SALES_GRAPH_URL="$(field graph_url)"
export BC_SALES_CA_BUNDLE="$(field ca_bundle)"
# The Power Platform admin API (administration mode), on an origin of its own.
export BC_SALES_POWER_PLATFORM_URL="$(field power_platform_url)"
# The deploying identity: the emulator seed's deployer app (System Administrator + Customizer),
# named in emulator/seed/ids.py.
export AZURE_TENANT_ID="$(field tenant_id)"
read -r AZURE_CLIENT_ID AZURE_CLIENT_SECRET < <("$VPY" -c \
  'from emulator.seed import ids; print(ids.DEPLOYER_CLIENT_ID, ids.DEPLOYER_SECRET)') || true
[ -n "${AZURE_CLIENT_SECRET:-}" ] || die "cannot read the deployer app from emulator/seed/ids.py"
export AZURE_CLIENT_ID AZURE_CLIENT_SECRET
# A local-only passphrase for the file backend's secrets (the emulator holds nothing real).
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-local-emulator-passphrase}"
# Offline-safe: no update check, no plugin downloads (the venv holds pulumi-azuread and
# pulumi-random, whose plugins the local stack never needs), no pip self-check in the language host.
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true PIP_DISABLE_PIP_VERSION_CHECK=1
BACKEND="${BC_SALES_PULUMI_BACKEND:-file://$ROOT/.pulumi-local}"
# The backend through the environment, not `pulumi login`: a user's own login stays untouched.
export PULUMI_BACKEND_URL="$BACKEND"

say "emulator up: $BC_SALES_ENVIRONMENT_URL (pid $EMU_PID, CA $BC_SALES_CA_BUNDLE)"

if [ "$DRY_RUN" = 1 ]; then
  say "dry run: bc-sales validate --stack local (config, role files, solution package, cross-checks)"
  "$ROOT/.venv/bin/bc-sales" validate --stack local --project-dir "$ROOT" \
    || die "the local stack has problems (listed above); nothing was deployed"
  "$VPY" - "$ROOT" <<'EOF'
import json, sys
from pathlib import Path
from infra.program.config import PROJECT, load_settings
from infra.validate.stack_file import StackFile
sf = StackFile.load(Path(sys.argv[1]), "local")
s = load_settings(lambda k: sf.value(PROJECT, k), all_keys=sf.keys, stack="local")
print(json.dumps({"stack": "local", "environmentUrl": s.environment_url, "authorityHost": s.authority_host,
                  "identityMode": s.identity_mode, "solutionSource": s.solution_source,
                  "solutionPath": s.solution_path, "salespeople": len(s.salespeople)}))
EOF
  cat >&2 <<EOF
local-up: dry run: would now run
  PULUMI_BACKEND_URL=$BACKEND
  pulumi stack select --create local
  pulumi $ACTION --yes --stack local
  pulumi stack output --stack local --json
EOF
  if [ "$KEEP" = 1 ]; then say "emulator still running (pid $EMU_PID); stop it with: kill $EMU_PID"; fi
  exit 0
fi

# --- 4. pulumi ----------------------------------------------------------------------------------
case "$BACKEND" in file://*) mkdir -p "${BACKEND#file://}" ;; esac
pulumi stack select --create local
pulumi "$ACTION" --yes --stack local
if [ "$ACTION" = up ]; then
  say "stack outputs (secrets hidden; add --show-secrets to see them):"
  pulumi stack output --stack local --json
fi
if [ "$KEEP" = 1 ] && [ -n "$EMU_PID" ]; then
  say "emulator still running (pid $EMU_PID); stop it with: kill $EMU_PID"
fi
