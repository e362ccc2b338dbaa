"""What the emulator's tables must hold after the ``local`` stack is up, checked table by table.

Shared by the engine tests: the expectations come from the stack's settings (the program's own
config model) and the role files of the project copy, never from the deployment's own outputs.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from infra.model.roles import load_roles
from infra.program.config import StackSettings

INTEGRATION_ROLES = ("Integration Administrator", "Integration User")


def root_role_id(dv: Any, role_id: str) -> str:
    """The root-business-unit role a (possibly child-BU copy) role id belongs to."""
    return dv.roles[role_id].get("_parentrootroleid_value") or role_id


def systemuser_by_object_id(dv: Any, object_id: str) -> dict[str, Any]:
    found = [u for u in dv.systemusers.values() if u.get("azureactivedirectoryobjectid") == object_id]
    assert len(found) == 1, f"{len(found)} systemusers for Entra object {object_id}"
    return found[0]


def held_role_names(dv: Any, user_id: str) -> list[str]:
    return [dv.roles[root_role_id(dv, r)]["name"] for r in dv.user_roles.get(user_id, [])]


def check_local_deployment(dv: Any, settings: StackSettings, roles_dir: Path) -> dict[str, str]:
    """Assert the whole Sales side of the local stack; returns role name -> role id."""
    role_ids: dict[str, str] = {}
    for spec in load_roles(roles_dir):
        same_name = [r for r in dv.roles.values()
                     if r["name"] == spec.name and root_role_id(dv, r["roleid"]) == r["roleid"]]
        assert len(same_name) == 1, f"{len(same_name)} root roles named {spec.name!r}"
        role = same_name[0]
        held = {p["PrivilegeName"]: p["Depth"] for p in dv.role_privileges(role["roleid"])}
        assert held == dict(spec.privileges), spec.name
        role_ids[spec.name] = role["roleid"]

    def check_user(user: dict[str, Any], wanted: set[str], label: str) -> None:
        names = held_role_names(dv, user["systemuserid"])
        duplicates = [n for n, c in Counter(names).items() if c > 1]
        assert not duplicates, f"{label} holds {duplicates} twice"
        assert wanted <= set(names), f"{label}: holds {sorted(names)}, wants {sorted(wanted)}"
        assert "System Administrator" not in names, label

    integ = systemuser_by_object_id(dv, str(settings.integration_user.object_id))
    assert integ["accessmode"] == 4, "integration user is not non-interactive"
    assert integ["isintegrationuser"] is True
    check_user(integ, set(INTEGRATION_ROLES), "integration user")
    for person in settings.salespeople:
        user = systemuser_by_object_id(dv, str(person.object_id))
        check_user(user, set(person.roles) | {"Product Availability User"}, person.user_principal_name)
    app_users = [u for u in dv.systemusers.values() if u.get("applicationid") == settings.application_client_id]
    assert len(app_users) == 1, f"{len(app_users)} application users"
    check_user(app_users[0], set(INTEGRATION_ROLES), "application user")
    return role_ids


def dataverse_writes(emu: Any) -> list[str]:
    """Every request in the emulator's log that could change Dataverse (anything but a GET)."""
    return [f"{r.method} {r.path}" for r in emu.requests if r.path.startswith("/api/data/") and r.method != "GET"]
