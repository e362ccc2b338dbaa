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

import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckFailure, CreateResult, DiffResult, ReadResult, UpdateResult

from infra import facts
from infra.clients.errors import AmbiguousOutcomeError, ConflictError, NotFoundError
from infra.providers.base import (
    DataverseProvider, FieldRule, ProviderFailure, client_for, connection_of, is_guid, is_unknown,
    norm_guid, progress, root_business_unit_id, strip_internal, user_errors,
)
from infra.providers.preflight import ensure_preflight

__all__ = ["SecurityRole", "SecurityRoleArgs", "SecurityRoleProvider", "RoleOutcome",
           "resolve_privileges", "reconcile_role", "read_role", "default_role_id"]

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


def resolve_privileges(client: Any, wanted: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """privilege name -> (privilege id, depth), or ProviderFailure listing every bad entry.

    One catalog request for all names; nothing is written here.
    """
    catalog = client.privileges_by_name(sorted(wanted))
    lower = {k.lower(): v for k, v in catalog.items()}
    unknown = sorted(n for n in wanted if n.lower() not in lower)
    bad_depth: list[str] = []
    resolved: dict[str, tuple[str, str]] = {}
    for name, depth in sorted(wanted.items()):
        priv = lower.get(name.lower())
        if priv is None:
            continue
        allowed = allowed_depths(priv)
        if depth not in allowed:
            bad_depth.append(f"{name} at {depth} (allowed: {', '.join(allowed) or 'none'})")
            continue
        resolved[name] = (norm_guid(str(priv.privilege_id)), depth)
    problems = []
    if unknown:
        problems.append(f"unknown privilege name(s): {', '.join(unknown)}")
    if bad_depth:
        problems.append(f"depth not allowed for: {'; '.join(bad_depth)}")
    if problems:
        raise ProviderFailure(
            f"{'; '.join(problems)} -- nothing was changed. Depths are Basic, Local, Deep, Global; "
            "check the role file against the environment's privilege catalog")
    return resolved


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


def find_or_create_role(client: Any, role_id: str, name: str, business_unit_id: str | None,
                        label: str) -> tuple[Any, bool, str]:
    """(role, created, business unit id): adopt by id, then by name in the BU, else create."""
    role = client.get_role(role_id)
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
    resolved = resolve_privileges(client, wanted)  # fails before any write
    role_id = norm_guid(inputs.get("role_id") or default_role_id(inputs["name"]))
    role, created, bu = find_or_create_role(client, role_id, inputs["name"],
                                            inputs.get("business_unit_id"), label)
    actual_id = norm_guid(str(role.role_id))
    if not created and role.name != inputs["name"]:
        progress(f"{label}: renaming role {role.name!r} to {inputs['name']!r}")
        client.rename_role(actual_id, inputs["name"])
    set_privileges(client, actual_id, bu, resolved, label)
    return RoleOutcome(actual_id, bu, adopted=not created, created=created,
                       managed=bool(role.is_managed), name=inputs["name"],
                       privileges=dict(sorted(wanted.items())))


def set_privileges(client: Any, role_id: str, bu: str, resolved: Mapping[str, tuple[str, str]],
                   label: str) -> None:
    progress(f"{label}: setting {len(resolved)} privileges on role {role_id}")
    client.replace_role_privileges(role_id, dict(resolved.values()), business_unit_id=bu)


def read_role(client: Any, role_id: str) -> tuple[Any, dict[str, str]] | None:
    """The live role and its privileges (name -> depth), or None when the role is gone."""
    role = client.get_role(role_id)
    if role is None:
        return None
    privileges: dict[str, str] = {}
    for rp in client.role_privileges(role_id):
        name = str(rp.privilege_name or rp.privilege_id)
        privileges[name] = norm_depth(rp.depth) or str(rp.depth)
    return role, dict(sorted(privileges.items()))


# --- provider ---------------------------------------------------------------------------------


class SecurityRoleProvider(DataverseProvider):
    resource_label = "SecurityRole"
    fields = (FieldRule("name"), FieldRule("privileges"), FieldRule("delete_on_destroy"),
              FieldRule("role_id", replace=True), FieldRule("business_unit_id", replace=True))

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
        return olds.get(name)

    @staticmethod
    def _outs(inputs: Mapping[str, Any], outcome: RoleOutcome, created: bool) -> dict[str, Any]:
        outs = strip_internal(inputs)
        outs.update({
            "declared_role_id": inputs.get("role_id"),
            "declared_business_unit_id": inputs.get("business_unit_id"),
            "role_id": outcome.role_id, "business_unit_id": outcome.business_unit_id,
            "adopted": not created, "created": created, "managed": outcome.managed,
            "name": outcome.name, "privileges": outcome.privileges,
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
        if olds.get("name") == news.get("name") and olds.get("privileges") == wanted:
            # Only bookkeeping inputs (delete_on_destroy, connection details) changed.
            outcome = RoleOutcome(id_, str(olds.get("business_unit_id")), not created, created,
                                  bool(olds.get("managed")), news["name"], dict(sorted(wanted.items())))
            return UpdateResult(self._outs(news, outcome, created))
        client = client_for(news)
        ensure_preflight(connection_of(news), client)
        resolved = resolve_privileges(client, wanted)
        role = client.get_role(id_)
        if role is None:
            raise ProviderFailure(
                f"{label}: role {id_} no longer exists in the environment; run `pulumi refresh` "
                "so the next update creates it again")
        if role.name != news["name"]:
            progress(f"{label}: renaming role {role.name!r} to {news['name']!r}")
            client.rename_role(id_, news["name"])
        bu = norm_guid(str(role.business_unit_id))
        if olds.get("privileges") != wanted:
            set_privileges(client, id_, bu, resolved, label)
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
        outs = {**strip_internal(props), "name": role.name, "privileges": privileges,
                "managed": bool(role.is_managed),
                "business_unit_id": norm_guid(str(role.business_unit_id))}
        inputs = {k: outs[k] for k in ("connection", "name", "privileges")}
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


class SecurityRole(pulumi.dynamic.Resource, module="dataverse", name="SecurityRole"):
    """A Dataverse security role holding exactly the declared privileges."""

    role_id: pulumi.Output[str]
    adopted: pulumi.Output[bool]
    created: pulumi.Output[bool]
    managed: pulumi.Output[bool]
    business_unit_id: pulumi.Output[str]
    privileges: pulumi.Output[dict]
    provider_class = SecurityRoleProvider

    def __init__(self, name: str, args: SecurityRoleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {
            "connection": args.connection, "name": args.name, "role_id": args.role_id,
            "privileges": dict(args.privileges) if isinstance(args.privileges, Mapping) else args.privileges,
            "business_unit_id": args.business_unit_id, "delete_on_destroy": args.delete_on_destroy,
            "adopted": None, "created": None, "managed": None,
            "declared_role_id": None, "declared_business_unit_id": None,
        }
        super().__init__(SecurityRoleProvider(), name, props, opts)
