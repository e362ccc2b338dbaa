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
docs/benchmark.md explains the method and compares the figures with the targets of issue 7.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

from bench import minimal
from bench.emulator_proc import EmulatorProcess, Request
from bench.state_size import checkpoint_entry, entry_bytes
from bench.workload import REPO, Workload, connection_for, host_env, run_up, rw1

LATENCY_MS = 30.0
IMPORT_SECONDS = 10.0
PACKAGE_BYTES = 100 * 1000 * 1000
HOST_SLOTS = 4  # the SDK provider host's thread pool

TARGETS = {
    "wall_over_lower_bound": 1.15,
    "engine_wall_over_lower_bound": 1.25,
    "requests_over_minimal": 1.25,
    "import_notice_s": 1.0,
    "refresh_requests_per_resource": 1.0,
    "state_bytes_per_resource": 4096,
    "peak_rss_over_package": 3.0,
}


def _harness() -> tuple[Any, Any]:
    """The provider-host harness, imported late so ``--markdown`` works without grpc start-up."""
    from tests.harness.host import ProviderHost
    from tests.harness.stack import Stack

    return ProviderHost, Stack


def dataverse(reqs: list[Request]) -> list[Request]:
    return [r for r in reqs if r.is_dataverse]


def entra(reqs: list[Request]) -> list[Request]:
    return [r for r in reqs if not r.is_dataverse and not r.path.startswith(("/v1.0", "/_emulator"))]


# --- minimal model applied to the graph ---------------------------------------------------------


def seed_role_names() -> dict[str, set[str]]:
    """Entra object id -> Sales roles the user holds in the emulator's default seed."""
    import yaml

    from emulator.seed import DEFAULT_SEED_PATH

    seed = yaml.safe_load(DEFAULT_SEED_PATH.read_text())
    out: dict[str, set[str]] = {}
    for user in (seed.get("dataverse") or {}).get("systemusers") or []:
        if user.get("object_id"):
            out[str(user["object_id"]).lower()] = set(user.get("roles") or [])
    return out


def minimal_cost(kind: str, outputs: Mapping[str, Any], inputs: Mapping[str, Any],
                 *, managed: bool, role_names: Mapping[str, str] | None = None,
                 held: Mapping[str, set[str]] | None = None, names_seen: set[str] | None = None,
                 batch: bool = True) -> minimal.OpCost:
    """Minimal cost of this resource's create; role grants the user already holds cost nothing.

    A role declared by *name* (not one of our SecurityRole ids) must be looked up once per host
    process: the first resource that declares it pays one request (in parallel, no extra RT).
    """
    names = {str(r): (role_names or {}).get(str(r), str(r)) for r in inputs.get("roles") or []}
    already = (held or {}).get(str(inputs.get("object_id", "")).lower(), set())
    roles = [r for r, n in names.items() if n not in already]
    lookups = 0
    if names_seen is not None:
        for ref in names:
            if ref not in (role_names or {}) and ref not in names_seen:
                names_seen.add(ref)
                lookups += 1
    cost = _minimal_cost(kind, outputs, inputs, roles, managed=managed, batch=batch)
    if lookups:
        cost = minimal.OpCost(cost.requests + lookups, cost.round_trips, cost.steps + (
            f"GET roles?$filter=name eq '<n>' and _businessunitid_value eq <root> x{lookups} "
            "(once per host process, parallel)",))
    return cost


def _minimal_cost(kind: str, outputs: Mapping[str, Any], inputs: Mapping[str, Any], roles: list[str],
                  *, managed: bool, batch: bool) -> minimal.OpCost:
    if kind == "Preflight":
        return minimal.preflight_create()
    if kind == "SolutionImport":
        return minimal.solution_create(IMPORT_SECONDS, managed=managed)
    if kind == "SecurityRole":
        return minimal.security_role_create(adopted=bool(outputs.get("adopted")))
    if kind == "UserAccess":
        return minimal.user_access_create(len(roles), patch_user=bool(inputs.get("integration_user")),
                                          batch=batch)
    if kind == "ApplicationUser":
        return minimal.application_user_create(len(roles), batch=batch)
    raise KeyError(kind)


def lower_bounds(workload: Workload, costs: Mapping[str, minimal.OpCost]) -> dict[str, Any]:
    """Issue 7's critical-path bound, plus the bound that also respects the host's 4 slots."""
    index = workload.by_name()
    memo: dict[str, int] = {}

    def chain(name: str) -> int:
        if name not in memo:
            memo[name] = costs[name].round_trips + max((chain(d) for d in index[name].deps), default=0)
        return memo[name]

    longest = max(chain(n.name) for n in workload.nodes)
    rts = minimal.TOKEN_ROUND_TRIPS + longest
    levels = [[costs[n.name].round_trips for n in level] for level in workload.levels()]
    cap = minimal.TOKEN_ROUND_TRIPS + minimal.capacity_round_trips(levels, HOST_SLOTS)
    lat = LATENCY_MS / 1000
    return {
        "chain_round_trips": rts,
        "critical_path_s": round(minimal.critical_path_seconds(rts, lat, IMPORT_SECONDS), 3),
        "capacity_round_trips": cap,
        "capacity_bound_s": round(minimal.critical_path_seconds(cap, lat, IMPORT_SECONDS), 3),
    }


# --- phases --------------------------------------------------------------------------------------


def import_notice(reqs: list[Request], import_seconds: float) -> dict[str, Any]:
    """Delay between the server finishing the import and the provider's poll that saw it.

    The emulator completes an import ``import_seconds`` after the handler of the import start ran
    (emulator/dataverse/solutions.py); the handler runs after the added latency, just before
    the response, so the start request's ``ended`` + import_seconds is the completion time (to a
    millisecond). A poll sees completion when its handler runs after that, i.e. its ``ended``.
    """
    starts = [r for r in reqs if r.method == "POST" and r.status < 300
              and r.path.endswith(("/ImportSolutionAsync", "/StageAndUpgradeAsync"))]
    polls = [r for r in reqs if r.method == "GET" and "/asyncoperations(" in r.path]
    if not starts or not polls:
        return {"polls": len(polls), "notice_s": None}
    completed_at = starts[-1].ended + import_seconds
    seen = [r for r in polls if r.ended >= completed_at]
    if not seen:
        return {"polls": len(polls), "notice_s": None}
    first = min(seen, key=lambda r: r.ended)
    return {"polls": len(polls), "completed_at": completed_at, "noticed_at": first.ended,
            "notice_s": round(first.ended - completed_at, 3),
            "poll_times_s": [round(r.ended - starts[-1].ended, 2) for r in polls]}


def phase_first_up(workdir: Path) -> dict[str, Any]:
    ProviderHost, Stack = _harness()
    out: dict[str, Any] = {}
    with EmulatorProcess(latency_ms=LATENCY_MS, import_seconds=IMPORT_SECONDS) as emu:
        conn = connection_for(emu.urls)
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
        conn = connection_for(emu.urls)
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
    from tests.harness.host import type_token, urn_for

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
            parent="urn:pulumi:dev::bc-sales::bc-sales:index:SalesIntegration::sales",
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
        conn = connection_for(emu.urls)
        workload = rw1(conn, package_path=str(big), salespeople=0, application_user=False)
        with ProviderHost(host_env(emu.urls)) as host:
            stack = Stack(host)
            run_up(stack, workload, only=["preflight"])
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


# --- report --------------------------------------------------------------------------------------


def build_report(first: dict[str, Any], per: dict[str, Any], rss: dict[str, Any] | None) -> dict[str, Any]:
    workload: Workload = per["workload"]
    managed = bool(workload.meta["package"].managed)
    role_names = {r["outputs"]["role_id"]: r["outputs"]["name"] for r in per["rows"].values()
                  if r["kind"] == "SecurityRole"}
    held = seed_role_names()
    names_seen: set[str] = set()
    costs: dict[str, minimal.OpCost] = {}
    rows = []
    for node in workload.nodes:
        row = per["rows"][node.name]
        cost = minimal_cost(node.kind, row["outputs"], row["inputs"], managed=managed,
                            role_names=role_names, held=held, names_seen=names_seen)
        costs[node.name] = cost
        rows.append({"resource": node.name, "kind": node.kind, "requests": row["requests"],
                     "minimal": cost.requests, "by_call": row["by_call"],
                     "state_bytes": first["state"]["bytes_per_resource"].get(node.name),
                     "refresh_requests": first["refresh"]["per_resource"].get(node.name),
                     "refresh_minimal": minimal.read_cost(node.kind).requests})
    total = sum(r["requests"] for r in rows)
    total_min = sum(r["minimal"] for r in rows)
    seen_unbatched: set[str] = set()
    total_min_unbatched = sum(
        minimal_cost(n.kind, per["rows"][n.name]["outputs"], per["rows"][n.name]["inputs"], managed=managed,
                     role_names=role_names, held=held, names_seen=seen_unbatched, batch=False).requests
        for n in workload.nodes)
    bounds = lower_bounds(workload, costs)
    n_res = len(rows)
    figures = {
        "resources": n_res,
        "requests_total_sequential": total,
        "requests_total_concurrent": first["requests_total"],
        "requests_minimal": total_min,
        "requests_minimal_without_batch": total_min_unbatched,
        "requests_over_minimal": round(max(total, first["requests_total"]) / total_min, 3),
        "entra_requests_first_up": first["entra_requests"],
        "wall_s": first["wall_s"],
        **bounds,
        "wall_over_lower_bound": round(first["wall_s"] / bounds["critical_path_s"], 3),
        "wall_over_capacity_bound": round(first["wall_s"] / bounds["capacity_bound_s"], 3),
        "max_in_flight_ops": first["max_in_flight_ops"],
        "import_polls": first["import"].get("polls"),
        "import_notice_s": first["import"].get("notice_s"),
        "noop_up_requests": first["noop_up"]["requests"],
        "noop_up_all_same": first["noop_up"]["all_same"],
        "refresh_requests_total": first["refresh"]["requests_total"],
        "refresh_requests_minimal": sum(r["refresh_minimal"] for r in rows),
        "refresh_requests_per_resource": round(first["refresh"]["requests_total"] / n_res, 3),
        "state_bytes_max": first["state"]["max"],
        "state_bytes_mean": first["state"]["mean"],
        "state_bytes_per_resource": first["state"]["max"],
    }
    if rss:
        figures.update({"package_bytes": rss["package_bytes"], "peak_rss_bytes": rss["peak_rss"],
                        "rss_baseline_bytes": rss["baseline_rss"], "rss_method": rss["method"],
                        "peak_rss_over_package": rss["peak_over_package"]})
    verdicts = {
        "wall_over_lower_bound": figures["wall_over_lower_bound"] <= TARGETS["wall_over_lower_bound"],
        "requests_over_minimal": figures["requests_over_minimal"] <= TARGETS["requests_over_minimal"],
        "import_notice_s": figures["import_notice_s"] is not None
        and figures["import_notice_s"] <= TARGETS["import_notice_s"],
        "refresh_requests_per_resource":
            figures["refresh_requests_per_resource"] <= TARGETS["refresh_requests_per_resource"],
        "state_bytes_per_resource": figures["state_bytes_max"] < TARGETS["state_bytes_per_resource"],
    }
    if rss:
        verdicts["peak_rss_over_package"] = rss["peak_over_package"] <= TARGETS["peak_rss_over_package"]
    return {
        "benchmark": "RW-1",
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "environment": {"python": platform.python_version(), "machine": platform.machine(),
                        "cpus": os.cpu_count(), "latency_ms": LATENCY_MS,
                        "import_seconds": IMPORT_SECONDS, "host_slots": HOST_SLOTS,
                        "load_average_1m_at_report": round(os.getloadavg()[0], 2)},
        "targets": TARGETS,
        "figures": figures,
        "met": verdicts,
        "per_resource": rows,
        "minimal_steps": {k: list(costs[k].steps) for k in _one_per_kind(workload)},
        "import": first["import"],
        "timeline": first["timeline"],
        "rss": rss,
    }


def engine_figures(engine: dict[str, Any], figures: Mapping[str, Any]) -> dict[str, Any]:
    """The engine run set against the same lower bound and minimal count as the harness run."""
    bound = figures["critical_path_s"]
    return {
        **{k: v for k, v in engine.items() if k not in ("import", "noop_up")},
        "wall_over_lower_bound": round(engine["wall_s"] / bound, 3),
        "wall_minus_overhead_over_lower_bound": round(
            (engine["wall_s"] - engine["startup_s"] - engine["shutdown_s"]) / bound, 3),
        "requests_over_minimal": round(engine["requests_total"] / figures["requests_minimal"], 3),
        "import_polls": engine["import"].get("polls"),
        "import_notice_s": engine["import"].get("notice_s"),
        "noop_up_wall_s": engine["noop_up"]["wall_s"],
        "noop_up_requests": engine["noop_up"]["requests"],
        "noop_up_writes": engine["noop_up"]["writes"],
    }


def _one_per_kind(workload: Workload) -> list[str]:
    seen: dict[str, str] = {}
    for n in workload.nodes:
        key = n.kind if n.kind != "UserAccess" else n.kind + ("-int" if n.name.endswith("integration-user") else "")
        seen.setdefault(key, n.name)
    return list(seen.values())


def print_report(rep: dict[str, Any]) -> None:
    f, t, met = rep["figures"], rep["targets"], rep["met"]
    print(f"RW-1  {rep['when']}  latency {rep['environment']['latency_ms']:.0f} ms, "
          f"import {rep['environment']['import_seconds']:.0f} s")
    print(f"{'resource':28} {'kind':16} {'req':>4} {'min':>4} {'refresh':>7} {'state B':>8}")
    for r in rep["per_resource"]:
        print(f"{r['resource']:28} {r['kind']:16} {r['requests']:>4} {r['minimal']:>4} "
              f"{r['refresh_requests'] if r['refresh_requests'] is not None else '-':>7} "
              f"{r['state_bytes'] or '-':>8}")
    print(f"{'total':45} {f['requests_total_sequential']:>4} {f['requests_minimal']:>4} "
          f"{f['refresh_requests_total']:>7}")
    print()

    def line(label: str, value: Any, target: str, ok: bool | None) -> None:
        mark = "n/a" if ok is None else ("met" if ok else "MISSED")
        print(f"{label:44} {str(value):>14}  target {target:12} {mark}")

    line("wall time first up (s)", f["wall_s"], "", None)
    line("critical-path lower bound (s)", f["critical_path_s"], "", None)
    line("  wall / lower bound", f["wall_over_lower_bound"], f"<= {t['wall_over_lower_bound']}",
         met["wall_over_lower_bound"])
    line("  wall / bound with 4 host slots", f["wall_over_capacity_bound"], "(info)", None)
    line("requests (max of seq./concurrent) / minimal",
         f"{max(f['requests_total_sequential'], f['requests_total_concurrent'])}/{f['requests_minimal']}"
         f" = {f['requests_over_minimal']}", f"<= {t['requests_over_minimal']}", met["requests_over_minimal"])
    line("import end -> provider notices (s)", f["import_notice_s"], f"<= {t['import_notice_s']}",
         met["import_notice_s"])
    line("no-op up requests (Check+Diff)", f["noop_up_requests"], "(info)", None)
    line("no-op refresh requests per resource", f["refresh_requests_per_resource"],
         f"<= {t['refresh_requests_per_resource']}", met["refresh_requests_per_resource"])
    line("state bytes per resource (max)", f["state_bytes_max"], f"< {t['state_bytes_per_resource']}",
         met["state_bytes_per_resource"])
    if rep.get("engine"):
        e = rep["engine"]
        print()
        print(f"through the real engine ({e['version']}):")
        line("wall time first up, pulumi up --skip-preview (s)", e["wall_s"], "", None)
        line("  wall / lower bound", e["wall_over_lower_bound"], f"<= {t['engine_wall_over_lower_bound']}",
             met.get("engine_wall_over_lower_bound"))
        line("  engine start-up / shutdown inside it (s)", f"{e['startup_s']} / {e['shutdown_s']}", "(info)", None)
        line("  empty program up, apart (s)", e["empty_up_s"], "(info)", None)
        line("  requests / minimal", f"{e['requests_total']}/{f['requests_minimal']} = {e['requests_over_minimal']}",
             "(info)", None)
        line("  Entra token requests", e["entra_requests"], "(info)", None)
        line("  import end -> provider notices (s)", e["import_notice_s"], "(info)", None)
        line("  no-op up: wall (s) / requests / writes",
             f"{e['noop_up_wall_s']}/{e['noop_up_requests']}/{e['noop_up_writes']}", "(info)", None)
    if "peak_rss_bytes" in f:
        line("peak RSS importing package (MB)",
             f"{f['peak_rss_bytes'] / 1e6:.0f}/{f['package_bytes'] / 1e6:.0f}",
             f"<= {t['peak_rss_over_package']}x", met["peak_rss_over_package"])
        line("  peak RSS / package size", f["peak_rss_over_package"], "", None)


def markdown(rep: dict[str, Any]) -> str:
    """The figures-vs-targets table for docs/benchmark.md."""
    f, t, met = rep["figures"], rep["targets"], rep["met"]
    mark = lambda k: "met" if met.get(k) else "**missed**"  # noqa: E731
    rows = [
        ("wall time of the first up", f"{f['wall_s']} s vs lower bound {f['critical_path_s']} s = "
         f"{f['wall_over_lower_bound']}x (with 4 host slots: bound {f['capacity_bound_s']} s, "
         f"{f['wall_over_capacity_bound']}x)", f"<= {t['wall_over_lower_bound']}x", mark("wall_over_lower_bound")),
        ("Dataverse requests, first up", f"{max(f['requests_total_sequential'], f['requests_total_concurrent'])} vs "
         f"minimal {f['requests_minimal']} = {f['requests_over_minimal']}x (minimal without `$batch`: "
         f"{f.get('requests_minimal_without_batch', '?')}; + {f['entra_requests_first_up']} Entra requests)",
         f"<= {t['requests_over_minimal']}x", mark("requests_over_minimal")),
        ("import end -> provider notices", f"{f['import_notice_s']} s ({f['import_polls']} polls)",
         f"<= {t['import_notice_s']} s", mark("import_notice_s")),
        ("no-op refresh", f"{f['refresh_requests_total']} requests / {f['resources']} resources = "
         f"{f['refresh_requests_per_resource']} (minimal {f.get('refresh_requests_minimal', '?')})", f"<= {t['refresh_requests_per_resource']} per resource",
         mark("refresh_requests_per_resource")),
        ("no-op up (Check + Diff)", f"{f['noop_up_requests']} requests, all unchanged: {f['noop_up_all_same']}", "-", "-"),
        ("state per resource", f"max {f['state_bytes_max']} B, mean {f['state_bytes_mean']} B",
         f"< {t['state_bytes_per_resource']} B", mark("state_bytes_per_resource")),
    ]
    if "peak_rss_bytes" in f:
        rows.append(("peak RSS importing a package", f"{f['peak_rss_bytes'] / 1e6:.0f} MB for a "
                     f"{f['package_bytes'] / 1e6:.0f} MB package = {f['peak_rss_over_package']}x "
                     f"(host baseline {f['rss_baseline_bytes'] / 1e6:.0f} MB, {f['rss_method']})",
                     f"<= {t['peak_rss_over_package']}x package", mark("peak_rss_over_package")))
    if rep.get("engine"):
        e = rep["engine"]
        rows.append((f"first up through the real engine (`pulumi up --skip-preview`, {e['version']})",
                     f"{e['wall_s']} s vs lower bound {f['critical_path_s']} s = {e['wall_over_lower_bound']}x; "
                     f"engine start-up {e['startup_s']} s + shutdown {e['shutdown_s']} s inside it (an empty "
                     f"program's up: {e['empty_up_s']} s); {e['requests_total']} Dataverse requests "
                     f"({e['requests_over_minimal']}x minimal) + {e['entra_requests']} Entra; no-op up "
                     f"{e['noop_up_wall_s']} s, {e['noop_up_requests']} requests, {e['noop_up_writes']} writes",
                     f"<= {t['engine_wall_over_lower_bound']}x", mark("engine_wall_over_lower_bound")))
    env = rep["environment"]
    out = [f"Run {rep['when']}, Python {env['python']}, {env['cpus']} CPUs, load average "
           f"{env.get('load_average_1m_at_report', '?')} when it ended.", "",
           "| figure | measured | target | |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    tl = rep.get("timeline") or {}
    if tl:
        def span(prefix: str) -> str:
            items = [v for k, v in tl.items() if k.startswith(prefix)]
            start, end = min(i["start"] for i in items), max(i["end"] for i in items)
            return f"{end - start:.2f} s"
        notice = rep.get("import", {}).get("notice_s")
        out += ["", "Phases of the first up (first start to last end): preflight " + span("preflight")
                + ", solution " + span("solution") + f" (import {rep['environment']['import_seconds']:.0f} s, "
                f"notice delay {notice} s), roles " + span("role-") + ", integration user "
                + span("access-integration-user") + ", 25 salespeople " + span("access-sales")
                + ", application user " + span("application-user") + "."]
    out += ["", "| resource kind | requests (each) | minimal (each) | refresh (each) | state bytes |",
            "|---|---|---|---|---|"]
    seen: dict[str, list[dict[str, Any]]] = {}
    for r in rep["per_resource"]:
        seen.setdefault(r["kind"], []).append(r)
    for kind, rs in seen.items():
        span = lambda key: "/".join(sorted({str(x[key]) for x in rs}))  # noqa: E731
        out.append(f"| {kind} ({len(rs)}) | {span('requests')} | {span('minimal')} | {span('refresh_requests')} | "
                   f"{span('state_bytes')} |")
    return "\n".join(out)


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
