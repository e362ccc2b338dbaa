"""Publicly reported failure kinds (issue 11), each replayed through the provider host against the
emulator: the smallest input that used to fail, and what must happen instead.

Kinds covered here (the licensing kinds live in tests/program/test_licensing_faults.py):
3 rerun while an earlier import runs, 4 a solution upgrade undoes the role files, 5 same version
with different bytes, 6 an integration user that already holds System Administrator, 7 an
environment in administration mode, 8 privilege names and depths checked at preview.
"""

from __future__ import annotations


from pathlib import Path
from typing import Any

import pytest

from devkit.harness import CheckFailed, ProviderError, Stack
from infra.providers import SolutionImport

from .conftest import dataverse_requests, end_when_followed, writes
from .test_solution_import import installed, package, sol_inputs


def _imports(emulator: Any) -> list[dict[str, Any]]:
    return [o for o in emulator.dataverse.asyncoperations.values() if o.get("emu_kind") in ("import", "upgrade")]


def _add_table(folder: Path, schema: str) -> None:
    """Change a package's bytes (one more table) without touching its version."""
    xml = (folder / "customizations.xml").read_text(encoding="utf-8")
    entity = (f"<Entity><Name LocalizedName=\"{schema}\" OriginalName=\"{schema}\">{schema}</Name><EntityInfo>"
              f"<entity Name=\"{schema}\"><OwnershipTypeMask>UserOwned</OwnershipTypeMask>"
              "<IsCustomizable>1</IsCustomizable></entity></EntityInfo></Entity>")
    (folder / "customizations.xml").write_text(xml.replace("<Entities>", "<Entities>" + entity, 1), encoding="utf-8")


# --- kind 3: rerun while an earlier import is still running ------------------------------------------------


def test_rerun_while_our_import_runs_waits_for_it_and_adopts_it(
        emulator: Any, conn: dict, stack: Stack, tmp_path: Path) -> None:
    """The import outlasts the 1 s time-out: the first up stops with "still running"; an
    immediate rerun must not start a second import (Dataverse refuses it with 0x80071151); a
    rerun with time to spare waits for the earlier import and adopts what it installed.  (The
    import lasts until the third up follows it, so a slow machine cannot change the case.)"""
    emulator.settings.import_seconds = 3600.0
    path = package(tmp_path, "1.0.0.0")
    with pytest.raises(ProviderError) as first:
        stack.up(SolutionImport, "sol", sol_inputs(conn, path, timeout_seconds=1))
    assert "still running after 1s" in first.value.message

    with pytest.raises(ProviderError) as second:
        stack.up(SolutionImport, "sol", sol_inputs(conn, path, timeout_seconds=1))
    message = second.value.message
    assert "still running after 1s" in message and "no second import was started" in message, message
    assert "0x80071151" not in message and "Cannot start another" not in message
    assert len(_imports(emulator)) == 1

    [op] = [o for o in emulator.dataverse.asyncoperations.values() if o.get("emu_kind") == "import"]
    emulator.settle()  # a poll of the earlier ups still in flight must not end the import
    end_when_followed(emulator, op)
    step = stack.up(SolutionImport, "sol", sol_inputs(conn, path, timeout_seconds=30))
    assert step.op == "create" and step.outputs["adopted"] is True
    assert step.outputs["installed_version"] == "1.0.0.0" and installed(emulator)["version"] == "1.0.0.0"
    assert len(_imports(emulator)) == 1  # never a second import
    assert any("adopting it" in line for line in stack.host.log)


def test_rerun_reports_the_failure_of_our_earlier_import_instead_of_starting_another(
        emulator: Any, conn: dict, stack: Stack, tmp_path: Path) -> None:
    import io
    import shutil

    from infra.model.solution_package import pack_source
    from emulator.dataverse import solutions
    from emulator.dataverse.solution_zip import read_package as emulator_read

    path = package(tmp_path, "1.0.0.0")
    broken = tmp_path / "broken"
    shutil.copytree(path, broken)
    xml = (broken / "solution.xml").read_text(encoding="utf-8").replace(
        "<MissingDependencies />",
        '<MissingDependencies><MissingDependency><Required type="1" schemaName="bcbi_basetable" '
        'solution="bcbi_CdsBaseIntegration (1.0.0.0)" /><Dependent type="1" schemaName="nav_connection" />'
        "</MissingDependency></MissingDependencies>")
    (broken / "solution.xml").write_text(xml, encoding="utf-8")
    data = pack_source(broken)
    # An earlier import of ours, sent without staging (CustomizationFile), that will fail.  It ends
    # only once the rerun is seen following it, however slow the machine is (a fixed duration let a
    # loaded CI machine reach the rerun after the import had already failed: a different case).
    op = solutions.start_import(emulator.dataverse, emulator_read(io.BytesIO(data), size=len(data)),
                                duration=3600)
    end_when_followed(emulator, op)
    with pytest.raises(ProviderError) as err:
        stack.up(SolutionImport, "sol", sol_inputs(conn, path, timeout_seconds=30))
    assert "the earlier import of bcsales_IntegrationStandIn" in err.value.message
    assert "failed" in err.value.message and "no new import was started" in err.value.message
    assert len(_imports(emulator)) == 1 and installed(emulator) is None


# --- kind 5: same version, different bytes ------------------------------------------------------------------


def test_managed_package_with_new_bytes_but_the_same_version_is_refused_at_preview(
        emulator: Any, conn: dict, stack: Stack, tmp_path: Path) -> None:
    path = package(tmp_path, "1.0.0.0", managed=True)
    before = sol_inputs(conn, path)
    stack.up(SolutionImport, "sol", before)
    _add_table(path, "nav_newtable")
    after = sol_inputs(conn, path)
    assert after["sha256"] != before["sha256"] and after["version"] == before["version"]

    emulator.clear_log()
    with pytest.raises(CheckFailed) as err:
        stack.preview(SolutionImport, "sol", after)
    reason = dict(err.value.failures)["sha256"]
    for part in ("version 1.0.0.0 is installed in the environment", "is version 1.0.0.0 too",
                 before["sha256"], after["sha256"], "raise the version", "1.0.0.1", "Nothing was changed"):
        assert part in reason, (part, reason)
    with pytest.raises(CheckFailed):
        stack.up(SolutionImport, "sol", after)
    assert writes(emulator) == []
    assert not any(p["name"].lower() == "prvreadnav_newtable" for p in emulator.dataverse.privileges.values())


def test_unmanaged_package_with_new_bytes_but_the_same_version_is_imported_again(
        emulator: Any, conn: dict, stack: Stack, tmp_path: Path) -> None:
    path = package(tmp_path, "1.0.0.0", managed=False)
    stack.up(SolutionImport, "sol", sol_inputs(conn, path))
    _add_table(path, "nav_newtable")
    emulator.clear_log()
    step = stack.up(SolutionImport, "sol", sol_inputs(conn, path))
    assert step.op == "update" and step.outputs["adopted"] is False
    paths = [f"{r.method} {r.path.rsplit('/', 1)[-1]}" for r in dataverse_requests(emulator)]
    assert "POST ImportSolutionAsync" in paths and "POST PublishAllXml" in paths
    assert any(p["name"].lower() == "prvreadnav_newtable" for p in emulator.dataverse.privileges.values())
    assert len(_imports(emulator)) == 2


# --- kinds 4 and 8: the roles and the solution ---------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def _solution(path: Path) -> dict[str, Any]:
    from infra.model.solution_package import read_package

    info = read_package(path)
    return {"unique_name": info.unique_name, "version": info.version, "sha256": info.sha256,
            "package_path": str(path)}


def _role_inputs(conn: dict, path: Path) -> dict[str, dict[str, Any]]:
    """The three role files as SecurityRole inputs, the way the program builds them."""
    from infra.model.roles import load_roles

    return {f"role-{spec.role_id}": {"connection": conn, "name": spec.name, "role_id": spec.role_id,
                                     "privileges": dict(spec.privileges), "solution": _solution(path)}
            for spec in load_roles(ROOT / "roles")}


def _live(emulator: Any, role_id: str) -> dict[str, str]:
    return {p["PrivilegeName"].lower(): p["Depth"] for p in emulator.dataverse.role_privileges(role_id)}


def _wanted(inputs: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): v for k, v in inputs["privileges"].items()}


def test_a_solution_upgrade_makes_every_role_reapply_its_file_in_the_same_up(
        emulator: Any, conn: dict, stack: Stack, tmp_path: Path) -> None:
    from infra.providers import SecurityRole

    v1 = package(tmp_path, "1.0.0.0")
    stack.up(SolutionImport, "sol", sol_inputs(conn, v1))
    for name, inputs in _role_inputs(conn, v1).items():
        stack.up(SecurityRole, name, inputs)
        assert _live(emulator, inputs["role_id"]) == _wanted(inputs)

    # Upgrade to 1.1.0.0 with roles/ unchanged: the managed upgrade resets the package's roles
    # to the package's (partial) privileges -- some missing, one extra, one at another depth.
    v2 = package(tmp_path, "1.1.0.0")
    assert stack.up(SolutionImport, "sol", sol_inputs(conn, v2)).op == "update"
    after = _role_inputs(conn, v2)
    assert any(_live(emulator, i["role_id"]) != _wanted(i) for i in after.values())

    stack.host.clear_log()
    for name, inputs in after.items():
        preview = stack.preview(SecurityRole, name, inputs)
        assert preview.op == "update", name  # the diff names the changed `solution` input
        assert stack.inputs(name)["solution"]["version"] == "1.0.0.0"
        assert stack.up(SecurityRole, name, inputs).op == "update"
        assert _live(emulator, inputs["role_id"]) == _wanted(inputs), name
    assert any("solution changed from bcsales_IntegrationStandIn 1.0.0.0" in line and "to bcsales_IntegrationStandIn 1.1.0.0"
               in line and "re-applying the role file" in line for line in stack.host.log), stack.host.log

    # Nothing changed since: no request at all.
    emulator.clear_log()
    for name, inputs in after.items():
        assert stack.up(SecurityRole, name, inputs).op == "same"
    assert dataverse_requests(emulator) == []


def test_role_privilege_names_and_depths_are_checked_at_preview_before_the_import(
        emulator: Any, conn: dict, stack: Stack, tmp_path: Path) -> None:
    from infra.providers import SecurityRole

    path = package(tmp_path, "1.0.0.0")  # a first deployment: the solution is not imported yet
    bad = {"connection": conn, "name": "Integration User", "role_id": "6f960e32-a72b-e511-80d9-3863bb349780",
           "privileges": {"prvReadProduct": "Basic", "prvReadnav_connection": "Global",
                          "prvReadNoSuchTable": "Global"},
           "solution": _solution(path)}
    emulator.clear_log()
    with pytest.raises(CheckFailed) as err:
        stack.preview(SecurityRole, "role", bad)
    reason = dict(err.value.failures)["privileges"]
    assert "prvReadProduct at Basic (allowed: Global)" in reason, reason
    assert "unknown privilege name(s): prvReadNoSuchTable" in reason and "prvReadnav_connection" not in reason
    assert "not imported yet" in reason and "nothing was changed" in reason
    assert writes(emulator) == [] and installed(emulator) is None

    # The real role files preview cleanly although the nav_* privileges arrive with the import.
    for name, inputs in _role_inputs(conn, path).items():
        assert stack.preview(SecurityRole, name, inputs).op == "create", name
    assert writes(emulator) == []


# --- kind 6: the integration user already holds System Administrator --------------------------------------


def _systemuser(emulator: Any, object_id: str) -> str:
    return next(u["systemuserid"] for u in emulator.dataverse.systemusers.values()
                if u.get("azureactivedirectoryobjectid") == object_id)


def _sysadmin_role(emulator: Any) -> dict[str, Any]:
    from .conftest import SYSADMIN_TEMPLATE

    root = emulator.dataverse.root_business_unit()["businessunitid"]
    return next(r for r in emulator.dataverse.roles.values()
                if r["_roletemplateid_value"] == SYSADMIN_TEMPLATE and r["_businessunitid_value"] == root)


def test_an_integration_user_that_already_holds_system_administrator_is_refused_and_reported(
        emulator: Any, conn: dict, stack: Stack) -> None:
    from infra.providers import UserRoleAssignment

    from .conftest import INTEGRATION_USER_OID

    uid = _systemuser(emulator, INTEGRATION_USER_OID)
    admin = _sysadmin_role(emulator)
    emulator.dataverse.associate_role(uid, admin["roleid"])  # given by hand
    inputs = {"connection": conn, "object_id": INTEGRATION_USER_OID, "roles": ["Salesperson"],
              "integration_user": True}
    emulator.clear_log()
    with pytest.raises(CheckFailed) as err:
        stack.preview(UserRoleAssignment, "access", inputs)
    reason = dict(err.value.failures)["roles"]
    for part in (uid, "the integration user", "System Administrator", admin["roleid"], "Manage security roles",
                 f"systemusers({uid})/systemuserroles_association", "Nothing was changed"):
        assert part in reason, (part, reason)
    # Create refuses too (a host that runs it without the check, e.g. no credentials at preview).
    checked = stack.host.check(UserRoleAssignment, "access", {}, inputs).inputs
    with pytest.raises(ProviderError) as created:
        stack.host.create(UserRoleAssignment, "access", checked)
    assert "holds the System Administrator security role" in created.value.message
    assert writes(emulator) == []
    assert admin["roleid"] in emulator.dataverse.user_roles[uid]  # never taken away by us

    # Given after the deployment: refresh reports it as drift; the next run refuses.
    emulator.dataverse.disassociate_role(uid, admin["roleid"])
    assert stack.up(UserRoleAssignment, "access", inputs).op == "create"
    assert stack.outputs("access")["forbidden_roles_held"] == []
    emulator.dataverse.associate_role(uid, admin["roleid"])
    stack.host.clear_log()
    refreshed = stack.refresh("access")
    assert refreshed.outputs["forbidden_roles_held"] == [f"System Administrator ({admin['roleid']})"]
    assert "System Administrator" in stack.inputs("access")["roles"]  # drift shows in the diff
    assert any("drift" in line and "System Administrator" in line for line in stack.host.log)
    with pytest.raises(CheckFailed):
        stack.up(UserRoleAssignment, "access", inputs)


def test_an_application_user_that_holds_system_administrator_is_not_adopted(
        emulator: Any, conn: dict, stack: Stack) -> None:
    from infra.providers import ApplicationUser

    from .conftest import BC_APP_ID

    root = emulator.dataverse.root_business_unit()["businessunitid"]
    user = emulator.dataverse.create_application_user(BC_APP_ID, root)
    emulator.dataverse.associate_role(user["systemuserid"], _sysadmin_role(emulator)["roleid"])
    emulator.clear_log()
    with pytest.raises(ProviderError) as err:
        stack.up(ApplicationUser, "app", {"connection": conn, "application_id": BC_APP_ID, "roles": ["Salesperson"]})
    assert "the application user" in err.value.message and "System Administrator" in err.value.message
    assert writes(emulator) == []


# --- kind 7: the environment is in administration mode -----------------------------------------------------


def test_administration_mode_is_reported_by_the_deployer_check_and_refuses_the_integration_identities(
        emulator: Any, conn: dict, fresh_host: Any) -> None:
    from infra.providers import ApplicationUser, DeployerCheck, UserRoleAssignment

    from .conftest import BC_APP_ID, INTEGRATION_USER_OID

    emulator.dataverse.set_administration_mode(True)
    stack = Stack(fresh_host())  # a fresh process: the deployer check reads the mode once
    emulator.clear_log()
    # The deployer check reads the mode (in the background, off the import's critical path) and
    # reports it once per process with what to do.
    assert stack.up(DeployerCheck, "deployer-check", {"connection": conn}).op == "create"
    integration = {"connection": conn, "object_id": INTEGRATION_USER_OID, "roles": ["Salesperson"],
                   "integration_user": True}
    with pytest.raises(CheckFailed) as err:
        Stack(fresh_host()).preview(UserRoleAssignment, "access", integration)  # a preview on its own, too
    with pytest.raises(CheckFailed) as err:
        stack.preview(UserRoleAssignment, "access", integration)
    [report] = [line for line in stack.host.log if "warning: deployer check:" in line and "administration mode" in line]
    assert "Power Platform admin center" in report and "--runtime-state Enabled" in report, stack.host.log
    reason = dict(err.value.failures)["connection"]
    assert "the integration user cannot sign in" in reason and "administration mode" in reason
    assert "Administration mode: Disabled" in reason and "Nothing was changed" in reason
    with pytest.raises(CheckFailed) as err:
        stack.preview(ApplicationUser, "app", {"connection": conn, "application_id": BC_APP_ID,
                                               "roles": ["Salesperson"]})
    assert "the application user cannot sign in" in dict(err.value.failures)["connection"]
    # create refuses too, with the same clear message (a run without the check)
    checked = stack.host.check(UserRoleAssignment, "access", {}, integration).inputs
    with pytest.raises(ProviderError) as created:
        stack.host.create(UserRoleAssignment, "access", checked)
    assert "administration mode" in created.value.message and "HTTP 403" not in created.value.message
    assert writes(emulator) == []

    # A salesperson's access is no integration identity: it goes on in administration mode.
    from .conftest import salesperson_oid

    salesperson = {"connection": conn, "object_id": salesperson_oid(3), "roles": ["Salesperson"]}
    assert stack.up(UserRoleAssignment, "sales03", salesperson).op == "create"
    # Turned off: the integration user's access goes through (a new deployment, a new process).
    emulator.dataverse.set_administration_mode(False)
    assert Stack(fresh_host()).up(UserRoleAssignment, "access", integration).op == "create"


def test_a_non_admin_caller_in_administration_mode_gets_what_to_do_not_a_bare_http_error(
        emulator: Any, conn: dict) -> None:
    from infra.clients.dataverse import DataverseClient
    from infra.clients.errors import AdministrationModeError

    from .conftest import LIMITED

    emulator.dataverse.set_administration_mode(True)
    with pytest.raises(AdministrationModeError) as err:
        DataverseClient.for_connection(conn, env=LIMITED).whoami()
    assert "Admin Only mode" in str(err.value) and "Administration mode: Disabled" in str(err.value)
