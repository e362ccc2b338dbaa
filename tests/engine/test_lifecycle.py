"""Change, drift, bad config and destroy, through the real engine (issue 10, engine tests 3, 4, 8, 9)."""

from __future__ import annotations

import re

from emulator import Emulator
from emulator.seed import ids
from tests.engine.conftest import EngineStack
from tests.engine.expect import check_local_deployment, held_role_names, systemuser_by_object_id
from tests.program.conftest import emulator_endpoints
from tests.program.test_config import load

INTEGRATION_USER_OID = ids.INTEGRATION_USER_OBJECT_ID
APP_ID = ids.BUSINESS_CENTRAL_APP_ID
SOLUTION = "bcsales_IntegrationStandIn"


def settings_for(emu: Emulator):  # noqa: ANN201 - StackSettings
    return load("local", env=emulator_endpoints(emu))


def changed_privilege_lines(preview_output: str) -> list[str]:
    """The ``~ prv…`` lines of ``pulumi preview --diff`` (one per changed map key)."""
    return [line.strip() for line in preview_output.splitlines() if re.match(r"\s*~ prv\w+\s*:", line)]


def test_one_depth_change_is_named_by_preview_and_applied(engine_stack: EngineStack, emulator: Emulator) -> None:
    engine_stack.up("--skip-preview")
    role_file = engine_stack.project / "roles" / "integration-user.yaml"
    text = role_file.read_text()
    edited = text.replace("quote:                        {verbs: [read], depth: global}",
                          "quote:                        {verbs: [read], depth: local} ")
    assert edited != text, "the role file's quote line moved: update this test"
    role_file.write_text(edited)

    preview = engine_stack.preview("--diff")
    assert changed_privilege_lines(preview.stdout) == ['~ prvReadQuote                       : "Global" => "Local"'], \
        preview.stdout
    assert "1 to update" in preview.stdout and "role-integration-user" in preview.stdout

    engine_stack.up("--skip-preview")
    role_ids = check_local_deployment(emulator.dataverse, settings_for(emulator), engine_stack.project / "roles")
    live = {p["PrivilegeName"]: p["Depth"] for p in emulator.dataverse.role_privileges(role_ids["Integration User"])}
    assert live["prvReadQuote"] == "Local"


def test_refresh_reports_drift_and_up_restores_it(engine_stack: EngineStack, emulator: Emulator) -> None:
    engine_stack.up("--skip-preview")
    dv = emulator.dataverse
    settings = settings_for(emulator)
    role_ids = check_local_deployment(dv, settings, engine_stack.project / "roles")

    # out of band: drop a privilege from Integration User, take a role away from the integration user
    integration_user_role = role_ids["Integration User"]
    dropped = dv.privilege_by_name("prvReadQuote")
    assert dropped is not None
    dv.remove_role_privilege(integration_user_role, dropped["privilegeid"])
    user = systemuser_by_object_id(dv, INTEGRATION_USER_OID)
    dv.disassociate_role(user["systemuserid"], role_ids["Integration Administrator"])

    refresh = engine_stack.refresh()
    drifted = re.findall(r"~ .*dataverse:(\w+) (\S+) updated", refresh.stdout)
    assert sorted(drifted) == [("SecurityRole", "role-integration-user"), ("UserRoleAssignment", "access-integration-user")], \
        refresh.stdout
    preview = engine_stack.preview("--expect-no-changes", check=False)
    assert preview.returncode != 0, "after the drift, preview must plan changes"

    engine_stack.up("--skip-preview")
    check_local_deployment(dv, settings, engine_stack.project / "roles")
    engine_stack.up("--skip-preview", "--expect-no-changes")


def test_a_config_typo_fails_preview_with_one_line_and_no_traceback(engine_stack: EngineStack) -> None:
    engine_stack.config_set("bc-sales:seatChek", "off")
    result = engine_stack.preview(check=False)
    seen = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in seen
    problem_lines = [line.strip() for line in seen.splitlines() if line.strip().startswith("- bc-sales:")]
    assert len(problem_lines) == 1, seen
    assert "seatChek" in problem_lines[0] and "seatCheck" in problem_lines[0], problem_lines


def test_destroy_with_the_local_delete_settings_removes_what_the_stack_made(
        engine_stack: EngineStack, emulator: Emulator) -> None:
    dv = emulator.dataverse
    salesperson = systemuser_by_object_id(dv, ids.salesperson_object_id(1))
    held_before = held_role_names(dv, salesperson["systemuserid"])
    engine_stack.up("--skip-preview")
    engine_stack.destroy()

    assert not [s for s in dv.solutions.values() if s["uniquename"] == SOLUTION and s.get("installedon")]
    # Dataverse keeps application users; "delete" disables the one this stack created, without its roles
    apps = [u for u in dv.systemusers.values() if u.get("applicationid") == APP_ID]
    assert len(apps) == 1 and apps[0]["isdisabled"] is True
    assert held_role_names(dv, apps[0]["systemuserid"]) == []
    integ = systemuser_by_object_id(dv, INTEGRATION_USER_OID)
    assert not {"Integration Administrator", "Integration User"} & set(held_role_names(dv, integ["systemuserid"]))
    assert held_role_names(dv, salesperson["systemuserid"]) == held_before  # roles held before the stack stay
    assert engine_stack.resources() == []


def test_destroy_with_keep_settings_leaves_solution_roles_and_application_user(
        engine_stack: EngineStack, emulator: Emulator) -> None:
    for key in ("solutionUninstallOnDelete", "deleteRolesOnDestroy", "deleteApplicationUserOnDestroy"):
        engine_stack.config_set(f"bc-sales:{key}", "false")
    engine_stack.up("--skip-preview")
    dv = emulator.dataverse
    role_ids = check_local_deployment(dv, settings_for(emulator), engine_stack.project / "roles")
    privileges_before = {rid: dv.role_privileges(rid) for rid in role_ids.values()}
    engine_stack.destroy()

    assert [s for s in dv.solutions.values() if s["uniquename"] == SOLUTION and s.get("installedon")]
    apps = [u for u in dv.systemusers.values() if u.get("applicationid") == APP_ID]
    assert len(apps) == 1
    for rid, before in privileges_before.items():
        assert dv.role_privileges(rid) == before
    assert engine_stack.resources() == []
