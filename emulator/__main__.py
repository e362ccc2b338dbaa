"""Command line: ``python -m emulator --port 0 --state DIR [...]``.

Prints ONE JSON line (authority_host, tenant_id, authority, graph_url, environment_url,
ca_bundle, pid) once it is serving, then serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable

from .context import ServiceProtection
from .seed import SeedError
from .server import Emulator


def _non_negative(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
        return value
    return parse


def parse_args(argv: list[str] | None = None, prog: str = "python -m emulator") -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=prog,
                                description="Local Entra + Microsoft Graph + Dataverse emulator over HTTPS, one loopback origin each.")
    p.add_argument("--port", type=_non_negative(int), default=0,
                   help="TCP port of the origins (0 = pick a free one): Entra on 127.0.0.1, Graph on 127.0.0.2, "
                        "Dataverse on 127.0.0.3; with --layout ports: 127.0.0.1 on port, port+1, port+2")
    p.add_argument("--layout", choices=("auto", "hosts", "ports"), default="auto",
                   help="hosts = three loopback addresses, ports = three ports of 127.0.0.1, "
                        "auto = hosts where the machine has 127.0.0.2 and 127.0.0.3 (Linux), else ports")
    p.add_argument("--state", type=Path, default=None,
                   help="state directory: TLS CA/cert, signing keys and (with --snapshot) state.json")
    p.add_argument("--seed", type=Path, default=None, help="seed YAML (default: the default seed, emulator/seed/default-seed.yaml)")
    p.add_argument("--latency-ms", type=_non_negative(float), default=0.0, help="added latency per request")
    p.add_argument("--import-seconds", type=_non_negative(float), default=0.2, help="duration of a solution import")
    p.add_argument("--provisioning-delay", type=_non_negative(float), default=0.0,
                   help="seconds before a newly licensed user appears as a Dataverse systemuser")
    p.add_argument("--token-lifetime", type=_non_negative(int), default=3600, help="access token lifetime in seconds")
    p.add_argument("--snapshot", action="store_true", help="persist state to STATE/state.json and restore it on start")
    p.add_argument("--service-protection", action="store_true",
                   help="enforce Dataverse service-protection limits (52 concurrent, 6000 requests / 300 s)")
    p.add_argument("--fault-seed", type=int, default=0, help="seed of the fault-injection RNG")
    args = p.parse_args(argv)
    if args.snapshot and args.state is None:
        p.error("--snapshot needs --state DIR")
    return args


def main(argv: list[str] | None = None, prog: str = "python -m emulator") -> int:
    args = parse_args(argv, prog)
    try:
        emu = Emulator.start(args.seed, port=args.port, layout=args.layout, state_dir=args.state, latency_ms=args.latency_ms,
                             import_seconds=args.import_seconds, provisioning_delay_s=args.provisioning_delay,
                             token_lifetime_s=args.token_lifetime, snapshot=args.snapshot,
                             service_protection=ServiceProtection() if args.service_protection else False,
                             fault_seed=args.fault_seed)
    except (SeedError, OSError, ValueError, RuntimeError) as exc:
        print(f"emulator: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(json.dumps({**emu.urls.to_dict(), "pid": os.getpid()}), flush=True)
    try:
        while not stop.wait(0.5):
            if not emu.running:  # server died: report and exit non-zero
                print("emulator: server thread stopped unexpectedly", file=sys.stderr)
                return 1
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
