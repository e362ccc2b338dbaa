"""SecurityRole: one Dataverse security role and exactly its privileges (from roles/*.yaml).

How a role is found, adopted or created and its privileges set is :mod:`infra.providers.role_reconcile`;
names, depths, the catalog and drift are :mod:`infra.providers.privileges`.  Refresh reads the
role's privileges back so edits made in the UI show as drift.  Delete removes only a role this
stack created, and only when ``delete_on_destroy`` is set; adopted and managed roles are left in
place.  This module keeps the provider class: existing stacks' state names it as
``infra.providers.security_role.SecurityRoleProvider``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Mapping

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckFailure, CreateResult, DiffResult, ReadResult, UpdateResult

from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.dataverse import Role
from infra.clients.errors import ClientError, NotFoundError
from infra.model.terms import PrivilegeDepth, guid, is_guid
from infra.providers.base import (
    DataverseProvider, FieldRule, ProviderFailure, credentials_available, is_unknown, progress, resource_props,
    strip_internal, user_errors, warn,
)
from infra.providers.deployer import checked_client
from infra.providers.privileges import (
    catalog_privileges, package_allowed, privilege_drift, privilege_problems, privileges_digest, resolve_privileges,
    role_depth,
)
from infra.providers.role_lookup import forget_role, remember_roles
from infra.providers.role_reconcile import (
    RoleOutcome, default_role_id, find_or_create_role, read_role, reconcile_role, set_privileges,
)
from infra.providers.runtime import client_for, dataverse_client

__all__ = ["SecurityRole", "SecurityRoleArgs", "SecurityRoleProvider", "RoleOutcome",
           "resolve_privileges", "reconcile_role", "read_role", "default_role_id", "privileges_digest",
           "find_or_create_role"]


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
    """(unique name, version, sha256 lower-cased) of a ``solution`` input; None without one."""
    if not isinstance(value, Mapping):
        return None
    return tuple(str(value.get(k) or "").lower() if k == "sha256" else value.get(k) for k in SOLUTION_KEYS)


def _describe_solution(value: Any) -> str:
    if not isinstance(value, Mapping):
        return "none recorded"
    return f"{value.get('unique_name')} {value.get('version')} (sha256 {str(value.get('sha256') or '')[:12]}...)"


def _report_drift(label: str, why: str, live: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """Say how the live privileges differ from the role file after ``why``; True when they do."""
    missing, extra, depth = privilege_drift(live, wanted)
    if not (missing or extra or depth):
        progress(f"{label}: {why}; the live privileges still match the role file")
        return False
    progress(f"{label}: {why}; the live privileges differ from the role file "
             f"({len(missing)} missing, {len(extra)} extra, {len(depth)} at another depth"
             + "".join(f"; {title}: {', '.join(items)}" for title, items in
                       (("missing", missing), ("extra", extra), ("depth", depth)) if items)
             + "); re-applying the role file")
    return True


class SecurityRoleProvider(DataverseProvider):
    """Reconciles a SecurityRole (see the module docstring); the role id and business unit replace."""

    resource_label = "SecurityRole"
    fields = (FieldRule("name"), FieldRule("privileges"), FieldRule("delete_on_destroy"),
              FieldRule("solution"),
              FieldRule("role_id", replace=True), FieldRule("business_unit_id", replace=True))

    def check_live(self, olds: Mapping[str, Any], inputs: dict[str, Any],
                   connection: EnvironmentEndpoints | None) -> list[CheckFailure]:
        """Also resolve privilege names and depths at preview (credentials present), so a role file
        the environment cannot take is refused before the solution import -- not after it.

        Privileges the solution about to be imported adds come from its package's
        customizations.xml, so a first deployment previews cleanly.  Skipped when the privileges
        equal the ones already applied (a no-op run costs no request)."""
        privileges = inputs.get("privileges")
        if not isinstance(privileges, Mapping) or any(is_unknown(v) for v in privileges.values()):
            return []
        if isinstance(olds.get("privileges"), Mapping) and \
                privileges_digest(olds["privileges"]) == privileges_digest(privileges):
            return []
        if connection is None:
            return []
        try:
            if not credentials_available(connection):
                return []
            found = catalog_privileges(dataverse_client(connection), privileges)
        except (ClientError, ProviderFailure) as exc:
            warn(f"role {inputs.get('name')!r}: privileges not checked in preview: {exc}")
            return []
        allowed = {**package_allowed(inputs.get("solution")),
                   **{k: v.allowed_depths for k, v in found.items()}}
        problems = privilege_problems({k: str(v) for k, v in privileges.items()}, allowed)
        if not problems:
            return []
        source = ""
        if isinstance(inputs.get("solution"), Mapping):
            source = f" and the tables of the package {inputs['solution'].get('package_path')} (not imported yet)"
        return [CheckFailure("privileges", (
            f"role {inputs.get('name')!r}: {'; '.join(problems)} -- checked against the environment's "
            f"privilege catalog{source}; depths are Basic, Local, Deep, Global. Fix the role file; "
            "nothing was changed."))]

    def validate(self, news: Mapping[str, Any]) -> list[CheckFailure]:
        """name 1-100 characters, GUIDs where ids go, a non-empty map of ``prv...`` names to depths."""
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
                     if not is_unknown(v) and role_depth(v) is None)
        if bad:
            allowed = ", ".join(d.value for d in PrivilegeDepth.role_depths())
            failures.append(CheckFailure("privileges", f"unknown depth for {', '.join(bad)}; allowed: {allowed}"))
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
        """Privileges sorted with depth names, ids lower-cased, delete_on_destroy a bool."""
        out = dict(news)
        out["privileges"] = {k: role_depth(v) or v for k, v in sorted(news["privileges"].items())}
        for key in ("role_id", "business_unit_id"):
            if isinstance(out.get(key), str) and is_guid(out[key]):
                out[key] = guid(out[key])
        out["delete_on_destroy"] = bool(news.get("delete_on_destroy", False))
        return out

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """As the base; a replacement deletes the old role first (one role id cannot exist twice)."""
        result = super().diff(_id, olds, news)
        if result.replaces:
            # One role id cannot exist twice: the old role must go before its replacement exists.
            result.delete_before_replace = True
        return result

    def old_input(self, olds: Mapping[str, Any], name: str) -> Any:
        """Declared ids and the privileges' digest are kept under other output keys."""
        # The output ``role_id`` is the live role's id; the declared one is kept separately.
        if name == "role_id":
            return olds.get("declared_role_id")
        if name == "business_unit_id":
            return olds.get("declared_business_unit_id")
        if name == "privileges":
            return _old_digest(olds)
        return olds.get(name)

    def equal(self, name: str, old: Any, new: Any) -> bool:
        """Privileges compare by digest, the solution by :func:`solution_identity`."""
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
        """Find or create the role and set exactly its privileges (:func:`reconcile_role`)."""
        client = checked_client(props)
        outcome = reconcile_role(client, props, f"role {props['name']!r}")
        return CreateResult(outcome.role_id, self._outs(props, outcome, outcome.created))

    @user_errors("SecurityRole")
    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Rename, set changed privileges, and after a solution change re-apply the role file when
        the live privileges differ from it (a managed upgrade resets them); no request when only
        bookkeeping inputs changed."""
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
        client = checked_client(news)
        # A changed solution may have reset the role's privileges to the package's (a managed
        # upgrade does): read them back with the role and re-apply the role file if they differ.
        reread = solution_changed and same_privileges
        role: Role | None
        live_privileges: dict[str, str] | None = None
        with ThreadPoolExecutor(max_workers=2) as pool:  # independent reads: one round trip
            catalog = pool.submit(resolve_privileges, client, wanted)
            if reread:
                with_privileges = pool.submit(read_role, client, id_)
                resolved = catalog.result()
                role, live_privileges = with_privileges.result() or (None, None)
            else:
                alone = pool.submit(client.get_role, id_)
                resolved = catalog.result()
                role = alone.result()
        if role is None:
            raise ProviderFailure(
                f"{label}: role {id_} no longer exists in the environment; run `pulumi refresh` "
                "so the next update creates it again")
        if role.name != news["name"]:
            progress(f"{label}: renaming role {role.name!r} to {news['name']!r}")
            client.rename_role(id_, news["name"])
        bu = role.business_unit_id or ""
        if not same_privileges:
            set_privileges(client, id_, bu, resolved, label)
        elif live_privileges is not None:
            why = (f"solution changed from {_describe_solution(olds.get('solution'))} to "
                   f"{_describe_solution(news.get('solution'))}")
            if _report_drift(label, why, live_privileges, wanted):
                set_privileges(client, id_, bu, resolved, label)
        remember_roles(client, [role])
        outcome = RoleOutcome(id_, bu, not created, created, bool(role.is_managed),
                              news["name"], dict(sorted(wanted.items())))
        return UpdateResult(self._outs(news, outcome, created))

    @user_errors("SecurityRole")
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """The live role and its privileges (one request); the inputs carry the live map."""
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
                     "business_unit_id": role.business_unit_id})
        # The inputs carry the full live map, so `pulumi refresh` shows drift per privilege.
        inputs = {"connection": outs["connection"], "name": role.name, "privileges": privileges}
        inputs["delete_on_destroy"] = bool(props.get("delete_on_destroy", False))
        for key, out_key in (("role_id", "declared_role_id"), ("business_unit_id", "declared_business_unit_id")):
            if props.get(out_key):
                inputs[key] = props[out_key]
        return ReadResult(id_, outs, inputs)

    @user_errors("SecurityRole")
    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Delete only a role this stack created, unmanaged, with delete_on_destroy set."""
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
        client = checked_client(props)
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
        """Register the resource (outputs: role_id, adopted, created, managed, privileges_sha256, ...)."""
        props = resource_props(args, ("adopted", "created", "managed", "privileges_sha256", "declared_role_id",
                                      "declared_business_unit_id"))
        for key in ("privileges", "solution"):  # a plain dict, whatever mapping the program passed
            if isinstance(props[key], Mapping):
                props[key] = dict(props[key])
        super().__init__(SecurityRoleProvider(), name, props, opts)
