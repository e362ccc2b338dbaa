#!/usr/bin/env bash
# Prints the absolute path of a usable `pulumi` (the Pulumi CLI) at or above the project's pin,
# acquiring one if needed. Scripts and tests all get the CLI through this one entry point.
#
#   scripts/pulumi-cli.sh            print the path (progress goes to stderr)
#   scripts/pulumi-cli.sh --version  print the pinned version and exit
#   scripts/pulumi-cli.sh --check    exit 0 if a CLI can be had without building or downloading
#
# The pin is the version of github.com/pulumi/pulumi/pkg/v3 in tools/pulumi-cli/go.mod (the one
# place it is kept). The CLI is found or made in this order:
#   1. `pulumi` on PATH whose `pulumi version` is at or above the pin (with its own language hosts);
#   2. a finished build in .tools/pulumi/<pin>/bin (git-ignored);
#   3. `go` present: build the CLI from Pulumi's Go modules (tools/pulumi-cli, go.mod/go.sum at the
#      pin) and the Python language host (tools/pulumi-language-python), and put beside them the two
#      scripts the engine looks for, pulumi-language-python-exec and pulumi-resource-pulumi-python,
#      from the sdk module at the pin; CGO_ENABLED=0, -trimpath, the version ldflag;
#   4. online: Pulumi's official installer at the pinned version into .tools/pulumi/<pin>;
#   5. otherwise one error saying which of these to do (exit 3).
# Builds are atomic (a temporary folder renamed at the end) and serialised by a lock, so parallel
# test workers and a second shell never see half a build. Go's module and build caches stay in
# their default places (go env GOMODCACHE / GOCACHE), where the next build on the machine finds them.
#
# Environment: BC_SALES_PULUMI_NO_PATH=1 skips step 1, BC_SALES_PULUMI_NO_INSTALLER=1 skips step 4,
# BC_SALES_TOOLS_DIR (default <repo>/.tools).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { printf 'pulumi-cli: %s\n' "$*" >&2; }

PIN="$(awk '{ for (i = 1; i < NF; i++) if ($i == "github.com/pulumi/pulumi/pkg/v3") { print $(i + 1); exit } }' \
  "$ROOT/tools/pulumi-cli/go.mod")"
[ -n "$PIN" ] || { say "no pin found in tools/pulumi-cli/go.mod"; exit 3; }
PIN_NUM="${PIN#v}"
TOOLS="${BC_SALES_TOOLS_DIR:-$ROOT/.tools}"
DEST="$TOOLS/pulumi/$PIN"
BIN="$DEST/bin"

case "${1:-}" in
  --version) echo "$PIN"; exit 0 ;;
  --check|"") ;;
  *) say "unknown option '$1' (use --version or --check)"; exit 2 ;;
esac

at_least_pin() {  # $1 = a version like v3.280.0 or 3.280.0
  local have="${1#v}"
  have="${have%%[-+]*}"
  [ "$(printf '%s\n%s\n' "$PIN_NUM" "$have" | sort -V | head -n 1)" = "$PIN_NUM" ]
}

# 1. a CLI on PATH
if [ "${BC_SALES_PULUMI_NO_PATH:-0}" != 1 ] && command -v pulumi >/dev/null 2>&1; then
  found="$(command -v pulumi)"
  case "$found" in "$BIN"/*) ;; *)
    version="$(PULUMI_SKIP_UPDATE_CHECK=true "$found" version 2>/dev/null || true)"
    if [ -n "$version" ] && at_least_pin "$version"; then
      echo "$found"; exit 0
    fi
    say "ignoring $found (version '${version:-unknown}' is below the pin $PIN)" ;;
  esac
fi

# 2. a finished build or install
complete() { [ -f "$DEST/.complete" ] && [ -x "$BIN/pulumi" ]; }
if complete; then echo "$BIN/pulumi"; exit 0; fi
if [ "${1:-}" = --check ]; then exit 1; fi

mkdir -p "$TOOLS/pulumi"
exec 9>"$TOOLS/pulumi/.lock"
flock 9
if complete; then echo "$BIN/pulumi"; exit 0; fi   # another process finished it while we waited

STAGE="$(mktemp -d "$TOOLS/pulumi/.stage-$PIN.XXXXXX")"
chmod 755 "$STAGE"
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/bin"

finish() {
  touch "$STAGE/.complete"
  rm -rf "$DEST"
  mv "$STAGE" "$DEST"
  trap - EXIT
  echo "$BIN/pulumi"
  exit 0
}

# 3. build from Pulumi's Go modules
if command -v go >/dev/null 2>&1; then
  export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=readonly
  start=$(date +%s)
  say "building pulumi $PIN from Go modules (cold: several minutes; cached: seconds)"
  (cd "$ROOT/tools/pulumi-cli" && go build -trimpath -tags osusergo,grpcnotrace \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PIN" \
      -o "$STAGE/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) >&2
  say "building the Python language host"
  (cd "$ROOT/tools/pulumi-language-python" && go build -trimpath \
      -o "$STAGE/bin/pulumi-language-python" github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python) >&2
  # The two scripts the engine runs beside the binaries, as shipped in the sdk module at the pin.
  sdk="$(cd "$ROOT/tools/pulumi-cli" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)"
  install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$STAGE/bin/"
  install -m 0755 "$sdk/python/dist/pulumi-resource-pulumi-python" "$STAGE/bin/"
  got="$("$STAGE/bin/pulumi" version)"
  [ "$got" = "$PIN" ] || { say "built pulumi reports '$got', expected $PIN"; exit 3; }
  say "built pulumi $PIN in $(( $(date +%s) - start )) s"
  finish
fi

# 4. the official installer, at the pin
if [ "${BC_SALES_PULUMI_NO_INSTALLER:-0}" != 1 ] && command -v curl >/dev/null 2>&1 && curl -fsS --max-time 10 -o "$STAGE/install.sh" https://get.pulumi.com/ 2>/dev/null; then
  say "installing pulumi $PIN with the official installer"
  sh "$STAGE/install.sh" --version "$PIN_NUM" --install-root "$STAGE" --no-edit-path >&2
  rm -f "$STAGE/install.sh"
  got="$("$STAGE/bin/pulumi" version)"
  [ "$got" = "$PIN" ] || { say "installed pulumi reports '$got', expected $PIN"; exit 3; }
  finish
fi

# 5. nothing worked
cat >&2 <<EOF
pulumi-cli: ERROR: no Pulumi CLI $PIN or newer could be found or made. Do one of:
  - install the Pulumi CLI $PIN_NUM or newer and put it on PATH
    (https://www.pulumi.com/docs/install/ ; e.g. curl -fsSL https://get.pulumi.com | sh);
  - install Go 1.26+ with access to a Go module proxy, then run scripts/pulumi-cli.sh again
    (it builds the CLI into .tools/pulumi/$PIN);
  - or run this where https://get.pulumi.com is reachable.
EOF
exit 3
