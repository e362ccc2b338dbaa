"""How a role reference (an id, or a name in the root business unit) becomes a role -- and its copy
in a user's business unit -- with a per-process cache.

Dataverse copies every root-business-unit role into each child business unit, and a user can only
be given the copy that lives in its own business unit ("Security roles and privileges", Power
Platform docs).  Per host process and connection we keep roles known to exist (by id), roles found
by name in the root business unit, and role copies in child business units.  A host process lives
for one engine operation (up, refresh, destroy), so a role seen here was seen minutes ago at most;
the SecurityRole provider adds the roles it creates or adopts and forgets the ones it deletes, so
the 2nd..Nth user of a role costs no lookup.  Never stored on the (pickled) provider object.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Mapping

from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.dataverse import DataverseApi, Role
from infra.model.terms import guid, is_guid
from infra.providers.runtime import ProviderFailure

__all__ = ["resolve_roles", "role_copies", "remember_roles", "forget_role", "PARALLEL"]

#: At most this many requests in flight inside one operation (the host runs 4 operations).
PARALLEL = 4

_BY_ID: dict[tuple[EnvironmentEndpoints, str], Role] = {}
_BY_NAME: dict[tuple[EnvironmentEndpoints, str, str], list[Role]] = {}
_COPIES: dict[tuple[EnvironmentEndpoints, str, str], str] = {}
_CACHE_LOCK = threading.Lock()
_LOOKUP_LOCKS: dict[EnvironmentEndpoints, threading.Lock] = {}


def remember_roles(client: DataverseApi, roles: Iterable[Role]) -> None:
    """Record roles read or written elsewhere (SecurityRole create / read) as existing."""
    key = client.connection
    with _CACHE_LOCK:
        for role in roles:
            _BY_ID[(key, role.role_id)] = role


def forget_role(client: DataverseApi, role_id: str) -> None:
    """A role this process deleted: drop every cached entry that points at it."""
    key, rid = client.connection, guid(role_id)
    with _CACHE_LOCK:
        _BY_ID.pop((key, rid), None)
        for k in [k for k, v in _BY_NAME.items() if k[0] == key and any(r.role_id == rid for r in v)]:
            del _BY_NAME[k]
        for k in [k for k, v in _COPIES.items() if k[0] == key and (v == rid or k[1] == rid)]:
            del _COPIES[k]


def _lookup_lock(key: EnvironmentEndpoints) -> threading.Lock:
    with _CACHE_LOCK:
        return _LOOKUP_LOCKS.setdefault(key, threading.Lock())


def _in_root(roles: Iterable[Role], name: str, root_bu: str | None) -> list[Role]:
    return [r for r in roles if r.name.casefold() == name.casefold() and r.business_unit_id == root_bu]


def resolve_roles(client: DataverseApi, refs: Iterable[str], root_bu: str | None, label: str) -> dict[str, Role]:
    """ref -> role (names: in ``root_bu``, the root business unit); unknown or ambiguous refs all
    reported at once in one :class:`ProviderFailure`, before any write.  Everything not cached yet
    is looked up in ONE request; operations running at the same time in this host wait for that
    lookup instead of repeating it."""
    refs = list(refs)
    key = client.connection

    def cached() -> tuple[dict[str, Role | list[Role]], list[str], list[str]]:
        found: dict[str, Role | list[Role]] = {}
        ids: list[str] = []
        names: list[str] = []
        with _CACHE_LOCK:
            for ref in refs:
                hit: Role | list[Role] | None
                if is_guid(ref):
                    hit = _BY_ID.get((key, guid(ref)))
                else:
                    hit = _BY_NAME.get((key, str(root_bu), ref.casefold()))
                if hit is not None:
                    found[ref] = hit
                elif is_guid(ref):
                    ids.append(guid(ref))
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
                        _BY_ID[(key, role.role_id)] = role
                    for name in names:
                        same = _in_root(live, name, root_bu)
                        if len(same) == 1:  # only an unambiguous answer is worth keeping
                            _BY_NAME[(key, str(root_bu), name.casefold())] = same
                found, _, _ = cached()
                for name in names:
                    if name not in found:
                        found[name] = _in_root(live, name, root_bu)
    problems: list[str] = []
    out: dict[str, Role] = {}
    for ref in refs:
        hit = found.get(ref)
        if isinstance(hit, Role):
            out[ref] = hit
        elif is_guid(ref):
            problems.append(f"no role with id {ref}")
        elif not hit:
            problems.append(f"no role named {ref!r} in the root business unit")
        elif len(hit) > 1:
            problems.append(f"{len(hit)} roles named {ref!r} in the root business unit; use its id")
        else:
            out[ref] = hit[0]
    if problems:
        raise ProviderFailure(f"{label}: {'; '.join(problems)} -- nothing was changed")
    return out


def role_copies(client: DataverseApi, roles: Mapping[str, Role], user_bu: str, label: str) -> dict[str, str]:
    """ref -> id of the role copy in ``user_bu`` (the role itself when it lives there); looked up
    in parallel for the copies not cached, :class:`ProviderFailure` when one does not exist (yet)."""
    key = client.connection
    need = {ref: role for ref, role in roles.items() if role.business_unit_id != user_bu}
    out = {ref: role.role_id for ref, role in roles.items() if ref not in need}
    with _CACHE_LOCK:
        for ref in list(need):
            copy_id = _COPIES.get((key, need[ref].root_role_id, user_bu))
            if copy_id is not None:
                out[ref] = copy_id
                del need[ref]

    def one(item: tuple[str, Role]) -> tuple[str, Role | None]:
        ref, role = item
        return ref, client.find_role_copy(role.root_role_id, user_bu)

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        for ref, copy in pool.map(one, need.items()):
            if copy is None:
                raise ProviderFailure(
                    f"{label}: role {ref!r} has no copy in the user's business unit {user_bu}; "
                    "Dataverse copies root roles into child business units automatically, so the "
                    "role may still be being created -- run again shortly")
            out[ref] = copy.role_id
            with _CACHE_LOCK:
                _COPIES[(key, need[ref].root_role_id, user_bu)] = out[ref]
    return out
