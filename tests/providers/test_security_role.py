"""SecurityRole lifecycle through the provider host against the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from devkit.harness import CheckFailed, ProviderError, Stack
from emulator.seed import ids
from infra.providers import SecurityRole
from infra.providers.security_role import privileges_digest

from .conftest import dataverse_requests, describe, writes

ROLE_ID = "8c8d4f51-a72b-e511-80d9-3863bb349780"
CHILD_BU = ids.CHILD_BUSINESS_UNIT_ID
PRIVS = {"prvReadAccount": "Global", "prvWriteAccount": "Global", "prvReadContact": "Local"}


def role_inputs(conn: dict[str, Any], **over: Any) -> dict[str, Any]:
    return {"connection": conn, "name": "Integration Administrator", "role_id": ROLE_ID,
            "privileges": dict(PRIVS), "delete_on_destroy": False, **over}


def live_privileges(emulator: Any, role_id: str) -> dict[str, str]:
    return {p["PrivilegeName"]: p["Depth"] for p in emulator.dataverse.role_privileges(role_id)}


def test_lifecycle_create_noop_update_refresh_delete(emulator: Any, conn: dict, stack: Stack) -> None:
    step = stack.up(SecurityRole, "ia", role_inputs(conn))
    assert step.op == "create"
    assert step.outputs["role_id"] == ROLE_ID
    assert step.outputs["created"] is True and step.outputs["adopted"] is False
    assert live_privileges(emulator, ROLE_ID) == PRIVS
    assert any("creating role" in line for line in stack.host.log)

    emulator.clear_log()
    again = stack.up(SecurityRole, "ia", role_inputs(conn))
    assert again.op == "same" and again.diff.changes is False
    assert dataverse_requests(emulator) == []  # deployer check cached, diff is local

    changed = {**PRIVS, "prvWriteAccount": "Local", "prvCreateContact": "Basic"}
    step = stack.up(SecurityRole, "ia", role_inputs(conn, privileges=changed))
    assert step.op == "update" and step.diff.replaces == []
    assert live_privileges(emulator, ROLE_ID) == changed

    # Someone edits the role in the UI: refresh shows it in outputs AND inputs.
    emulator.dataverse.set_role_privileges(ROLE_ID, {"prvReadAccount": "Basic"})
    emulator.dataverse.update_role(ROLE_ID, {"name": "Renamed In UI"})
    emulator.clear_log()
    refreshed = stack.refresh("ia")
    assert describe(dataverse_requests(emulator)) == ["POST $batch"]  # role + privileges, one request
    # Outputs keep a digest of the map, the inputs the map itself (drift shows per privilege).
    assert "privileges" not in refreshed.outputs
    assert refreshed.outputs["privileges_sha256"] == privileges_digest({"prvReadAccount": "Basic"})
    assert refreshed.outputs["name"] == "Renamed In UI"
    assert stack.inputs("ia")["privileges"] == {"prvReadAccount": "Basic"}
    preview = stack.preview(SecurityRole, "ia", role_inputs(conn, privileges=changed))
    assert preview.op == "update"
    step = stack.up(SecurityRole, "ia", role_inputs(conn, privileges=changed))
    assert step.op == "update"
    assert live_privileges(emulator, ROLE_ID) == changed
    assert emulator.dataverse.get_role(ROLE_ID)["name"] == "Integration Administrator"

    # Default: destroy keeps the role.
    stack.host.clear_log()
    stack.destroy("ia")
    assert emulator.dataverse.get_role(ROLE_ID)["name"] == "Integration Administrator"
    assert any("left in place (delete_on_destroy is false)" in line for line in stack.host.log)


def test_delete_on_destroy_removes_only_a_role_we_created(emulator: Any, conn: dict, stack: Stack) -> None:
    stack.up(SecurityRole, "ia", role_inputs(conn, delete_on_destroy=True))
    stack.destroy("ia")
    assert ROLE_ID not in emulator.dataverse.roles

    # Adopted by name (another id, created by someone else): never deleted.
    other = emulator.dataverse.create_role(None, "Integration Administrator",
                                           emulator.dataverse.root_business_unit()["businessunitid"])
    step = stack.up(SecurityRole, "ia2", role_inputs(conn, delete_on_destroy=True))
    assert step.outputs["role_id"] == other["roleid"]
    assert step.outputs["adopted"] is True and step.outputs["created"] is False
    assert stack.up(SecurityRole, "ia2", role_inputs(conn, delete_on_destroy=True)).op == "same"
    stack.host.clear_log()
    stack.destroy("ia2")
    assert other["roleid"] in emulator.dataverse.roles
    assert any("left in place (adopted" in line for line in stack.host.log)


def test_adopts_existing_role_by_id(emulator: Any, conn: dict, stack: Stack) -> None:
    root = emulator.dataverse.root_business_unit()["businessunitid"]
    emulator.dataverse.create_role(ROLE_ID, "Integration Administrator", root, managed=True)
    step = stack.up(SecurityRole, "ia", role_inputs(conn, delete_on_destroy=True))
    assert step.outputs["adopted"] is True and step.outputs["managed"] is True
    assert live_privileges(emulator, ROLE_ID) == PRIVS
    stack.destroy("ia")
    assert ROLE_ID in emulator.dataverse.roles
    assert len([r for r in emulator.dataverse.roles.values() if r["name"] == "Integration Administrator"
                and r["_businessunitid_value"] == root]) == 1


def test_bad_privileges_are_rejected_before_any_write(emulator: Any, conn: dict, stack: Stack) -> None:
    bad = {"prvReadAccount": "Global", "prvReadNoSuchTable": "Global", "prvReadProduct": "Basic",
           "prvReadUserEntityUISettings": "Global"}
    emulator.clear_log()
    # Refused in check() (preview, credentials present), before the create: issue 11 kind 8.
    with pytest.raises(CheckFailed) as err:
        stack.up(SecurityRole, "ia", role_inputs(conn, privileges=bad))
    msg = dict(err.value.failures)["privileges"]
    assert "prvReadNoSuchTable" in msg
    assert "prvReadProduct at Basic (allowed: Global)" in msg
    assert "prvReadUserEntityUISettings at Global (allowed: Basic)" in msg
    assert "nothing was changed" in msg
    assert writes(emulator) == [], describe(writes(emulator))
    assert ROLE_ID not in emulator.dataverse.roles


def test_business_unit_change_replaces_and_gone_role_leaves_state(emulator: Any, conn: dict, stack: Stack) -> None:
    stack.up(SecurityRole, "r", role_inputs(conn, name="Regional", role_id=None))
    diff = stack.preview(SecurityRole, "r", role_inputs(conn, name="Regional", role_id=None,
                                                        business_unit_id=CHILD_BU))
    assert diff.op == "replace" and diff.diff.replaces == ["business_unit_id"]
    assert diff.diff.delete_before_replace is True
    diff = stack.preview(SecurityRole, "r", role_inputs(conn, name="Regional",
                                                        role_id="6b1c2d3e-0000-4000-8000-0000000000ff"))
    assert diff.op == "replace" and "role_id" in diff.diff.replaces
    role_id = stack.outputs("r")["role_id"]
    emulator.dataverse.delete_role(role_id)
    assert stack.refresh("r").op == "deleted"
    assert "r" not in stack.state


def test_business_unit_move_of_a_kept_role_is_refused(emulator: Any, conn: dict, stack: Stack) -> None:
    stack.up(SecurityRole, "ia", role_inputs(conn))
    with pytest.raises(ProviderError) as err:  # delete keeps the role, so the new create finds it
        stack.up(SecurityRole, "ia", role_inputs(conn, business_unit_id=CHILD_BU))
    assert "cannot move between business units" in err.value.message
    assert emulator.dataverse.get_role(ROLE_ID)["_businessunitid_value"] != CHILD_BU
