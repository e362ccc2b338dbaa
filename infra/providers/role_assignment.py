"""Role assignment shared by UserRoleAssignment and ApplicationUser: "this user has these roles".

Why one module: both resources must agree on how a role reference (a role id or a role name)
becomes the role to associate -- the copy that lives in the user's business unit
(:mod:`infra.providers.role_lookup`) -- and on which roles they may remove: only those the
resource itself manages (``managed_role_ids``), never roles someone else assigned.  Neither user
may hold System Administrator (Business Central refuses an administrator as its integration user).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from pulumi.dynamic import CheckFailure

from infra import facts
from infra.clients.dataverse import DataverseApi, Role, SystemUser
from infra.clients.errors import NotFoundError
from infra.model.terms import guid, is_guid
from infra.providers.role_lookup import resolve_roles, role_copies
from infra.providers.runtime import ProviderFailure, is_unknown, progress, root_business_unit_id

__all__ = ["RoleAssignment", "roles_failures", "canonical_roles", "resolve_declared_roles", "assign_roles",
           "wait_for_user_with_roles", "live_assignment", "user_for_update", "held_system_administrator",
           "refuse_held_system_administrator", "refuse_system_administrator", "held_admin_message",
           "forbidden_roles_held"]


# --- inputs ---------------------------------------------------------------------------------


def roles_failures(value: Any, *, allow_empty: bool = False) -> list[CheckFailure]:
    """Check failures for the ``roles`` input: a list of non-empty role ids or names (none while unknown)."""
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
    return sorted({guid(v) if is_guid(v) else v.strip() for v in value})


# --- users ------------------------------------------------------------------------------------


def wait_for_user_with_roles(client: DataverseApi, object_id: str, timeout_s: float, label: str, *,
                             first_look_missed: bool = False) -> tuple[SystemUser, list[Role]]:
    """(systemuser, its roles) for an Entra object id -- one request per look (``$expand``) --
    waiting with backoff (1 s doubling to 15 s) up to ``timeout_s`` seconds: Dataverse creates the
    systemuser only after the user's licence propagates.  ``first_look_missed``: the caller has
    just looked and found nothing, so the first look here comes after the first back-off.  Raises
    :class:`ProviderFailure` naming the likely causes when the time is up."""
    deadline = time.monotonic() + max(0.0, timeout_s)
    delay = 1.0
    waited = False
    skip = first_look_missed
    while True:
        found = None if skip else client.find_user_with_roles_by_object_id(object_id)
        skip = False
        if found is not None:
            if waited:
                progress(f"{label}: systemuser {found[0].systemuser_id} appeared")
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


def _is_system_administrator(role: Role) -> bool:
    return (role.role_template_id or "").lower() == facts.SYSTEM_ADMINISTRATOR_TEMPLATE_ID


def refuse_system_administrator(roles: Mapping[str, Role], label: str) -> None:
    """:class:`ProviderFailure` when a declared role is System Administrator (by role template)."""
    admin = [ref for ref, role in roles.items() if _is_system_administrator(role)]
    if admin:
        raise ProviderFailure(
            f"{label}: the integration user must not hold the System Administrator role "
            f"({', '.join(admin)}); Business Central refuses such a connection. Remove it from roles.")


def held_system_administrator(roles: Iterable[Role]) -> list[Role]:
    """The System Administrator roles (by role template, any business unit's copy) among ``roles``."""
    return [r for r in roles if _is_system_administrator(r)]


def held_admin_message(user: SystemUser, held_admin: Sequence[Role], label: str, who: str,
                       environment_url: str | None = None) -> str:
    """What to say when ``user`` (the integration user or the application user) holds System
    Administrator: the user, the role, why it matters and how to take it away."""
    uid = user.systemuser_id
    name = user.display_name
    roles = ", ".join(f"{r.name!r} ({r.role_id})" for r in held_admin)
    where = f" in {environment_url}" if environment_url else ""
    return (f"{label}: {who} {name} (systemuser {uid}) holds the System Administrator security role "
            f"{roles}{where}. Business Central refuses an administrator as its integration user and "
            "synchronisation would run with administrator rights. Remove the role from this user -- Power "
            "Platform admin center > Environments > the environment > Settings > Users + permissions > "
            "Users > the user > Manage security roles, or DELETE "
            f"systemusers({uid})/systemuserroles_association(<role id>)/$ref -- and run again; this stack "
            "never removes a role it did not assign. Nothing was changed.")


def refuse_held_system_administrator(user: SystemUser, held: Iterable[Role], label: str, who: str,
                                     environment_url: str | None = None) -> None:
    """:class:`ProviderFailure` with :func:`held_admin_message` when ``user`` holds System Administrator."""
    admin = held_system_administrator(held)
    if admin:
        raise ProviderFailure(held_admin_message(user, admin, label, who, environment_url))


def forbidden_roles_held(held: Iterable[Role]) -> list[str]:
    """The ``forbidden_roles_held`` output: ``"<name> (<role id>)"`` per System Administrator role
    held (refresh records it as drift; the policy pack flags it)."""
    return sorted(f"{r.name} ({r.role_id})" for r in held_system_administrator(held))


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
        """The assigned role ids, sorted, each once."""
        return sorted(set(self.role_map.values()))

    def outputs(self) -> dict[str, Any]:
        """The outputs every role-assigning resource records (refresh and delete read them)."""
        return {"role_ids": self.role_ids, "role_map": self.role_map,
                "managed_role_ids": self.managed_role_ids,
                "preexisting_role_ids": self.preexisting_role_ids}


def _associate_all(client: DataverseApi, user_id: str, add: Sequence[str], remove: Sequence[str]) -> None:
    """Additions and removals go as one $batch change set (one plain call for a single one)."""
    if add and remove:
        client.batch_change_roles(user_id, add, remove)
    elif add:
        client.batch_associate(user_id, add)
    elif remove:
        client.batch_disassociate(user_id, remove)


def resolve_declared_roles(client: DataverseApi, refs: Sequence[str], label: str, *,
                           refuse_admin: bool = False) -> dict[str, Role]:
    """Resolve every reference (ids directly, names in the root business unit) -- no writes.

    Callers do this before anything else they write (e.g. creating the application user), so
    a typo in a role name never leaves half a change behind."""
    root_bu = root_business_unit_id(client) if any(not is_guid(r) for r in refs) else None
    roles = resolve_roles(client, refs, root_bu, label)
    if refuse_admin:
        refuse_system_administrator(roles, label)
    return roles


def assign_roles(client: DataverseApi, user: SystemUser, refs: Sequence[str], previously_managed: Iterable[str],
                 label: str, *, refuse_admin: bool = False,
                 resolved: Mapping[str, Role] | None = None,
                 current_roles: Iterable[Role] | None = None,
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
    user_id = user.systemuser_id
    user_bu = user.business_unit_id or ""
    roles = dict(resolved) if resolved is not None else resolve_declared_roles(
        client, refs, label, refuse_admin=refuse_admin)
    role_map = role_copies(client, roles, user_bu, label)
    held = client.user_roles(user_id) if current_roles is None else current_roles
    current = {r.role_id for r in held}
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


def user_for_update(client: DataverseApi, user_id: str, label: str) -> tuple[SystemUser, list[Role]]:
    """(systemuser, its roles) for an update; one request.

    A user that disappeared since the last deployment is a state problem, not something an
    update may paper over by assigning roles to someone else: :class:`ProviderFailure` tells the
    person to refresh."""
    try:
        return client.get_user_with_roles(user_id)
    except NotFoundError:
        raise ProviderFailure(f"{label}: systemuser {user_id} no longer exists; run `pulumi refresh`") from None


def live_assignment(client: DataverseApi, user_id: str, role_map: Mapping[str, str],
                    managed: Iterable[str], current_roles: Iterable[Role] | None = None,
                    ) -> tuple[list[str], list[str], list[str]]:
    """(declared refs still assigned, role ids still assigned, managed ids still assigned);
    ``current_roles`` when the caller has read them, else one request."""
    held = client.user_roles(user_id) if current_roles is None else current_roles
    current = {r.role_id for r in held}
    refs = sorted(ref for ref, rid in role_map.items() if rid in current)
    ids = sorted({rid for rid in role_map.values() if rid in current})
    still = sorted(set(managed) & current)
    return refs, ids, still
