"""Reconciling one security role: find or create it, then set exactly the declared privileges.

Create adopts the role with the fixed id, else the role with the same name in the business unit
(root by default), else creates it with the fixed id -- so a rerun after an interrupted create
finds its own role instead of making a duplicate.  Privilege names are resolved in ONE catalog
request before anything is written; the privileges are then set with one ReplacePrivilegesRole.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Mapping

from infra.clients.dataverse import DataverseApi, Role
from infra.clients.errors import AmbiguousOutcomeError, ConflictError
from infra.model.roles import derived_role_id
from infra.model.terms import guid
from infra.providers.privileges import resolve_privileges, role_depth
from infra.providers.role_lookup import remember_roles
from infra.providers.runtime import ProviderFailure, progress, root_business_unit_id

__all__ = ["RoleOutcome", "default_role_id", "find_or_create_role", "reconcile_role", "set_privileges", "read_role"]


@dataclass(frozen=True)
class RoleOutcome:
    """What reconciling a role did: the live role's id and business unit, how it came to be ours
    (adopted or created), whether a solution manages it, its name and the privileges applied."""

    role_id: str
    business_unit_id: str
    adopted: bool
    created: bool
    managed: bool
    name: str
    privileges: dict[str, str] = field(default_factory=dict)


def default_role_id(name: str) -> str:
    """The id of a role declared without one: :func:`infra.model.roles.derived_role_id`, the same
    in every environment (``infra/facts.py`` says why it never changes)."""
    return guid(derived_role_id(name))


_NOT_READ = object()


def find_or_create_role(client: DataverseApi, role_id: str, name: str, business_unit_id: str | None,
                        label: str, known: Any = _NOT_READ) -> tuple[Role, bool, str]:
    """(role, created, business unit id): adopt by id, then by name in the BU, else create.
    ``known``: the answer of ``get_role(role_id)`` when the caller already asked.  Raises
    :class:`ProviderFailure` for a role in another business unit or duplicate names."""
    role = client.get_role(role_id) if known is _NOT_READ else known
    if role is not None:
        actual_bu = role.business_unit_id or ""
        if business_unit_id and actual_bu != guid(business_unit_id):
            raise ProviderFailure(
                f"{label}: role {role_id} exists in business unit {actual_bu}, but business unit "
                f"{guid(business_unit_id)} is declared; a role cannot move between business units. "
                "Declare its current business unit, or delete the role (delete_on_destroy) and run again")
        progress(f"{label}: adopting existing role {role.name!r} ({role_id})")
        return role, False, actual_bu
    bu = guid(business_unit_id) if business_unit_id else root_business_unit_id(client)
    same_name = client.find_roles(name=name, business_unit_id=bu)
    if len(same_name) > 1:
        raise ProviderFailure(
            f"{label}: {len(same_name)} roles named {name!r} exist in business unit {bu} "
            f"({', '.join(r.role_id for r in same_name)}); remove the duplicates or set its id")
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


def reconcile_role(client: DataverseApi, inputs: Mapping[str, Any], label: str) -> RoleOutcome:
    """Create-or-adopt, then set exactly the declared privileges (one replace)."""
    wanted = {k: str(v) for k, v in (inputs.get("privileges") or {}).items()}
    role_id = guid(inputs.get("role_id") or default_role_id(inputs["name"]))
    # The catalog query and the lookup by id are independent reads: one round trip for both.
    with ThreadPoolExecutor(max_workers=2) as pool:
        catalog = pool.submit(resolve_privileges, client, wanted)
        existing = pool.submit(client.get_role, role_id)
        resolved = catalog.result()  # fails before any write
        existing.result()
    role, created, bu = find_or_create_role(client, role_id, inputs["name"],
                                            inputs.get("business_unit_id"), label,
                                            known=existing.result())
    if not created and role.name != inputs["name"]:
        progress(f"{label}: renaming role {role.name!r} to {inputs['name']!r}")
        client.rename_role(role.role_id, inputs["name"])
    set_privileges(client, role.role_id, bu, resolved, label)
    remember_roles(client, [role])  # users of this role in this host need not look it up
    return RoleOutcome(role.role_id, bu, adopted=not created, created=created,
                       managed=bool(role.is_managed), name=inputs["name"],
                       privileges=dict(sorted(wanted.items())))


def set_privileges(client: DataverseApi, role_id: str, bu: str, resolved: Mapping[str, tuple[str, str]],
                   label: str) -> None:
    """Make the role hold exactly ``resolved`` (name -> (privilege id, depth)): one ReplacePrivilegesRole."""
    progress(f"{label}: setting {len(resolved)} privileges on role {role_id}")
    client.replace_role_privileges(role_id, dict(resolved.values()), business_unit_id=bu)


def read_role(client: DataverseApi, role_id: str) -> tuple[Role, dict[str, str]] | None:
    """The live role and its privileges (name -> depth name), or None when the role is gone.
    One HTTP request: ``roles(<id>)`` and ``RetrieveRolePrivilegesRole`` in one ``$batch``."""
    live = client.get_role_with_privileges(role_id)
    if live is None:
        return None
    role, role_privileges = live
    privileges: dict[str, str] = {}
    for rp in role_privileges:
        name = str(rp.privilege_name or rp.privilege_id)
        privileges[name] = role_depth(rp.depth) or str(rp.depth)
    return role, dict(sorted(privileges.items()))
