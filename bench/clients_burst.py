"""Benchmark: a 100-call burst through the Dataverse client against the local emulator.

Runs the same burst without faults, with randomly injected 429s (Retry-After) and against the
emulator's service-protection limit, each with the shared backoff gate on and off, and prints
requests sent, 429s seen, retries, the waits applied and wall time.

    PYTHONPATH=. .venv/bin/python bench/clients_burst.py [--calls 100] [--workers 32]
        [--probability 0.2] [--retry-after 1] [--concurrency 8] [--latency-ms 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from emulator.seed import ids

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.clients import dataverse, http  # noqa: E402
from infra.clients.endpoints import EnvironmentEndpoints  # noqa: E402
from infra.clients.credentials import clear_token_cache  # noqa: E402
from infra.clients.dataverse import DataverseClient  # noqa: E402
from infra.clients.http import RetryPolicy  # noqa: E402
from infra.clients.shared import forget_clients
from emulator import Emulator, FaultRule  # noqa: E402
from emulator.context import ServiceProtection  # noqa: E402

ENV = {"AZURE_CLIENT_ID": ids.DEPLOYER_CLIENT_ID,
       "AZURE_CLIENT_SECRET": ids.DEPLOYER_SECRET, "PATH": ""}


def burst(emu: Emulator, args: argparse.Namespace, faults: str, shared_backoff: bool) -> dict[str, float]:
    http.close_all()
    forget_clients()
    clear_token_cache()
    u = emu.urls
    conn = EnvironmentEndpoints(u.environment_url, u.tenant_id, authority_host=u.authority_host, graph_url=u.graph_url,
                      ca_bundle=str(u.ca_bundle))
    dv = DataverseClient.for_connection(conn, env=ENV, max_concurrency=args.concurrency,
                                        retry=RetryPolicy(shared_backoff=shared_backoff))
    dv.whoami()  # sign in and warm the pool outside the measurement
    time.sleep(0.05)
    emu.faults.clear()
    emu.settings.service_protection = None
    emu.clear_log()
    dv.http.stats.reset()
    if faults == "random":
        emu.faults.add(FaultRule(kind="429", probability=args.probability, path_regex="WhoAmI",
                                 retry_after=args.retry_after))
    elif faults == "protection":
        emu.settings.service_protection = ServiceProtection(requests_per_window=args.window_requests,
                                                            window_s=args.window_s)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        list(pool.map(lambda _: dv.whoami(), range(args.calls)))
    wall = time.monotonic() - started
    time.sleep(0.1)
    counters = emu.counters()
    stats = dv.http.stats
    return {
        "calls": args.calls,
        "requests": counters["total"],
        "429s": counters["by_status"].get("429", 0),
        "retries": stats.retries,
        "sum_waits_s": round(sum(stats.waits), 2),
        "max_wait_s": round(max(stats.waits, default=0.0), 2),
        "max_in_flight": counters["max_in_flight"],
        "gate_wait_s": round(stats.gate_waits, 2),
        "wall_s": round(wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--probability", type=float, default=0.2)
    parser.add_argument("--retry-after", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--fault-seed", type=int, default=1)
    parser.add_argument("--window-requests", type=int, default=50, help="service-protection scenario: requests per window")
    parser.add_argument("--window-s", type=float, default=2.0, help="service-protection scenario: window length")
    args = parser.parse_args()
    emu = Emulator.start(latency_ms=args.latency_ms, fault_seed=args.fault_seed)
    try:
        scenarios = [
            ("no faults", "none", True),
            (f"random 429 p={args.probability} RA={args.retry_after}s, shared backoff", "random", True),
            (f"random 429 p={args.probability} RA={args.retry_after}s, per-request", "random", False),
            (f"limit {args.window_requests}/{args.window_s:g}s, shared backoff", "protection", True),
            (f"limit {args.window_requests}/{args.window_s:g}s, per-request", "protection", False),
        ]
        for label, faults, shared in scenarios:
            emu.reset()
            r = burst(emu, args, faults, shared)
            print(f"{label:44s} " + "  ".join(f"{k}={v}" for k, v in r.items()), flush=True)
    finally:
        emu.stop()


if __name__ == "__main__":
    main()
