"""SecurityRole: one Dataverse security role and exactly its privileges (from roles/*.yaml).

Create adopts the role with the fixed id, else the role with the same name in the business unit
(root by default), else creates it with the fixed id -- so a rerun after an interrupted create
finds its own role instead of making a duplicate.  Privilege names are resolved in ONE catalog
request and every unknown name or disallowed depth is reported before anything is written; the
privileges are then set with one ReplacePrivilegesRole.  Refresh reads the role's privileges back
so edits made in the UI show as drift.  Delete removes only a role this stack created, and only
when ``delete_on_destroy`` is set; adopted and managed roles are left in place.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult

from infra import facts
from infra.clients.errors import AmbiguousOutcomeError, ClientError, ConflictError, NotFoundError
from infra.providers.base import (
    DataverseProvider, FieldRule, ProviderFailure, client_for, connection_of, credentials_available, is_guid,
    is_unknown, norm_guid, progress, root_business_unit_id, strip_internal, user_errors, warn,
)
from infra.providers.preflight import ensure_preflight
from infra.providers.role_assignment import forget_role, remember_roles

__all__ = ["SecurityRole", "SecurityRoleArgs", "SecurityRoleProvider", "RoleOutcome",
           "resolve_privileges", "reconcile_role", "read_role", "default_role_id", "privileges_digest"]


def privileges_digest(privileges: Mapping[str, Any] | None) -> str:
    """SHA-256 of the privilege map in a canonical form (sorted, depth names normalised).

    Why: the outputs keep this digest instead of a second copy of the map (the inputs hold the
    map), which halves a large role's state; diff and update compare digests.  Privilege names
    compare case-insensitively in Dataverse, so they are lower-cased here."""
    canon = sorted((str(k).lower(), norm_depth(v) or str(v)) for k, v in (privileges or {}).items())
    return hashlib.sha256(json.dumps(canon, separators=(",", ":")).encode()).hexdigest()

DEPTHS = facts.DEPTHS
_DEPTH_ALIASES = {d.lower(): d for d in DEPTHS} | {"0": "Basic", "1": "Local", "2": "Deep", "3": "Global",
                                                   "user": "Basic", "businessunit": "Local",
                                                   "parentchildbusinessunits": "Deep",
                                                   "organization": "Global"}
_ROLE_NAMESPACE = uuid.UUID("5d0f4c52-6a8e-4d7e-9f50-0c1f2b7a9e11")


def default_role_id(name: str) -> str:
    """A stable id for a role without a fixed one, so every environment agrees on it."""
    try:
        from infra.model.roles import derived_role_id

        return norm_guid(derived_role_id(name))
    except ImportError:  # pragma: no cover - the model package ships with the project
        return str(uuid.uuid5(_ROLE_NAMESPACE, name.strip().casefold()))


def norm_depth(value: Any) -> str | None:
    """``"global"``/``3``/``"Organization"`` -> ``"Global"``; None when not a depth."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _DEPTH_ALIASES.get(str(value).strip().lower())


# --- reconcile logic (plain functions taking a DataverseClient) -----------------------------


def allowed_depths(privilege: Any) -> tuple[str, ...]:
    """Depths a catalog privilege allows (from canbebasic/local/deep/global)."""
    return tuple(privilege.allowed_depths)


# Privileges found in the catalog, per host process and connection: check() looks every role's
# names up at preview, and the create/update that follows in the same process need not ask again.
# Only privileges that exist are kept -- a name the import is about to add is asked again later.
_CATALOG: dict[tuple[Any, str], Any] = {}
_CATALOG_LOCK = threading.Lock()


def clear_catalog_cache() -> None:
    with _CATALOG_LOCK:
        _CATALOG.clear()


def catalog_privileges(client: Any, names: Iterable[str]) -> dict[str, Any]:
    """name (lower case) -> Privilege for the names that exist; ONE request for the uncached ones."""
    key = client.connection
    names = sorted({str(n) for n in names})
    with _CATALOG_LOCK:
        found = {n.lower(): _CATALOG[(key, n.lower())] for n in names if (key, n.lower()) in _CATALOG}
    missing = [n for n in names if n.lower() not in found]
    if missing:
        live = client.privileges_by_name(missing)
        with _CATALOG_LOCK:
            for priv in live.values():
                _CATALOG[(key, str(priv.name).lower())] = priv
        found.update({k.lower(): v for k, v in live.items()})
    return found


def privilege_problems(wanted: Mapping[str, str], allowed_by_name: Mapping[str, Sequence[str]]) -> list[str]:
    """Unknown names and depths not allowed, all at once (``allowed_by_name``: lower-case names)."""
    unknown = sorted(n for n in wanted if n.lower() not in allowed_by_name)
    bad_depth = [f"{name} at {depth} (allowed: {', '.join(allowed_by_name[name.lower()]) or 'none'})"
                 for name, depth in sorted(wanted.items())
                 if name.lower() in allowed_by_name and depth not in allowed_by_name[name.lower()]]
    problems = []
    if unknown:
        problems.append(f"unknown privilege name(s): {', '.join(unknown)}")
    if bad_depth:
        problems.append(f"depth not allowed for: {'; '.join(bad_depth)}")
    return problems


def resolve_privileges(client: Any, wanted: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """privilege name -> (privilege id, depth), or ProviderFailure listing every bad entry.

    One catalog request for all names not looked up yet in this process; nothing is written here.
    """
    lower = catalog_privileges(client, wanted)
    problems = privilege_problems(wanted, {k: allowed_depths(v) for k, v in lower.items()})
    if problems:
        raise ProviderFailure(
            f"{'; '.join(problems)} -- nothing was changed. Depths are Basic, Local, Deep, Global; "
            "check the role file against the environment's privilege catalog")
    return {name: (norm_guid(str(lower[name.lower()].privilege_id)), depth) for name, depth in sorted(wanted.items())}


@dataclass(frozen=True)
class RoleOutcome:
    role_id: str
    business_unit_id: str
    adopted: bool
    created: bool
    managed: bool
    name: str
    privileges: dict[str, str] = field(default_factory=dict)


def _root_bu(client: Any) -> str:
    return root_business_unit_id(client)


_NOT_READ = object()


def find_or_create_role(client: Any, role_id: str, name: str, business_unit_id: str | None,
                        label: str, known: Any = _NOT_READ) -> tuple[Any, bool, str]:
    """(role, created, business unit id): adopt by id, then by name in the BU, else create.
    ``known``: the answer of ``get_role(role_id)`` when the caller already asked."""
    role = client.get_role(role_id) if known is _NOT_READ else known
    if role is not None:
        actual_bu = norm_guid(str(role.business_unit_id))
        if business_unit_id and actual_bu != norm_guid(business_unit_id):
            raise ProviderFailure(
                f"{label}: role {role_id} exists in business unit {actual_bu}, but business unit "
                f"{norm_guid(business_unit_id)} is declared; a role cannot move between business units. "
                "Declare its current business unit, or delete the role (delete_on_destroy) and run again")
        progress(f"{label}: adopting existing role {role.name!r} ({role_id})")
        return role, False, actual_bu
    bu = norm_guid(business_unit_id) if business_unit_id else _root_bu(client)
    same_name = client.find_roles(name=name, business_unit_id=bu)
    if len(same_name) > 1:
        raise ProviderFailure(
            f"{label}: {len(same_name)} roles named {name!r} exist in business unit {bu} "
            f"({', '.join(str(r.role_id) for r in same_name)}); remove the duplicates or set its id")
    if same_name:
        role = same_name[0]
        progress(f"{label}: adopting role {name!r} found by name ({role.role_id}); "
                 f"the declared id {role_id} is not used by this environment")
        return role, False, bu
    progress(f"{label}: creating role {name!r} with id {role_id}")
    try:
        role = client.create_role(role_id, name, bu)
    except (AmbiguousOutcomeError, ConflictError):
        # Lost answer or a concurrent create: the fixed id tells us whether it exists now.
        role = client.get_role(role_id)
        if role is None:
            raise
        progress(f"{label}: role {role_id} exists after an interrupted create; using it")
    return role, True, bu


def reconcile_role(client: Any, inputs: Mapping[str, Any], label: str) -> RoleOutcome:
    """Create-or-adopt, then set exactly the declared privileges (one replace)."""
    wanted = {k: str(v) for k, v in (inputs.get("privileges") or {}).items()}
    role_id = norm_guid(inputs.get("role_id") or default_role_id(inputs["name"]))
    # The catalog query and the lookup by id are independent reads: one round trip for both.
    with ThreadPoolExecutor(max_workers=2) as pool:
        catalog = pool.submit(resolve_privileges, client, wanted)
        existing = pool.submit(client.get_role, role_id)
        resolved = catalog.result()  # fails before any write
        existing.result()
    role, created, bu = find_or_create_role(client, role_id, inputs["name"],
                                            inputs.get("business_unit_id"), label,
                                            known=existing.result())
    actual_id = norm_guid(str(role.role_id))
    if not created and role.name != inputs["name"]:
        progress(f"{label}: renaming role {role.name!r} to {inputs['name']!r}")
        client.rename_role(actual_id, inputs["name"])
    set_privileges(client, actual_id, bu, resolved, label)
    remember_roles(client, [role])  # users of this role in this host need not look it up
    return RoleOutcome(actual_id, bu, adopted=not created, created=created,
                       managed=bool(role.is_managed), name=inputs["name"],
                       privileges=dict(sorted(wanted.items())))


def set_privileges(client: Any, role_id: str, bu: str, resolved: Mapping[str, tuple[str, str]],
                   label: str) -> None:
    progress(f"{label}: setting {len(resolved)} privileges on role {role_id}")
    client.replace_role_privileges(role_id, dict(resolved.values()), business_unit_id=bu)


def read_role(client: Any, role_id: str) -> tuple[Any, dict[str, str]] | None:
    """The live role and its privileges (name -> depth), or None when the role is gone.
    One HTTP request: ``roles(<id>)`` and ``RetrieveRolePrivilegesRole`` in one ``$batch``."""
    live = client.get_role_with_privileges(role_id)
    if live is None:
        return None
    role, role_privileges = live
    privileges: dict[str, str] = {}
    for rp in role_privileges:
        name = str(rp.privilege_name or rp.privilege_id)
        privileges[name] = norm_depth(rp.depth) or str(rp.depth)
    return role, dict(sorted(privileges.items()))


# --- provider ---------------------------------------------------------------------------------


def _old_digest(olds: Mapping[str, Any]) -> str | None:
    """The digest of the privileges last applied; state written before the digest was kept
    holds the map itself, which is hashed the same way."""
    if olds.get("privileges_sha256"):
        return str(olds["privileges_sha256"])
    if isinstance(olds.get("privileges"), Mapping):
        return privileges_digest(olds["privileges"])
    return None


#: The keys of the ``solution`` input that identify what is installed (``package_path`` only
#: tells check() where the package's customizations.xml is; a moved checkout is no change).
SOLUTION_KEYS = ("unique_name", "version", "sha256")


def solution_identity(value: Any) -> tuple[Any, ...] | None:
    if not isinstance(value, Mapping):
        return None
    return tuple(str(value.get(k) or "").lower() if k == "sha256" else value.get(k) for k in SOLUTION_KEYS)


def _describe_solution(value: Any) -> str:
    if not isinstance(value, Mapping):
        return "none recorded"
    return f"{value.get('unique_name')} {value.get('version')} (sha256 {str(value.get('sha256') or '')[:12]}...)"


def privilege_drift(live: Mapping[str, str], wanted: Mapping[str, str]) -> tuple[list[str], list[str], list[str]]:
    """(missing, extra, at another depth) of the live privileges against the wanted ones."""
    have = {k.lower(): (k, v) for k, v in live.items()}
    want = {k.lower(): (k, v) for k, v in wanted.items()}
    missing = sorted(want[k][0] for k in want.keys() - have.keys())
    extra = sorted(have[k][0] for k in have.keys() - want.keys())
    depth = sorted(f"{want[k][0]} {have[k][1]} -> {want[k][1]}" for k in want.keys() & have.keys()
                   if (norm_depth(have[k][1]) or have[k][1]) != (norm_depth(want[k][1]) or want[k][1]))
    return missing, extra, depth


def _package_allowed(solution: Any) -> dict[str, tuple[str, ...]]:
    """Privileges the solution's package creates (lower-case name -> allowed depths), or {}."""
    if not isinstance(solution, Mapping) or not isinstance(solution.get("package_path"), str):
        return {}
    from infra.model.solution_package import PackageError, package_privileges, read_package
    from infra.providers.solution_import import resolve_package_path

    try:
        info = read_package(resolve_package_path(solution["package_path"]))
    except PackageError:
        return {}  # SolutionImport's check reports an unreadable package
    return {k.lower(): v for k, v in package_privileges(info).items()}


class SecurityRoleProvider(DataverseProvider):
    resource_label = "SecurityRole"
    fields = (FieldRule("name"), FieldRule("privileges"), FieldRule("delete_on_destroy"),
              FieldRule("solution"),
              FieldRule("role_id", replace=True), FieldRule("business_unit_id", replace=True))

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Also resolve privilege names and depths at preview (credentials present), so a role file
        the environment cannot take is refused before the solution import -- not after it.

        Privileges the solution about to be imported adds come from its package's
        customizations.xml, so a first deployment previews cleanly.  Skipped when the privileges
        equal the ones already applied (a no-op run costs no request)."""
        result = super().check(olds, news)
        if result.failures:
            return result
        inputs = result.inputs
        privileges, connection = inputs.get("privileges"), inputs.get("connection")
        if not isinstance(privileges, Mapping) or any(is_unknown(v) for v in privileges.values()):
            return result
        if isinstance(olds.get("privileges"), Mapping) and \
                privileges_digest(olds["privileges"]) == privileges_digest(privileges):
            return result
        if not isinstance(connection, Mapping) or any(is_unknown(v) for v in connection.values()):
            return result
        try:
            if not credentials_available(connection_of(inputs)):
                return result
            found = catalog_privileges(client_for(inputs), privileges)
        except (ClientError, ProviderFailure) as exc:
            warn(f"role {inputs.get('name')!r}: privileges not checked in preview: {exc}")
            return result
        allowed = {**_package_allowed(inputs.get("solution")),
                   **{k: allowed_depths(v) for k, v in found.items()}}
        problems = privilege_problems({k: str(v) for k, v in privileges.items()}, allowed)
        if problems:
            source = ""
            if isinstance(inputs.get("solution"), Mapping):
                source = f" and the tables of the package {inputs['solution'].get('package_path')} (not imported yet)"
            result.failures.append(CheckFailure("privileges", (
                f"role {inputs.get('name')!r}: {'; '.join(problems)} -- checked against the environment's "
                f"privilege catalog{source}; depths are Basic, Local, Deep, Global. Fix the role file; "
                "nothing was changed.")))
        return result

    def validate(self, news: Mapping[str, Any]) -> list[CheckFailure]:
        failures: list[CheckFailure] = []
        name = news.get("name")
        if not is_unknown(name) and (not isinstance(name, str) or not name.strip() or len(name) > 100):
            failures.append(CheckFailure("name", f"role name must be 1-100 characters, got {name!r}"))
        for key in ("role_id", "business_unit_id"):
            value = news.get(key)
            if value is not None and not is_unknown(value) and not is_guid(value):
                failures.append(CheckFailure(key, f"{key} must be a GUID, got {value!r}"))
        privileges = news.get("privileges")
        if is_unknown(privileges):
            return failures
        if not isinstance(privileges, Mapping) or not privileges:
            failures.append(CheckFailure(
                "privileges", "privileges must be a non-empty mapping of privilege name -> depth"))
            return failures
        bad = sorted(f"{k}={v!r}" for k, v in privileges.items()
                     if not is_unknown(v) and norm_depth(v) is None)
        if bad:
            failures.append(CheckFailure(
                "privileges", f"unknown depth for {', '.join(bad)}; allowed: {', '.join(DEPTHS)}"))
        bad_names = sorted(k for k in privileges if not str(k).startswith("prv"))
        if bad_names:
            failures.append(CheckFailure(
                "privileges", f"privilege names start with 'prv' (e.g. prvReadAccount): {', '.join(bad_names)}"))
        solution = news.get("solution")
        if solution is not None and not is_unknown(solution):
            if not isinstance(solution, Mapping) or any(
                    not is_unknown(solution.get(k)) and not isinstance(solution.get(k), str) for k in SOLUTION_KEYS):
                failures.append(CheckFailure(
                    "solution", "solution must be a mapping of unique_name, version and sha256 (strings), "
                    f"got {solution!r}"))
        return failures

    def canonical(self, news: dict[str, Any]) -> dict[str, Any]:
        out = dict(news)
        out["privileges"] = {k: norm_depth(v) or v for k, v in sorted(news["privileges"].items())}
        for key in ("role_id", "business_unit_id"):
            if isinstance(out.get(key), str) and is_guid(out[key]):
                out[key] = norm_guid(out[key])
        out["delete_on_destroy"] = bool(news.get("delete_on_destroy", False))
        return out

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        result = super().diff(_id, olds, news)
        if result.replaces:
            # One role id cannot exist twice: the old role must go before its replacement exists.
            result.delete_before_replace = True
        return result

    def old_input(self, olds: Mapping[str, Any], name: str) -> Any:
        # The output ``role_id`` is the live role's id; the declared one is kept separately.
        if name == "role_id":
            return olds.get("declared_role_id")
        if name == "business_unit_id":
            return olds.get("declared_business_unit_id")
        if name == "privileges":
            return _old_digest(olds)
        return olds.get(name)

    def equal(self, name: str, old: Any, new: Any) -> bool:
        if name == "privileges":  # old is the digest kept in the outputs
            return old == privileges_digest(new)
        if name == "solution":
            return solution_identity(old) == solution_identity(new)
        return old == new

    @staticmethod
    def _outs(inputs: Mapping[str, Any], outcome: RoleOutcome, created: bool) -> dict[str, Any]:
        outs = strip_internal(inputs)
        outs.pop("privileges", None)  # the inputs hold the map; the outputs only its digest
        outs.update({
            "declared_role_id": inputs.get("role_id"),
            "declared_business_unit_id": inputs.get("business_unit_id"),
            "role_id": outcome.role_id, "business_unit_id": outcome.business_unit_id,
            "adopted": not created, "created": created, "managed": outcome.managed,
            "name": outcome.name, "privileges_sha256": privileges_digest(outcome.privileges),
        })
        return outs

    @user_errors("SecurityRole")
    def create(self, props: dict[str, Any]) -> CreateResult:
        client = client_for(props)
        ensure_preflight(connection_of(props), client)
        outcome = reconcile_role(client, props, f"role {props['name']!r}")
        return CreateResult(outcome.role_id, self._outs(props, outcome, outcome.created))

    @user_errors("SecurityRole")
    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        wanted = news.get("privileges") or {}
        label = f"role {news['name']!r}"
        created = bool(olds.get("created"))
        same_privileges = _old_digest(olds) == privileges_digest(wanted)
        solution_changed = not self.equal("solution", olds.get("solution"), news.get("solution"))
        if olds.get("name") == news.get("name") and same_privileges and not solution_changed:
            # Only bookkeeping inputs (delete_on_destroy, connection details) changed.
            outcome = RoleOutcome(id_, str(olds.get("business_unit_id")), not created, created,
                                  bool(olds.get("managed")), news["name"], dict(sorted(wanted.items())))
            return UpdateResult(self._outs(news, outcome, created))
        client = client_for(news)
        ensure_preflight(connection_of(news), client)
        # A changed solution may have reset the role's privileges to the package's (a managed
        # upgrade does): read them back with the role and re-apply the role file if they differ.
        reread = solution_changed and same_privileges
        with ThreadPoolExecutor(max_workers=2) as pool:  # independent reads: one round trip
            catalog = pool.submit(resolve_privileges, client, wanted)
            lookup = pool.submit(read_role, client, id_) if reread else pool.submit(client.get_role, id_)
            resolved = catalog.result()
            looked_up = lookup.result()
        live_privileges: dict[str, str] | None = None
        if reread and looked_up is not None:
            role, live_privileges = looked_up
        else:
            role = looked_up
        if role is None:
            raise ProviderFailure(
                f"{label}: role {id_} no longer exists in the environment; run `pulumi refresh` "
                "so the next update creates it again")
        if role.name != news["name"]:
            progress(f"{label}: renaming role {role.name!r} to {news['name']!r}")
            client.rename_role(id_, news["name"])
        bu = norm_guid(str(role.business_unit_id))
        if not same_privileges:
            set_privileges(client, id_, bu, resolved, label)
        elif live_privileges is not None:
            missing, extra, depth = privilege_drift(live_privileges, wanted)
            why = (f"solution changed from {_describe_solution(olds.get('solution'))} to "
                   f"{_describe_solution(news.get('solution'))}")
            if missing or extra or depth:
                progress(f"{label}: {why}; the live privileges differ from the role file "
                         f"({len(missing)} missing, {len(extra)} extra, {len(depth)} at another depth"
                         + "".join(f"; {title}: {', '.join(items)}" for title, items in
                                   (("missing", missing), ("extra", extra), ("depth", depth)) if items)
                         + "); re-applying the role file")
                set_privileges(client, id_, bu, resolved, label)
            else:
                progress(f"{label}: {why}; the live privileges still match the role file")
        remember_roles(client, [role])
        outcome = RoleOutcome(id_, bu, not created, created, bool(role.is_managed),
                              news["name"], dict(sorted(wanted.items())))
        return UpdateResult(self._outs(news, outcome, created))

    @user_errors("SecurityRole")
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        client = client_for(props)
        live = read_role(client, id_)
        if live is None:
            progress(f"role {props.get('name')!r} ({id_}) no longer exists")
            return ReadResult("", {})
        role, privileges = live
        remember_roles(client, [role])
        outs = {k: v for k, v in strip_internal(props).items() if k != "privileges"}
        outs.update({"name": role.name, "privileges_sha256": privileges_digest(privileges),
                     "managed": bool(role.is_managed),
                     "business_unit_id": norm_guid(str(role.business_unit_id))})
        # The inputs carry the full live map, so `pulumi refresh` shows drift per privilege.
        inputs = {"connection": outs["connection"], "name": role.name, "privileges": privileges}
        inputs["delete_on_destroy"] = bool(props.get("delete_on_destroy", False))
        for key, out_key in (("role_id", "declared_role_id"), ("business_unit_id", "declared_business_unit_id")):
            if props.get(out_key):
                inputs[key] = props[out_key]
        return ReadResult(id_, outs, inputs)

    @user_errors("SecurityRole")
    def delete(self, id_: str, props: dict[str, Any]) -> None:
        label = f"role {props.get('name')!r} ({id_})"
        if not props.get("created"):
            progress(f"{label}: left in place (adopted, not created by this stack)")
            return
        if props.get("managed"):
            progress(f"{label}: left in place (managed by a solution)")
            return
        if not props.get("delete_on_destroy"):
            progress(f"{label}: left in place (delete_on_destroy is false)")
            return
        client = client_for(props)
        ensure_preflight(connection_of(props), client)
        forget_role(client, id_)
        try:
            client.delete_role(id_)
        except NotFoundError:
            progress(f"{label}: already gone")
            return
        progress(f"{label}: deleted")


# --- resource ---------------------------------------------------------------------------------


@dataclass
class SecurityRoleArgs:
    """Inputs of a SecurityRole.  ``privileges`` maps Dataverse privilege name -> depth."""

    connection: Mapping[str, Any]
    name: Any
    role_id: Any
    privileges: Mapping[str, str]
    business_unit_id: Any = None
    delete_on_destroy: bool = False
    #: the solution the role comes with: ``unique_name``, ``version``, ``sha256`` (what diff
    #: compares: a changed solution re-applies the role file) and ``package_path`` (where check()
    #: finds the privileges the package's tables add); None when the role has no solution.
    solution: Mapping[str, Any] | None = None


class SecurityRole(pulumi.dynamic.Resource, module="dataverse", name="SecurityRole"):
    """A Dataverse security role holding exactly the declared privileges."""

    role_id: pulumi.Output[str]
    adopted: pulumi.Output[bool]
    created: pulumi.Output[bool]
    managed: pulumi.Output[bool]
    business_unit_id: pulumi.Output[str]
    #: SHA-256 of the applied privilege map (the map itself is in the inputs only)
    privileges_sha256: pulumi.Output[str]
    provider_class = SecurityRoleProvider

    def __init__(self, name: str, args: SecurityRoleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {
            "connection": args.connection, "name": args.name, "role_id": args.role_id,
            "privileges": dict(args.privileges) if isinstance(args.privileges, Mapping) else args.privileges,
            "business_unit_id": args.business_unit_id, "delete_on_destroy": args.delete_on_destroy,
            "solution": dict(args.solution) if isinstance(args.solution, Mapping) else args.solution,
            "adopted": None, "created": None, "managed": None, "privileges_sha256": None,
            "declared_role_id": None, "declared_business_unit_id": None,
        }
        super().__init__(SecurityRoleProvider(), name, props, opts)
