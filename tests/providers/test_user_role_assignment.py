"""UserRoleAssignment and ApplicationUser lifecycles through the provider host against the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from devkit.harness import ProviderError, Stack
from emulator.seed import ids
from infra.providers import ApplicationUser, UserRoleAssignment

from .conftest import (
    BC_APP_ID, INTEGRATION_USER_OID, NEW_HIRE_OID, dataverse_requests, describe, salesperson_oid, writes,
)

SALESPERSON = ids.SALESPERSON_ROLE_ID
SALES_MANAGER = ids.SALES_MANAGER_ROLE_ID
SYSADMIN = ids.SYSTEM_ADMINISTRATOR_ROLE_ID
CHILD_BU = ids.CHILD_BUSINESS_UNIT_ID


def user_id_for(emulator: Any, object_id: str) -> str:
    return next(u["systemuserid"] for u in emulator.dataverse.systemusers.values()
                if (u.get("azureactivedirectoryobjectid") or "") == object_id)


def roles_of(emulator: Any, user_id: str) -> set[str]:
    return set(emulator.dataverse.user_role_ids(user_id))


def access(conn: dict, oid: str, roles: list[str], **over: Any) -> dict[str, Any]:
    return {"connection": conn, "object_id": oid, "roles": roles, "wait_timeout_seconds": 2, **over}


def test_user_access_lifecycle(emulator: Any, conn: dict, stack: Stack) -> None:
    oid = salesperson_oid(1)  # holds Salesperson from the seed (not managed by us)
    uid = user_id_for(emulator, oid)
    step = stack.up(UserRoleAssignment, "s1", access(conn, oid, ["Sales Manager"]))
    assert step.op == "create" and step.outputs["systemuser_id"] == uid
    assert roles_of(emulator, uid) == {SALESPERSON, SALES_MANAGER}
    assert step.outputs["managed_role_ids"] == [SALES_MANAGER]

    emulator.clear_log()
    assert stack.up(UserRoleAssignment, "s1", access(conn, oid, ["Sales Manager"])).op == "same"
    assert dataverse_requests(emulator) == []
    # Order and spelling of ids do not matter: roles are a set.
    assert stack.up(UserRoleAssignment, "s1", access(conn, oid, ["Sales Manager"])).op == "same"

    # Replace the declared role: the one we managed goes, the seed's Salesperson stays.
    sysadmin_copy_free = ids.SYSTEM_CUSTOMIZER_ROLE_ID  # System Customizer
    step = stack.up(UserRoleAssignment, "s1", access(conn, oid, [sysadmin_copy_free.upper()]))
    assert step.op == "update"
    assert roles_of(emulator, uid) == {SALESPERSON, sysadmin_copy_free}

    # A role removed in the UI shows on refresh, in outputs and inputs.
    emulator.dataverse.disassociate_role(uid, sysadmin_copy_free)
    refreshed = stack.refresh("s1")
    assert refreshed.outputs["roles"] == [] and refreshed.outputs["role_ids"] == []
    assert stack.inputs("s1")["roles"] == []
    assert stack.up(UserRoleAssignment, "s1", access(conn, oid, [sysadmin_copy_free])).op == "update"
    assert sysadmin_copy_free in roles_of(emulator, uid)

    stack.destroy("s1")
    assert roles_of(emulator, uid) == {SALESPERSON}


def test_child_business_unit_gets_the_role_copy(emulator: Any, conn: dict, stack: Stack) -> None:
    oid = salesperson_oid(27)  # in "Sales West"
    uid = user_id_for(emulator, oid)
    step = stack.up(UserRoleAssignment, "s27", access(conn, oid, ["Sales Manager"]))
    copy_id = step.outputs["role_ids"][0]
    assert copy_id != SALES_MANAGER
    copy = emulator.dataverse.get_role(copy_id)
    assert copy["_businessunitid_value"] == CHILD_BU and copy["_parentrootroleid_value"] == SALES_MANAGER
    assert copy_id in roles_of(emulator, uid)


def test_integration_user_mode_and_sysadmin_refusal(emulator: Any, conn: dict, stack: Stack) -> None:
    uid = user_id_for(emulator, INTEGRATION_USER_OID)
    emulator.clear_log()
    with pytest.raises(ProviderError) as err:
        stack.up(UserRoleAssignment, "iu", access(conn, INTEGRATION_USER_OID, ["System Administrator"],
                                          integration_user=True))
    assert "must not hold the System Administrator role" in err.value.message
    assert writes(emulator) == [], describe(writes(emulator))

    stack.up(UserRoleAssignment, "iu", access(conn, INTEGRATION_USER_OID, ["Salesperson"], integration_user=True))
    user = emulator.dataverse.get_user(uid)
    assert user["accessmode"] == 4 and user["isintegrationuser"] is True
    assert roles_of(emulator, uid) == {SALESPERSON}

    emulator.dataverse.update_user(uid, {"accessmode": 0})
    stack.refresh("iu")
    assert stack.inputs("iu")["integration_user"] is False
    assert stack.up(UserRoleAssignment, "iu", access(conn, INTEGRATION_USER_OID, ["Salesperson"],
                                             integration_user=True)).op == "update"
    assert emulator.dataverse.get_user(uid)["accessmode"] == 4


def test_missing_user_fails_with_likely_causes(emulator: Any, conn: dict, stack: Stack) -> None:
    emulator.clear_log()
    with pytest.raises(ProviderError) as err:
        stack.up(UserRoleAssignment, "nh", access(conn, NEW_HIRE_OID, ["Salesperson"], wait_timeout_seconds=1))
    msg = err.value.message
    assert NEW_HIRE_OID in msg and "licence" in msg and "security group" in msg and "disabled" in msg
    assert writes(emulator) == []
    finds = [r for r in dataverse_requests(emulator) if r.path.endswith("/systemusers")]
    assert 2 <= len(finds) <= 3  # bounded wait with backoff, not a busy loop


def test_unknown_role_reference_is_reported_before_writes(emulator: Any, conn: dict, stack: Stack) -> None:
    emulator.clear_log()
    with pytest.raises(ProviderError) as err:
        stack.up(UserRoleAssignment, "s2", access(conn, salesperson_oid(2),
                                          ["No Such Role", "6b1c2d3e-0000-4000-8000-0000000000ee"]))
    assert "'No Such Role'" in err.value.message and "0000000000ee" in err.value.message
    assert writes(emulator) == []


# --- ApplicationUser ---------------------------------------------------------------------------


def app_inputs(conn: dict, roles: list[str], **over: Any) -> dict[str, Any]:
    return {"connection": conn, "application_id": BC_APP_ID, "roles": roles, **over}


def app_users(emulator: Any) -> list[dict[str, Any]]:
    return [u for u in emulator.dataverse.systemusers.values() if (u.get("applicationid") or "") == BC_APP_ID]


def test_application_user_lifecycle(emulator: Any, conn: dict, stack: Stack) -> None:
    step = stack.up(ApplicationUser, "bc", app_inputs(conn, ["Salesperson"], delete_on_destroy=True))
    assert step.op == "create" and step.outputs["created"] is True
    [user] = app_users(emulator)
    assert user["accessmode"] == 4
    assert user["_businessunitid_value"] == emulator.dataverse.root_business_unit()["businessunitid"]
    assert roles_of(emulator, user["systemuserid"]) == {SALESPERSON}

    emulator.clear_log()
    assert stack.up(ApplicationUser, "bc", app_inputs(conn, ["Salesperson"], delete_on_destroy=True)).op == "same"
    assert dataverse_requests(emulator) == []

    stack.up(ApplicationUser, "bc", app_inputs(conn, ["Sales Manager", "Salesperson"], delete_on_destroy=True))
    assert roles_of(emulator, user["systemuserid"]) == {SALESPERSON, SALES_MANAGER}

    emulator.dataverse.disassociate_role(user["systemuserid"], SALES_MANAGER)
    stack.refresh("bc")
    assert stack.inputs("bc")["roles"] == ["Salesperson"]

    stack.destroy("bc")
    [user] = app_users(emulator)
    assert user["isdisabled"] is True and roles_of(emulator, user["systemuserid"]) == set()


def test_application_user_adopts_and_refuses_duplicates(emulator: Any, conn: dict, stack: Stack) -> None:
    root = emulator.dataverse.root_business_unit()["businessunitid"]
    existing = emulator.dataverse.create_application_user(BC_APP_ID, root)
    step = stack.up(ApplicationUser, "bc", app_inputs(conn, ["Salesperson"], delete_on_destroy=True))
    assert step.outputs["systemuser_id"] == existing["systemuserid"] and step.outputs["created"] is False
    stack.destroy("bc")  # adopted: left alone even with delete_on_destroy
    assert app_users(emulator)[0]["isdisabled"] is False

    # Two active users for one app id (possible through other tools): refuse like Business Central.
    emulator.dataverse.systemusers["6b1c2d3e-0000-4000-8000-0000000000dd"] = {
        **existing, "systemuserid": "6b1c2d3e-0000-4000-8000-0000000000dd"}
    emulator.dataverse.user_roles["6b1c2d3e-0000-4000-8000-0000000000dd"] = []
    with pytest.raises(ProviderError) as err:
        stack.up(ApplicationUser, "bc2", app_inputs(conn, ["Salesperson"]))
    assert "2 active application users" in err.value.message


def test_disabled_application_user_is_re_enabled(emulator: Any, conn: dict, stack: Stack) -> None:
    root = emulator.dataverse.root_business_unit()["businessunitid"]
    old = emulator.dataverse.create_application_user(BC_APP_ID, root, isdisabled=True)
    step = stack.up(ApplicationUser, "bc", app_inputs(conn, ["Salesperson"]))
    assert step.outputs["systemuser_id"] == old["systemuserid"]
    assert emulator.dataverse.get_user(old["systemuserid"])["isdisabled"] is False
    assert len(app_users(emulator)) == 1


def test_soft_deleted_application_user_gets_a_clear_error(emulator: Any, conn: dict, stack: Stack) -> None:
    root = emulator.dataverse.root_business_unit()["businessunitid"]
    ghost = emulator.dataverse.create_application_user(BC_APP_ID, root)
    emulator.dataverse.soft_delete_user(ghost["systemuserid"])
    with pytest.raises(ProviderError) as err:
        stack.up(ApplicationUser, "bc", app_inputs(conn, ["Salesperson"]))
    assert "soft-deleted" in err.value.message and "Power Platform admin center" in err.value.message
    emulator.dataverse.purge_soft_deleted(BC_APP_ID)
    assert stack.up(ApplicationUser, "bc", app_inputs(conn, ["Salesperson"])).outputs["created"] is True


def test_roles_held_before_the_stack_are_never_taken_away(emulator: Any, conn: dict, stack: Stack) -> None:
    oid = salesperson_oid(6)  # already holds Salesperson from the seed
    uid = user_id_for(emulator, oid)
    step = stack.up(UserRoleAssignment, "s6", access(conn, oid, ["Salesperson", "Sales Manager"]))
    assert step.outputs["managed_role_ids"] == [SALES_MANAGER]
    stack.up(UserRoleAssignment, "s6", access(conn, oid, ["Sales Manager"]))  # undeclare the pre-held role
    assert SALESPERSON in roles_of(emulator, uid)
    stack.destroy("s6")
    assert roles_of(emulator, uid) == {SALESPERSON}


def test_unknown_role_creates_no_application_user(emulator: Any, conn: dict, stack: Stack) -> None:
    emulator.clear_log()
    with pytest.raises(ProviderError) as err:
        stack.up(ApplicationUser, "bc", app_inputs(conn, ["No Such Role"]))
    assert "'No Such Role'" in err.value.message
    assert app_users(emulator) == [] and writes(emulator) == []


def test_waits_for_a_newly_licensed_user_to_appear(emulator_factory: Any, stack: Stack) -> None:
    from .conftest import endpoints_for

    # The user stays unprovisioned until the provider has looked once, however late the host gets
    # there (a fixed delay let a slow start find the user at once: a different case).
    emulator = emulator_factory(provisioning_delay_s=3600)
    conn = endpoints_for(emulator)
    emulator.graph.update_user(NEW_HIRE_OID, {"usageLocation": "US"})
    emulator.graph.assign_license(NEW_HIRE_OID, [{"skuId": ids.SALES_SKU_ID}], [])
    stack.host.clear_log()
    emulator.clear_log()

    def provision_after_first_look(record: Any) -> None:
        if record.method == "GET" and record.path.endswith("/systemusers"):
            emulator.settings.provisioning_delay_s = 0

    emulator.on_request(provision_after_first_look)
    step = stack.up(UserRoleAssignment, "nh", access(conn, NEW_HIRE_OID, ["Salesperson"], wait_timeout_seconds=20))
    assert step.outputs["role_ids"] == [SALESPERSON]
    finds = [r for r in dataverse_requests(emulator) if r.path.endswith("/systemusers")]
    assert 2 <= len(finds) <= 3  # 1 s, then 2 s back-off: no busy polling
    assert any("waiting up to 20s" in line for line in stack.host.log)
    assert any("appeared" in line for line in stack.host.log)


def test_disabled_user_is_refused_with_the_reason(emulator: Any, conn: dict, stack: Stack) -> None:
    uid = user_id_for(emulator, salesperson_oid(7))
    emulator.dataverse.update_user(uid, {"isdisabled": True})
    emulator.clear_log()
    with pytest.raises(ProviderError) as err:
        stack.up(UserRoleAssignment, "s7", access(conn, salesperson_oid(7), ["Sales Manager"]))
    assert f"systemuser {uid} is disabled" in err.value.message
    assert writes(emulator) == []
