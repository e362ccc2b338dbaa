"""The reference workload RW-1 as a resource graph, and an engine-like scheduler for it.

Why our own scheduler: the benchmark and the proof tests drive the provider host without the
Pulumi CLI (devkit/harness). The engine registers every resource whose dependencies are done and
sends its operations to the host at once; the host's 4-worker pool is what limits concurrency.
``run_up`` does the same with a thread per ready resource, so the 4-operation limit applies exactly
where it applies in a real ``pulumi up``.
"""

from __future__ import annotations

import importlib
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from emulator.seed import ids

REPO = Path(__file__).resolve().parents[1]

#: resource kind -> (module under infra.providers, class name)
KINDS: dict[str, tuple[str, str]] = {
    "DeployerCheck": ("deployer_check", "DeployerCheck"),
    "SolutionImport": ("solution_import", "SolutionImport"),
    "SecurityRole": ("security_role", "SecurityRole"),
    "UserRoleAssignment": ("user_role_assignment", "UserRoleAssignment"),
    "ApplicationUser": ("application_user", "ApplicationUser"),
}

INTEGRATION_USER_OID = ids.INTEGRATION_USER_OBJECT_ID
BUSINESS_CENTRAL_APP_ID = ids.BUSINESS_CENTRAL_APP_ID
DEPLOYER_CLIENT_ID = ids.DEPLOYER_CLIENT_ID
DEPLOYER_SECRET = ids.DEPLOYER_SECRET  # fake, from the emulator's default seed
SALESPERSON_ROLE = ids.SALESPERSON_ROLE  # seeded Dataverse role, assigned by name
salesperson_oid = ids.salesperson_object_id  # sales<nn>@contoso.example, n = 1..30


def resource_class(kind: str) -> type:
    module, name = KINDS[kind]
    return getattr(importlib.import_module(f"infra.providers.{module}"), name)


@dataclass
class Node:
    """One resource: its kind, what it waits for, and how its inputs follow from those outputs."""

    name: str
    kind: str
    deps: tuple[str, ...]
    build: Callable[[Mapping[str, Mapping[str, Any]]], dict[str, Any]]

    @property
    def cls(self) -> type:
        return resource_class(self.kind)


@dataclass
class Timing:
    started: float
    ended: float
    op: str
    error: str | None = None


@dataclass
class Workload:
    nodes: list[Node]
    meta: dict[str, Any] = field(default_factory=dict)

    def by_name(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes}

    def levels(self) -> list[list[Node]]:
        """Topological levels: level k holds the nodes whose longest dependency chain is k."""
        depth: dict[str, int] = {}
        index = self.by_name()

        def d(name: str) -> int:
            if name not in depth:
                deps = index[name].deps
                depth[name] = 1 + max((d(x) for x in deps), default=-1)
            return depth[name]

        out: list[list[Node]] = []
        for node in self.nodes:
            k = d(node.name)
            while len(out) <= k:
                out.append([])
            out[k].append(node)
        return out


def standin_package() -> Any:
    """The stand-in solution's PackageInfo (packed deterministically by the model code)."""
    from infra.model.solution_package import read_package

    return read_package(REPO / "solution" / "standin")


def rw1(connection: Mapping[str, Any], *, salespeople: int = 25, package_path: str | None = None,
        roles_dir: Path | None = None, application_user: bool = True) -> Workload:
    """RW-1: deployer check -> solution -> three roles -> integration user, salespeople, app user.

    ``package_path`` overrides the stand-in (the RSS run uses a 100 MB copy of it).
    """
    from infra.model.roles import load_roles
    from infra.model.solution_package import read_package

    pkg = read_package(Path(package_path)) if package_path else standin_package()
    specs = {spec.name: spec for spec in load_roles(roles_dir or REPO / "roles")}
    conn = dict(connection)
    nodes: list[Node] = [
        Node("deployer-check", "DeployerCheck", (), lambda _o: {"connection": conn}),
        Node("solution", "SolutionImport", ("deployer-check",), lambda _o: {
            "connection": conn, "package_path": str(pkg.path), "unique_name": pkg.unique_name,
            "version": pkg.version, "managed": bool(pkg.managed), "sha256": pkg.sha256,
            "overwrite_unmanaged_customizations": True, "publish_workflows": True,
            "uninstall_on_delete": False, "timeout_seconds": 3600}),
    ]
    role_node: dict[str, str] = {}
    # Like infra/program/sales.py role_solution(): a changed solution makes every role re-apply its file.
    solution = {"unique_name": pkg.unique_name, "version": pkg.version, "sha256": pkg.sha256,
                "package_path": str(pkg.path)}
    for spec in specs.values():
        rname = "role-" + spec.name.lower().replace(" ", "-")
        role_node[spec.name] = rname
        nodes.append(Node(rname, "SecurityRole", ("solution",), lambda _o, s=spec: {
            "connection": conn, "name": s.name, "role_id": s.role_id, "privileges": dict(s.privileges),
            "business_unit_id": None, "delete_on_destroy": True, "solution": dict(solution)}))

    def role_ids(outs: Mapping[str, Mapping[str, Any]], *names: str) -> list[str]:
        return [outs[role_node[n]]["role_id"] for n in names]

    ia, iu, pau = "Integration Administrator", "Integration User", "Product Availability User"
    role_deps = tuple(role_node.values())
    nodes.append(Node("access-integration-user", "UserRoleAssignment", role_deps, lambda o: {
        "connection": conn, "object_id": INTEGRATION_USER_OID, "roles": role_ids(o, ia, iu),
        "integration_user": True, "wait_timeout_seconds": 600}))
    # Like infra/program/sales.py: salespeople wait for the integration user (the connection
    # works first); their declared roles are the configured names plus Product Availability User.
    sales_deps = role_deps + ("access-integration-user",)
    for i in range(1, salespeople + 1):
        nodes.append(Node(f"access-sales{i:02d}", "UserRoleAssignment", sales_deps, lambda o, i=i: {
            "connection": conn, "object_id": salesperson_oid(i),
            "roles": [SALESPERSON_ROLE] + role_ids(o, pau),
            "integration_user": False, "wait_timeout_seconds": 600}))
    if application_user:
        nodes.append(Node("application-user", "ApplicationUser", role_deps, lambda o: {
            "connection": conn, "application_id": BUSINESS_CENTRAL_APP_ID,
            "roles": role_ids(o, ia, iu), "delete_on_destroy": True}))
    return Workload(nodes, {"package": pkg, "salespeople": salespeople})


def host_env(emulator_urls: Mapping[str, Any], *, client_secret: str = DEPLOYER_SECRET,
             client_id: str = DEPLOYER_CLIENT_ID) -> dict[str, str]:
    """Environment of a provider host that signs in as the deployer app of the default seed."""
    return {"AZURE_TENANT_ID": str(emulator_urls["tenant_id"]), "AZURE_CLIENT_ID": client_id,
            "AZURE_CLIENT_SECRET": client_secret}


def endpoints_for(emulator_urls: Mapping[str, Any]) -> dict[str, Any]:
    from infra.clients.endpoints import EnvironmentEndpoints

    return EnvironmentEndpoints(environment_url=emulator_urls["environment_url"],
                      tenant_id=emulator_urls["tenant_id"],
                      authority_host=emulator_urls["authority_host"],
                      graph_url=emulator_urls["graph_url"],
                      ca_bundle=emulator_urls["ca_bundle"],
                      power_platform_url=emulator_urls.get("power_platform_url")
                      or emulator_urls["environment_url"]).to_dict()


# --- engine-like scheduling -------------------------------------------------------------------


def run_up(stack: Any, workload: Workload, *, only: Iterable[str] | None = None,
           threads: int = 64) -> dict[str, Timing]:
    """`pulumi up`: every resource as soon as its dependencies are done, all in flight at once.

    Raises the first error after in-flight operations finish (the engine also stops scheduling
    new work after a failure but lets running operations complete).
    """
    wanted = set(only) if only is not None else {n.name for n in workload.nodes}
    timings: dict[str, Timing] = {}
    lock = threading.Lock()
    done: set[str] = set()
    futures: dict[Future[Any], str] = {}
    first_error: BaseException | None = None

    def outs() -> dict[str, dict[str, Any]]:
        return {name: stack.outputs(name) for name in list(stack.state)}

    def run(node: Node) -> None:
        t0 = time.time()
        try:
            result = stack.up(node.cls, node.name, node.build(outs()))
        except BaseException as exc:
            with lock:
                timings[node.name] = Timing(t0, time.time(), "failed", str(exc))
            raise
        with lock:
            timings[node.name] = Timing(t0, time.time(), result.op)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending = [n for n in workload.nodes if n.name in wanted]
        while pending or futures:
            if first_error is None:
                ready = [n for n in pending if all(d in done or d not in wanted for d in n.deps)]
                for node in ready:
                    pending.remove(node)
                    futures[pool.submit(run, node)] = node.name
            if not futures:
                break
            finished, _ = wait(list(futures), return_when=FIRST_COMPLETED)
            for fut in finished:
                name = futures.pop(fut)
                exc = fut.exception()
                if exc is not None and first_error is None:
                    first_error = exc
                elif exc is None:
                    done.add(name)
    if first_error is not None:
        raise first_error
    return timings


def run_refresh(stack: Any, names: Iterable[str], *, threads: int = 64) -> dict[str, str]:
    """`pulumi refresh`: Read on every resource, all at once."""
    names = [n for n in names if n in stack.state]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = dict(zip(names, pool.map(stack.refresh, names)))
    return {name: r.op for name, r in results.items()}


def run_destroy(stack: Any, workload: Workload, *, threads: int = 64) -> None:
    """`pulumi destroy`: dependents first, each level concurrently."""
    for level in reversed(workload.levels()):
        names = [n.name for n in level if n.name in stack.state]
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(stack.destroy, names))
