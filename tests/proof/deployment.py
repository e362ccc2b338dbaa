"""A small RW-1-like deployment against an in-process emulator, for the proof tests.

Why a helper: the soak, the crash test and the secret scan all need the same thing -- the real
provider host (devkit/harness) driving our providers over gRPC, an engine-like scheduler
(devkit/workload.py), and assertions against the emulator's Dataverse tables that say "converged":
no duplicate role, assignment or application user; what we declared is there; after delete only
what the keep policies keep is left.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from devkit.harness.host import ProviderError, ProviderHost
from devkit.harness.stack import CheckFailed, Stack
from devkit.workload import (BUSINESS_CENTRAL_APP_ID, INTEGRATION_USER_OID, Node,
                             Workload, endpoints_for, host_env, run_destroy, run_refresh, run_up, rw1,
                             salesperson_oid)
from emulator import FaultRule

WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")
DATAVERSE = "/api/data/"

PAU = "Product Availability User"
IA = "Integration Administrator"
IU = "Integration User"


def dataverse_writes(records: list[Any]) -> list[Any]:
    """Requests that could change Dataverse (token POSTs to Entra are not writes)."""
    return [r for r in records if r.path.startswith(DATAVERSE) and r.method in WRITE_METHODS]


# --- faults -------------------------------------------------------------------------------------


class TokenExpiry:
    """A fault that invalidates every outstanding access token at once.

    It moves the emulator's token clock forward by more than a token's lifetime on a seeded
    fraction of Dataverse requests, so the very request it hits (and any other in flight) is
    answered 401 ``token_expired``; tokens issued afterwards are valid on the moved clock.
    """

    def __init__(self, emulator: Any, probability: float, seed: int) -> None:
        self.emulator = emulator
        self.probability = probability
        self.rng = random.Random(seed ^ 0x5EED)
        self.offset = 0.0
        self.fired = 0
        tokens = emulator.ctx.tokens
        base_clock = tokens.clock
        tokens.clock = lambda: base_clock() + self.offset
        faults = emulator.faults
        original_pick = faults.pick

        def pick(method: str, path: str, query: str) -> Any:
            if path.startswith(DATAVERSE) and self.rng.random() < self.probability:
                self.offset += emulator.settings.token_lifetime_s + 60
                self.fired += 1
            return original_pick(method, path, query)

        faults.pick = pick  # type: ignore[method-assign]


def add_soak_faults(emulator: Any, rate: float, seed: int) -> TokenExpiry:
    """``rate`` of Dataverse requests fail, split evenly: 429 + Retry-After, 503, reset, expired token.

    Resets are half "before" (never reached the service) and half "after" (done, answer lost).
    """
    share = rate / 4
    for rule in (FaultRule(kind="429", probability=share, path_regex="^/api/data/", retry_after=1),
                 FaultRule(kind="503", probability=share, path_regex="^/api/data/"),
                 FaultRule(kind="reset", probability=share / 2, path_regex="^/api/data/", phase="before"),
                 FaultRule(kind="reset", probability=share / 2, path_regex="^/api/data/", phase="after")):
        emulator.faults.add(rule)
    return TokenExpiry(emulator, share, seed)


# --- the deployment -----------------------------------------------------------------------------


@dataclass
class Deployment:
    """Emulator + provider host + harness stack + a small RW-1 graph."""

    emulator: Any
    salespeople: int = 2
    host_env_extra: Mapping[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    _declared: dict[str, set[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.urls = self.emulator.urls.to_dict()
        self.connection = endpoints_for(self.urls)
        self.env = {**host_env(self.urls), **self.host_env_extra}
        self.workload = rw1(self.connection, salespeople=self.salespeople)
        self.host = ProviderHost(self.env)
        self.stack = Stack(self.host)
        self.seed_user_roles = self.user_roles_snapshot()

    # -- engine-like steps with a bounded number of re-runs ---------------------------------------

    def attempt(self, step: Callable[[], Any], attempts: int = 4) -> int:
        """Run ``step`` like a user re-running ``pulumi up`` after a failure; return the re-runs."""
        for i in range(attempts):
            try:
                step()
                return i
            except (ProviderError, CheckFailed) as exc:
                self.errors.append(exc.details if isinstance(exc, ProviderError) else str(exc))
                if i == attempts - 1:
                    raise
        return attempts

    def up(self, workload: Workload | None = None) -> dict[str, str]:
        return {k: t.op for k, t in run_up(self.stack, workload or self.workload).items()}

    def up_sequential(self, workload: Workload | None = None) -> None:
        wl = workload or self.workload
        for level in wl.levels():
            for node in level:
                run_up(self.stack, wl, only=[node.name])

    def refresh(self) -> dict[str, str]:
        return run_refresh(self.stack, [n.name for n in self.workload.nodes])

    def destroy(self) -> None:
        run_destroy(self.stack, self.workload)

    def restart_host(self) -> None:
        self.host.restart()

    def close(self) -> None:
        self.host.close()

    # -- the changed declaration --------------------------------------------------------------------

    def changed_workload(self) -> Workload:
        """Product Availability User loses a privilege; salespeople swap it for Integration User."""
        nodes: list[Node] = []
        for node in self.workload.nodes:
            if node.kind == "SecurityRole":
                def build(o: Mapping[str, Any], b: Callable[..., dict[str, Any]] = node.build) -> dict[str, Any]:
                    inputs = b(o)
                    if inputs["name"] == PAU:
                        privileges = dict(inputs["privileges"])
                        privileges.pop(sorted(privileges)[0])
                        inputs["privileges"] = privileges
                    return inputs
                nodes.append(Node(node.name, node.kind, node.deps, build))
            elif node.name.startswith("access-sales"):
                def build2(o: Mapping[str, Any], b: Callable[..., dict[str, Any]] = node.build) -> dict[str, Any]:
                    inputs = b(o)
                    pau = o["role-product-availability-user"]["role_id"]
                    inputs["roles"] = [r for r in inputs["roles"] if r != pau] + [o["role-integration-user"]["role_id"]]
                    return inputs
                nodes.append(Node(node.name, node.kind, node.deps, build2))
            else:
                nodes.append(node)
        return Workload(nodes, self.workload.meta)

    # -- what the emulator holds ---------------------------------------------------------------------

    @property
    def store(self) -> Any:
        return self.emulator.dataverse

    def root_bu(self) -> str:
        return self.store.root_business_unit()["businessunitid"]

    def roles_named(self, name: str) -> list[dict[str, Any]]:
        root = self.root_bu()
        with self.store.lock:
            return [r for r in self.store.roles.values()
                    if r["name"].casefold() == name.casefold() and r["_businessunitid_value"] == root]

    def user_id(self, object_id: str) -> str:
        with self.store.lock:
            return next(u["systemuserid"] for u in self.store.systemusers.values()
                        if (u.get("azureactivedirectoryobjectid") or "").lower() == object_id.lower())

    def user_roles_snapshot(self) -> dict[str, list[str]]:
        oids = [INTEGRATION_USER_OID] + [salesperson_oid(i) for i in range(1, self.salespeople + 1)]
        return {oid: sorted(self.store.user_role_ids(self.user_id(oid))) for oid in oids}

    def app_users(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return [u for u in self.store.systemusers.values()
                    if (u.get("applicationid") or "").lower() == BUSINESS_CENTRAL_APP_ID]

    def privileges_of(self, role_id: str) -> dict[str, str]:
        return {p["PrivilegeName"]: p["Depth"] for p in self.store.role_privileges(role_id)}

    # -- convergence ---------------------------------------------------------------------------------

    def assert_no_duplicates(self) -> None:
        for name in (IA, IU, PAU):
            assert len(self.roles_named(name)) <= 1, f"duplicate role {name!r}: {self.roles_named(name)}"
        assert len(self.app_users()) <= 1, f"duplicate application users: {self.app_users()}"
        with self.store.lock:
            for uid, roles in self.store.user_roles.items():
                assert len(roles) == len(set(roles)), f"duplicate role assignment for {uid}: {roles}"

    def assert_converged(self, workload: Workload) -> None:
        """Dataverse holds exactly what ``workload`` declares (checked against the tables)."""
        self.assert_no_duplicates()
        outs = {name: self.stack.outputs(name) for name in self.stack.state}
        missing = [n.name for n in workload.nodes if n.name not in self.stack.state]
        assert not missing, f"resources missing from state: {missing}"
        for node in workload.nodes:
            inputs = node.build(outs)
            if node.kind == "SecurityRole":
                [role] = self.roles_named(inputs["name"])
                assert self.privileges_of(role["roleid"]) == dict(inputs["privileges"]), node.name
            elif node.kind in ("UserRoleAssignment", "ApplicationUser"):
                if node.kind == "UserRoleAssignment":
                    uid = self.user_id(inputs["object_id"])
                else:
                    [user] = self.app_users()
                    uid = user["systemuserid"]
                have = {self.store.get_role(r)["name"] for r in self.store.user_role_ids(uid)}
                want = {self._role_name(r) for r in inputs["roles"]}
                assert want <= have, f"{node.name}: roles {sorted(want - have)} missing (has {sorted(have)})"
                earlier = self._declared.setdefault(node.name, set())
                dropped = earlier - want - self._seed_role_names(inputs.get("object_id"))
                earlier |= want
                assert not (dropped & have), f"{node.name}: undeclared roles kept: {sorted(dropped & have)}"
                if inputs.get("integration_user"):
                    user = self.store.get_user(uid)
                    assert user["accessmode"] == 4 and user.get("isintegrationuser") is True, user

    def _role_name(self, ref: str) -> str:
        try:
            return self.store.get_role(ref)["name"]
        except Exception:  # a role name, not an id
            return ref

    def _seed_role_names(self, object_id: str | None) -> set[str]:
        """Roles the user held before we touched it: never ours to remove."""
        ids = self.seed_user_roles.get(object_id or "", [])
        return {self.store.get_role(r)["name"] for r in ids}

    def assert_cleaned_up(self, *, nothing_lost: bool = True) -> None:
        """After destroy: no assignment of ours left, no application user left; roles the
        managed solution owns and the solution itself stay (keep policies). ``nothing_lost``:
        assignments users held before the stack existed are still there."""
        self.assert_no_duplicates()
        assert not self.stack.state, f"state not empty after destroy: {sorted(self.stack.state)}"
        now = self.user_roles_snapshot()
        left = {oid: sorted(set(now[oid]) - set(self.seed_user_roles[oid])) for oid in now}
        assert not any(left.values()), f"role assignments left behind: {left}"
        if nothing_lost:
            lost = {oid: sorted(set(self.seed_user_roles[oid]) - set(now[oid])) for oid in now}
            assert not any(lost.values()), f"assignments held before the stack were removed: {lost}"
        # Dataverse does not hard-delete application users: "deleted" = disabled, without roles.
        active = [u for u in self.app_users() if not u.get("isdisabled")]
        assert active == [], f"application user left behind (still enabled): {active}"
        for user in self.app_users():
            assert self.store.user_role_ids(user["systemuserid"]) == [], "roles left on the disabled app user"
        for name in (IA, IU, PAU):
            assert len(self.roles_named(name)) == 1, f"{name} (owned by the managed solution) was lost"
        unique = self.workload.meta["package"].unique_name
        with self.store.lock:
            kept = [x for x in self.store.solutions.values() if x["uniquename"] == unique]
        assert len(kept) == 1, f"solution {unique} (uninstall_on_delete false) was removed or duplicated"
