"""Role assignment shared by UserAccess and ApplicationUser.

Why one module: both resources hold "this user has these roles" and must agree on how a role
reference (a role id or a role name) becomes the role to associate -- the copy that lives in the
user's business unit -- and on which roles they may remove: only those the resource itself
manages (``managed_role_ids``), never roles someone else assigned.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from pulumi.dynamic import CheckFailure

from infra import facts
from infra.clients.errors import NotFoundError
from infra.providers.base import (
    ProviderFailure, client_for, connection_of, is_guid, is_unknown, norm_guid, progress,
    root_business_unit_id,
)
from infra.providers.preflight import ensure_preflight

__all__ = ["RoleAssignment", "roles_failures", "canonical_roles", "resolve_roles", "assign_roles",
           "wait_for_user", "wait_for_user_with_roles", "user_field", "role_field", "live_assignment",
           "resolve_declared_roles", "remember_roles", "forget_role", "clear_role_cache",
           "user_for_update", "held_system_administrator", "refuse_held_system_administrator",
           "held_admin_message", "forbidden_roles_held"]

#: At most this many requests in flight inside one operation (the host runs 4 operations).
PARALLEL = 4


def user_field(user: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if hasattr(user, name):
            return getattr(user, name)
    return default


def user_id_of(user: Any) -> str:
    return norm_guid(str(user_field(user, "systemuser_id", "user_id", "id")))


def role_field(role: Any, *names: str, default: Any = None) -> Any:
    return user_field(role, *names, default=default)


def role_id_of(role: Any) -> str:
    return norm_guid(str(role.role_id))


def role_bu_of(role: Any) -> str:
    return norm_guid(str(role_field(role, "business_unit_id")))


def role_template_of(role: Any) -> str:
    return str(role.role_template_id or "").lower()


def role_root_of(role: Any) -> str:
    root = role.parent_root_role_id
    return norm_guid(str(root)) if root else role_id_of(role)


# --- inputs ---------------------------------------------------------------------------------


def roles_failures(value: Any, *, allow_empty: bool = False) -> list[CheckFailure]:
    if is_unknown(value):
        return []
    if not isinstance(value, (list, tuple)):
        return [CheckFailure("roles", "roles must be a list of role ids or role names")]
    if not value and not allow_empty:
        return [CheckFailure("roles", "roles is empty: declare at least one role (id or name)")]
    bad = [repr(v) for v in value if not is_unknown(v) and (not isinstance(v, str) or not v.strip())]
    if bad:
        return [CheckFailure("roles", f"role references must be non-empty strings, got {', '.join(bad)}")]
    return []


def canonical_roles(value: Sequence[Any]) -> list[Any]:
    """Role references as a sorted set (ids lower-cased) so reordering is not a change."""
    if any(is_unknown(v) for v in value):
        return list(value)
    return sorted({norm_guid(v) if is_guid(v) else v.strip() for v in value})


# --- users ------------------------------------------------------------------------------------


def wait_for_user(client: Any, object_id: str, timeout_s: float, label: str) -> Any:
    """The systemuser for an Entra object id, waiting with backoff up to ``timeout_s``."""
    return wait_for_user_with_roles(client, object_id, timeout_s, label)[0]


def wait_for_user_with_roles(client: Any, object_id: str, timeout_s: float, label: str, *,
                             first_look_missed: bool = False) -> tuple[Any, list[Any]]:
    """(systemuser, its roles) for an Entra object id -- one request per look (``$expand``) --
    waiting with backoff up to ``timeout_s``.  ``first_look_missed``: the caller has just looked
    and found nothing, so the first look here comes after the first back-off."""
    deadline = time.monotonic() + max(0.0, timeout_s)
    delay = 1.0
    waited = False
    skip = first_look_missed
    while True:
        found = None if skip else client.find_user_with_roles_by_object_id(object_id)
        skip = False
        if found is not None:
            if waited:
                progress(f"{label}: systemuser {user_id_of(found[0])} appeared")
            return found
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ProviderFailure(
                f"{label}: Entra user {object_id} has no systemuser in the environment after "
                f"{timeout_s:.0f}s. Likely causes: no Dynamics 365 licence yet (or it was assigned "
                "minutes ago and is still propagating); the user is not a member of the "
                "environment's security group; the user is disabled or blocked from sign-in. "
                "Fix the cause and run again (or raise wait_timeout_seconds).")
        if not waited:
            progress(f"{label}: waiting up to {timeout_s:.0f}s for the systemuser of {object_id}")
            waited = True
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 15.0)


# --- roles ------------------------------------------------------------------------------------


# Per host process and connection: roles known to exist (by id), roles found by name in the root
# business unit, and role copies in child business units.  A host process lives for one engine
# operation (up, refresh, destroy), so a role seen here was seen minutes ago at most; the
# SecurityRole provider adds the roles it creates or adopts and forgets the ones it deletes, so
# the 2nd..Nth user of a role costs no lookup.  Never stored on the (pickled) provider object.
_BY_ID: dict[tuple[Any, str], Any] = {}
_BY_NAME: dict[tuple[Any, str, str], list[Any]] = {}
_COPIES: dict[tuple[Any, str, str], str] = {}
_CACHE_LOCK = threading.Lock()
_LOOKUP_LOCKS: dict[Any, threading.Lock] = {}


def _conn_key(client: Any) -> Any:
    return client.connection


def clear_role_cache() -> None:
    with _CACHE_LOCK:
        _BY_ID.clear()
        _BY_NAME.clear()
        _COPIES.clear()


def remember_roles(client: Any, roles: Iterable[Any]) -> None:
    """Record roles read or written elsewhere (SecurityRole create / read) as existing."""
    key = _conn_key(client)
    with _CACHE_LOCK:
        for role in roles:
            _BY_ID[(key, role_id_of(role))] = role


def forget_role(client: Any, role_id: str) -> None:
    """A role this process deleted: drop every cached entry that points at it."""
    key, rid = _conn_key(client), norm_guid(role_id)
    with _CACHE_LOCK:
        _BY_ID.pop((key, rid), None)
        for k in [k for k, v in _BY_NAME.items() if k[0] == key and any(role_id_of(r) == rid for r in v)]:
            del _BY_NAME[k]
        for k in [k for k, v in _COPIES.items() if k[0] == key and (v == rid or k[1] == rid)]:
            del _COPIES[k]


def _lookup_lock(key: Any) -> threading.Lock:
    with _CACHE_LOCK:
        return _LOOKUP_LOCKS.setdefault(key, threading.Lock())


def resolve_roles(client: Any, refs: Iterable[str], root_bu: str | None, label: str) -> dict[str, Any]:
    """ref -> role (names: root business unit); unknown refs all reported at once, before any
    write.  Everything not cached yet is looked up in ONE request; operations running at the same
    time in this host wait for that lookup instead of repeating it."""
    refs = list(refs)
    key = _conn_key(client)

    def cached() -> tuple[dict[str, Any], list[str], list[str]]:
        found: dict[str, Any] = {}
        ids: list[str] = []
        names: list[str] = []
        with _CACHE_LOCK:
            for ref in refs:
                if is_guid(ref):
                    hit = _BY_ID.get((key, norm_guid(ref)))
                else:
                    hit = _BY_NAME.get((key, str(root_bu), ref.casefold()))
                if hit is not None:
                    found[ref] = hit
                elif is_guid(ref):
                    ids.append(norm_guid(ref))
                else:
                    names.append(ref)
        return found, ids, names

    found, ids, names = cached()
    if ids or names:
        with _lookup_lock(key):
            found, ids, names = cached()  # another operation may have looked them up meanwhile
            if ids or names:
                assert root_bu is not None or not names
                live = client.roles_by_ids_or_names(ids, names, root_bu)
                with _CACHE_LOCK:
                    for role in live:
                        _BY_ID[(key, role_id_of(role))] = role
                    for name in names:
                        same = [r for r in live if r.name.casefold() == name.casefold()
                                and role_bu_of(r) == root_bu]
                        if len(same) == 1:  # only an unambiguous answer is worth keeping
                            _BY_NAME[(key, str(root_bu), name.casefold())] = same
                found, _, _ = cached()
                for name in names:
                    if name not in found:
                        found[name] = [r for r in live if r.name.casefold() == name.casefold()
                                       and role_bu_of(r) == root_bu]
    problems: list[str] = []
    out: dict[str, Any] = {}
    for ref in refs:
        hit = found.get(ref)
        if is_guid(ref):
            if hit is None:
                problems.append(f"no role with id {ref}")
            else:
                out[ref] = hit
        elif not hit:
            problems.append(f"no role named {ref!r} in the root business unit")
        elif len(hit) > 1:
            problems.append(f"{len(hit)} roles named {ref!r} in the root business unit; use its id")
        else:
            out[ref] = hit[0]
    if problems:
        raise ProviderFailure(f"{label}: {'; '.join(problems)} -- nothing was changed")
    return out


def refuse_system_administrator(roles: Mapping[str, Any], label: str) -> None:
    admin = [ref for ref, role in roles.items()
             if role_template_of(role) == facts.SYSTEM_ADMINISTRATOR_TEMPLATE_ID]
    if admin:
        raise ProviderFailure(
            f"{label}: the integration user must not hold the System Administrator role "
            f"({', '.join(admin)}); Business Central refuses such a connection. Remove it from roles.")


def held_system_administrator(roles: Iterable[Any]) -> list[Any]:
    """The System Administrator roles (by role template, any business unit's copy) among ``roles``."""
    return [r for r in roles if role_template_of(r) == facts.SYSTEM_ADMINISTRATOR_TEMPLATE_ID]


def held_admin_message(user: Any, held_admin: Sequence[Any], label: str, who: str,
                       environment_url: str | None = None) -> str:
    """What to say when ``user`` (the integration user or the application user) holds System
    Administrator: the user, the role, why it matters and how to take it away."""
    uid = user_id_of(user)
    name = user_field(user, "full_name", "fullname", default=None) or user_field(
        user, "domain_name", "domainname", default=None) or uid
    roles = ", ".join(f"{role_field(r, 'name')!r} ({role_id_of(r)})" for r in held_admin)
    where = f" in {environment_url}" if environment_url else ""
    return (f"{label}: {who} {name} (systemuser {uid}) holds the System Administrator security role "
            f"{roles}{where}. Business Central refuses an administrator as its integration user and "
            "synchronisation would run with administrator rights. Remove the role from this user -- Power "
            "Platform admin center > Environments > the environment > Settings > Users + permissions > "
            "Users > the user > Manage security roles, or DELETE "
            f"systemusers({uid})/systemuserroles_association(<role id>)/$ref -- and run again; this stack "
            "never removes a role it did not assign. Nothing was changed.")


def refuse_held_system_administrator(user: Any, held: Iterable[Any], label: str, who: str,
                                     environment_url: str | None = None) -> None:
    admin = held_system_administrator(held)
    if admin:
        raise ProviderFailure(held_admin_message(user, admin, label, who, environment_url))


def forbidden_roles_held(held: Iterable[Any]) -> list[str]:
    """The ``forbidden_roles_held`` output: ``"<name> (<role id>)"`` per System Administrator role
    held (refresh records it as drift; the policy pack flags it)."""
    return sorted(f"{role_field(r, 'name')} ({role_id_of(r)})" for r in held_system_administrator(held))


@dataclass(frozen=True)
class RoleAssignment:
    """What one resource assigned: ref -> assigned role id (the copy in the user's BU)."""

    role_map: dict[str, str]
    managed_role_ids: list[str]
    added: list[str]
    removed: list[str]
    #: roles the user held before this resource first wrote; never ours to take away
    preexisting_role_ids: list[str]

    @property
    def role_ids(self) -> list[str]:
        return sorted(set(self.role_map.values()))

    def outputs(self) -> dict[str, Any]:
        """The outputs every role-assigning resource records (refresh and delete read them)."""
        return {"role_ids": self.role_ids, "role_map": self.role_map,
                "managed_role_ids": self.managed_role_ids,
                "preexisting_role_ids": self.preexisting_role_ids}


def _bu_copies(client: Any, roles: Mapping[str, Any], user_bu: str, label: str) -> dict[str, str]:
    """ref -> id of the role copy in ``user_bu`` (the role itself when it lives there)."""
    key = _conn_key(client)
    need = {ref: role for ref, role in roles.items() if role_bu_of(role) != user_bu}
    out = {ref: role_id_of(role) for ref, role in roles.items() if ref not in need}
    with _CACHE_LOCK:
        for ref in list(need):
            copy_id = _COPIES.get((key, role_root_of(need[ref]), user_bu))
            if copy_id is not None:
                out[ref] = copy_id
                del need[ref]

    def one(item: tuple[str, Any]) -> tuple[str, Any]:
        ref, role = item
        return ref, client.find_role_copy(role_root_of(role), user_bu)

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        for ref, copy in pool.map(one, need.items()):
            if copy is None:
                raise ProviderFailure(
                    f"{label}: role {ref!r} has no copy in the user's business unit {user_bu}; "
                    "Dataverse copies root roles into child business units automatically, so the "
                    "role may still be being created -- run again shortly")
            out[ref] = role_id_of(copy)
            with _CACHE_LOCK:
                _COPIES[(key, role_root_of(need[ref]), user_bu)] = out[ref]
    return out


def _associate_all(client: Any, user_id: str, add: Sequence[str], remove: Sequence[str]) -> None:
    """Additions and removals go as one $batch change set (one plain call for a single one)."""
    if add and remove:
        client.batch_change_roles(user_id, add, remove)
    elif add:
        client.batch_associate(user_id, add)
    elif remove:
        client.batch_disassociate(user_id, remove)


def resolve_declared_roles(client: Any, refs: Sequence[str], label: str, *,
                           refuse_admin: bool = False) -> dict[str, Any]:
    """Resolve every reference (ids directly, names in the root business unit) -- no writes.

    Callers do this before anything else they write (e.g. creating the application user), so
    a typo in a role name never leaves half a change behind."""
    root_bu = root_business_unit_id(client) if any(not is_guid(r) for r in refs) else None
    roles = resolve_roles(client, refs, root_bu, label)
    if refuse_admin:
        refuse_system_administrator(roles, label)
    return roles


def assign_roles(client: Any, user: Any, refs: Sequence[str], previously_managed: Iterable[str],
                 label: str, *, refuse_admin: bool = False,
                 resolved: Mapping[str, Any] | None = None,
                 current_roles: Iterable[Any] | None = None,
                 preexisting: Iterable[str] | None = None) -> RoleAssignment:
    """Give ``user`` the declared roles (BU-correct copies) and drop the ones this resource
    manages but no longer declares.  Every reference is resolved before the first write.

    Ownership is decided by what the user held *before* this resource first wrote
    (``preexisting``, recorded at create): every declared role outside that set is ours, so a
    grant made by an update that then failed is still ours when the update is run again, and a
    role the user already had is declared but never taken away (by a later removal or by
    ``destroy``).  ``preexisting=None`` means "now is the first write" (create), or state written
    before this was recorded, where the roles held but not managed count as preexisting.

    ``current_roles``: the user's roles when the caller has just read them (``$expand``) or knows
    them (a user it created this moment holds none); otherwise they are read here."""
    user_id = user_id_of(user)
    user_bu = norm_guid(str(user_field(user, "business_unit_id")))
    roles = dict(resolved) if resolved is not None else resolve_declared_roles(
        client, refs, label, refuse_admin=refuse_admin)
    role_map = _bu_copies(client, roles, user_bu, label)
    held = client.user_roles(user_id) if current_roles is None else current_roles
    current = {role_id_of(r) for r in held}
    desired = set(role_map.values())
    previously = set(previously_managed)
    before = set(preexisting) if preexisting is not None else current - previously
    add = sorted(desired - current)
    remove = sorted(((previously - desired) & current) - before)
    if add or remove:
        progress(f"{label}: assigning {len(add)} role(s), removing {len(remove)} "
                 f"on systemuser {user_id}")
        _associate_all(client, user_id, add, remove)
    managed = sorted(desired - before)
    return RoleAssignment(dict(sorted(role_map.items())), managed, add, remove, sorted(before))


def user_for_update(props: Mapping[str, Any], user_id: str, label: str) -> tuple[Any, Any, list[Any]]:
    """(client, systemuser, its roles) for an update, after the preflight; one request.

    A user that disappeared since the last deployment is a state problem, not something an
    update may paper over by assigning roles to someone else: the person is told to refresh."""
    client = client_for(props)
    ensure_preflight(connection_of(props), client)
    try:
        user, held = client.get_user_with_roles(user_id)
    except NotFoundError:
        raise ProviderFailure(f"{label}: systemuser {user_id} no longer exists; run `pulumi refresh`") from None
    return client, user, held


def live_assignment(client: Any, user_id: str, role_map: Mapping[str, str],
                    managed: Iterable[str], current_roles: Iterable[Any] | None = None,
                    ) -> tuple[list[str], list[str], list[str]]:
    """(declared refs still assigned, role ids still assigned, managed ids still assigned)."""
    held = client.user_roles(user_id) if current_roles is None else current_roles
    current = {role_id_of(r) for r in held}
    refs = sorted(ref for ref, rid in role_map.items() if rid in current)
    ids = sorted({rid for rid in role_map.values() if rid in current})
    still = sorted(set(managed) & current)
    return refs, ids, still
