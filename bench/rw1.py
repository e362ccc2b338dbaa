"""Benchmark RW-1 against the round-trip lower bound: ``python -m bench.rw1 [--json PATH]``.

What it does, in one run (each phase on a fresh emulator subprocess with 30 ms latency per request
and a 10 s server-side import, so phases cannot disturb each other):

1. first ``up`` of the whole graph with the engine's parallelism -> wall time, total requests,
   import-end-to-notice delay; then a no-op ``up`` (Check + Diff) and a no-op ``refresh`` in a
   fresh provider host (Read on every resource) -> requests;
2. the same ``up`` one resource at a time -> Dataverse requests per resource, set against the
   minimal count of bench/minimal.py;
3. state bytes per resource, from the first run's inputs and outputs as the engine would store them;
4. peak RSS of the provider host while it imports a 100 MB solution package.

The figures are printed as a table and written as JSON (``--out``, default .bench/rw1.json, untracked).
docs/benchmark.md explains the method and compares the figures with the targets of issue 7.  The
minimal model applied to the graph is in bench/bounds.py, the report in bench/report.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

from bench.bounds import IMPORT_SECONDS, LATENCY_MS
from bench.emulator_proc import EmulatorProcess, Request, dataverse, entra, import_notice, tokens
from bench.report import TARGETS, build_report, engine_figures, markdown, print_report
from bench.state_size import checkpoint_entry, entry_bytes
from devkit.workload import REPO, Workload, endpoints_for, host_env, run_up, rw1

PACKAGE_BYTES = 100 * 1000 * 1000


def _harness() -> tuple[Any, Any]:
    """The provider-host harness, imported late so ``--markdown`` works without grpc start-up."""
    from devkit.harness.host import ProviderHost
    from devkit.harness.stack import Stack

    return ProviderHost, Stack


# --- phases --------------------------------------------------------------------------------------


def phase_first_up(workdir: Path) -> dict[str, Any]:
    ProviderHost, Stack = _harness()
    out: dict[str, Any] = {}
    with EmulatorProcess(latency_ms=LATENCY_MS, import_seconds=IMPORT_SECONDS) as emu:
        conn = endpoints_for(emu.urls)
        env = host_env(emu.urls)
        workload = rw1(conn)
        with ProviderHost(env) as host:
            stack = Stack(host)
            emu.clear_log()
            t0 = time.time()
            timings = run_up(stack, workload)
            wall = time.time() - t0
            reqs = emu.requests()
            out["wall_s"] = round(wall, 3)
            out["requests_total"] = len(dataverse(reqs))
            out["entra_requests"] = len(entra(reqs))
            out["token_requests"] = len(tokens(reqs))
            out["max_in_flight_ops"] = _max_overlap(timings)
            out["import"] = import_notice(reqs, IMPORT_SECONDS)
            out["timeline"] = {n: {"start": round(t.started - t0, 3), "end": round(t.ended - t0, 3),
                                   "op": t.op} for n, t in timings.items()}
            # no-op up: Check + Diff only
            t_noop = time.time()
            ops = {n.name: stack.up(n.cls, n.name, n.build(
                {k: stack.outputs(k) for k in stack.state})).op for n in workload.nodes}
            out["noop_up"] = {"requests": len([r for r in dataverse(emu.requests()) if r.started >= t_noop]),
                              "all_same": all(op == "same" for op in ops.values())}
            state = {name: (entry.resource_cls, entry.id, dict(entry.inputs), dict(entry.outputs))
                     for name, entry in stack.state.items()}
        # refresh in a fresh host, as `pulumi refresh` starts its own plugin process
        with ProviderHost(env) as host:
            stack2 = Stack(host, state=dict(stack.state))
            per: dict[str, int] = {}
            emu.clear_log()
            for node in workload.nodes:
                t0 = time.time()
                stack2.refresh(node.name)
                t1 = time.time()
                per[node.name] = len([r for r in dataverse(emu.requests()) if t0 <= r.started <= t1])
            out["refresh"] = {"requests_total": sum(per.values()), "per_resource": per,
                              "resources": len(per)}
    out["state"] = state_sizes(workload, state)
    out["workload"] = workload
    return out


def _max_overlap(timings: Mapping[str, Any]) -> int:
    events = sorted([(t.started, 1) for t in timings.values()] + [(t.ended, -1) for t in timings.values()],
                    key=lambda e: (e[0], e[1]))
    cur = best = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


def phase_per_resource() -> dict[str, Any]:
    """The same up, one resource at a time, so each request belongs to exactly one resource."""
    ProviderHost, Stack = _harness()
    rows: dict[str, Any] = {}
    with EmulatorProcess(latency_ms=LATENCY_MS, import_seconds=IMPORT_SECONDS) as emu:
        conn = endpoints_for(emu.urls)
        workload = rw1(conn)
        with ProviderHost(host_env(emu.urls)) as host:
            stack = Stack(host)
            emu.clear_log()
            for level in workload.levels():
                for node in level:
                    # attribute by start time: the emulator logs a request just after answering it
                    t0 = time.time()
                    run_up(stack, workload, only=[node.name])
                    t1 = time.time()
                    reqs = [r for r in dataverse(emu.requests()) if t0 <= r.started <= t1]
                    rows[node.name] = {"kind": node.kind, "requests": len(reqs),
                                       "by_call": _by_call(reqs),
                                       "inputs": stack.inputs(node.name),
                                       "outputs": stack.outputs(node.name)}
    return {"rows": rows, "workload": workload}


def _by_call(reqs: list[Request]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in reqs:
        path = r.path.split("/api/data/v9.2/", 1)[-1]
        stem = path.split("(", 1)[0] if "(" in path else path
        tail = path.rsplit(")", 1)[-1] if ")" in path else ""
        key = f"{r.method} {stem}{'(..)' if '(' in path else ''}{tail}"
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))


def state_sizes(workload: Workload, state: Mapping[str, tuple[type, str, dict, dict]]) -> dict[str, Any]:
    from devkit.harness.host import PARENT_TYPE, type_token, urn_for

    sizes: dict[str, int] = {}
    index = workload.by_name()
    for name, (cls, id_, inputs, outputs) in state.items():
        token = type_token(cls)
        deps = [urn_for(type_token(index[d].cls), d, "dev") for d in index[name].deps]
        secret = bool(getattr(cls.provider_class(), "serialize_as_secret_always", True)) \
            if hasattr(cls, "provider_class") else True
        entry = checkpoint_entry(
            urn=urn_for(token, name, "dev"), type_=token, id_=id_, inputs=inputs, outputs=outputs,
            dependencies=deps, property_dependencies={"roles": deps} if "roles" in inputs else {},
            parent=f"urn:pulumi:dev::bc-sales::{PARENT_TYPE}::sales",
            provider_ref="urn:pulumi:dev::bc-sales::pulumi:providers:pulumi-python::default::"
                         "00000000-0000-4000-8000-000000000000",
            provider_secret=secret)
        sizes[name] = entry_bytes(entry)
    return {"bytes_per_resource": sizes, "max": max(sizes.values()), "mean": round(
        sum(sizes.values()) / len(sizes)), "total": sum(sizes.values())}


def phase_rss(workdir: Path, package_bytes: int) -> dict[str, Any]:
    from bench.package import write_large_package
    from bench.rss import PeakRssMonitor

    ProviderHost, Stack = _harness()
    big = write_large_package(REPO / "solution" / "standin", workdir / "big-standin.zip", package_bytes)
    size = big.stat().st_size
    with EmulatorProcess(latency_ms=LATENCY_MS, import_seconds=1.0) as emu:
        conn = endpoints_for(emu.urls)
        workload = rw1(conn, package_path=str(big), salespeople=0, application_user=False)
        with ProviderHost(host_env(emu.urls)) as host:
            stack = Stack(host)
            run_up(stack, workload, only=["deployer-check"])
            with PeakRssMonitor(host.proc.pid) as mon:
                t0 = time.time()
                run_up(stack, workload, only=["solution"])
                took = time.time() - t0
            rep = mon.report
    assert rep is not None
    big.unlink()
    return {"package_bytes": size, "baseline_rss": rep.baseline_bytes, "peak_rss": rep.peak_bytes,
            "growth_bytes": rep.growth_bytes, "method": rep.method, "import_wall_s": round(took, 2),
            "peak_over_package": round(rep.peak_bytes / size, 3)}


#: Default output: an untracked folder (.gitignore), so a run never overwrites the committed baseline.
DEFAULT_OUT = REPO / ".bench" / "rw1.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rw1", description=__doc__.splitlines()[0])
    # The committed bench/results/rw1.json is the published baseline: a run writes elsewhere unless
    # told to (--out bench/results/rw1.json when the figures are meant to replace it).
    parser.add_argument("--out", "--json", dest="out", default=str(DEFAULT_OUT),
                        help="where to write the figures (default: .bench/rw1.json, untracked; "
                        "--out bench/results/rw1.json to update the committed baseline)")
    parser.add_argument("--package-mb", type=float, default=PACKAGE_BYTES / 1e6,
                        help="size of the package for the peak-RSS phase (0 skips it)")
    parser.add_argument("--markdown", metavar="JSON", help="print the docs table for an existing result and exit")
    parser.add_argument("--engine", choices=("harness", "pulumi"), default="harness",
                        help="pulumi: also deploy RW-1 through the real engine (scripts/pulumi-cli.sh) and put "
                             "both figures in one report")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(Path(args.markdown).read_text())))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-rw1-") as tmp:
        work = Path(tmp)
        first = phase_first_up(work)
        per = phase_per_resource()
        rss = phase_rss(work, int(args.package_mb * 1e6)) if args.package_mb > 0 else None
        engine = None
        if args.engine == "pulumi":
            from bench.engine import phase_engine_up

            (work / "engine").mkdir()
            engine = phase_engine_up(work / "engine", latency_ms=LATENCY_MS, import_seconds=IMPORT_SECONDS)
    rep = build_report(first, per, rss)
    if engine is not None:
        rep["engine"] = engine_figures(engine, rep["figures"])
        rep["met"]["engine_wall_over_lower_bound"] = (
            rep["engine"]["wall_over_lower_bound"] <= TARGETS["engine_wall_over_lower_bound"])
    print_report(rep)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rep, indent=2, default=str) + "\n")
    print(f"\nfigures written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
