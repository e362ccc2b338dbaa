"""The minimal model (bench/minimal.py) applied to RW-1's graph: each resource's minimal cost, and
the round-trip lower bounds of a whole ``up`` under the benchmark's conditions.

Conditions: every request pays ``LATENCY_MS`` (the emulator's added latency), a solution import
takes ``IMPORT_SECONDS`` on the server, and the SDK's provider host runs ``HOST_SLOTS`` operations
at once.  docs/benchmark.md explains the model.
"""

from __future__ import annotations

from typing import Any, Mapping

from bench import minimal
from devkit.workload import Workload

LATENCY_MS = 30.0
IMPORT_SECONDS = 10.0
HOST_SLOTS = 4  # the SDK provider host's thread pool


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
    if kind == "DeployerCheck":
        return minimal.deployer_check_create()
    if kind == "SolutionImport":
        return minimal.solution_create(IMPORT_SECONDS, managed=managed)
    if kind == "SecurityRole":
        return minimal.security_role_create(adopted=bool(outputs.get("adopted")))
    if kind == "UserRoleAssignment":
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

