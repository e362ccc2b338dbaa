"""DataverseClient operations against the emulator: users, roles, privileges, assignment, paging,
$batch, solutions, and the mapping of each Dataverse error class."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from emulator.dataverse import solutions
from emulator.seed import ids
from infra.clients.dataverse import DataverseClient, RolePrivilege
from infra.clients.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from tests.emulator_tests.testkit import solution_zip

from .conftest import LIMITED_ID, LIMITED_SECRET, secret_env, logged_statuses

ROOT_BU = ids.ROOT_BUSINESS_UNIT_ID
CHILD_BU = ids.CHILD_BUSINESS_UNIT_ID
SALESPERSON = ids.SALESPERSON_ROLE_ID
SALES01_OID = ids.salesperson_object_id(1)
SALES01_USER = ids.salesperson_systemuser_id(1)
SALES26_USER = ids.salesperson_systemuser_id(26)
NEW_ROLE = "6b1c2d3e-0000-4000-8000-0000000ee001"
NEW_ROLE_2 = "6b1c2d3e-0000-4000-8000-0000000ee002"
SYSADMIN_TEMPLATE = ids.SYSTEM_ADMINISTRATOR_TEMPLATE_ID


@pytest.fixture
def dv(conn) -> DataverseClient:
    return DataverseClient.for_connection(conn, env=secret_env())


def paths(emu, suffix: str) -> list[str]:
    return [r.path + ("?" + r.query if r.query else "") for r in emu.requests if r.path.endswith(suffix)]


def test_identity_and_users(dv: DataverseClient) -> None:
    me = dv.whoami()
    assert me.business_unit_id == ROOT_BU == dv.root_business_unit().business_unit_id
    templates = {r.role_template_id for r in dv.user_roles(me.user_id)}
    assert SYSADMIN_TEMPLATE in templates
    user = dv.find_user_by_object_id(SALES01_OID)
    assert user is not None and user.systemuser_id == SALES01_USER and user.business_unit_id == ROOT_BU
    assert dv.find_user_by_object_id("6b1c2d3e-0000-4000-8000-0000000fffff") is None
    dv.update_user(SALES01_USER, {"accessmode": 4})
    assert dv.get_user(SALES01_USER).access_mode == 4
    with pytest.raises(NotFoundError):
        dv.get_user("6b1c2d3e-0000-4000-8000-0000000fffff")
    assert dv.find_users_by_application_id(LIMITED_ID)[0].application_id == LIMITED_ID


def test_paging_is_followed(emulator, dv: DataverseClient) -> None:
    everything = dv.find_roles()
    emulator.clear_log()
    small = DataverseClient(dv.connection, dv.credential, page_size=3)
    paged = small.find_roles()
    assert [r.role_id for r in paged] == [r.role_id for r in everything]
    assert len(everything) > 3
    pages = logged_statuses(emulator, "/roles")
    assert len(pages) == -(-len(everything) // 3)
    assert sum("skiptoken" in p for p in paths(emulator, "/roles")) == len(pages) - 1


def test_role_lifecycle_and_copies(emulator, dv: DataverseClient) -> None:
    role = dv.create_role(NEW_ROLE, "BC Test Role", ROOT_BU)
    assert role.role_id == NEW_ROLE and role.business_unit_id == ROOT_BU and not role.is_managed
    assert dv.find_roles(name="BC Test Role", business_unit_id=ROOT_BU)[0].role_id == NEW_ROLE
    copy = dv.find_role_copy(NEW_ROLE, CHILD_BU)
    assert copy is not None and copy.parent_root_role_id == NEW_ROLE and copy.business_unit_id == CHILD_BU
    dv.rename_role(NEW_ROLE, "BC Test Role 2")
    assert dv.get_role(NEW_ROLE).name == "BC Test Role 2"
    # same id again with another name: a real conflict, surfaced
    with pytest.raises(ConflictError):
        dv.create_role(NEW_ROLE, "Something else", ROOT_BU)
    # same id, same name and BU (a retry after a lost answer): recognised as ours
    assert dv.create_role(NEW_ROLE, "BC Test Role 2", ROOT_BU).role_id == NEW_ROLE
    assert dv.delete_role(NEW_ROLE) is True
    assert dv.get_role(NEW_ROLE) is None
    assert dv.delete_role(NEW_ROLE) is False


def test_privileges_one_request_and_role_privileges(emulator, dv: DataverseClient) -> None:
    dv.create_role(NEW_ROLE, "BC Privileges", ROOT_BU)
    emulator.clear_log()
    names = ["prvReadAccount", "prvWriteAccount", "prvCreateContact", "prvNoSuchThing"]
    found = dv.privileges_by_name(names)
    assert set(found) == {"prvReadAccount", "prvWriteAccount", "prvCreateContact"}
    assert len(logged_statuses(emulator, "/privileges")) == 1
    read, write = found["prvReadAccount"], found["prvWriteAccount"]
    dv.replace_role_privileges(NEW_ROLE, {read.privilege_id: "Global", write.privilege_id: "Basic"}, business_unit_id=ROOT_BU)
    held = {p.privilege_id: p.depth for p in dv.role_privileges(NEW_ROLE)}
    assert held == {read.privilege_id: "Global", write.privilege_id: "Basic"}
    dv.add_role_privileges(NEW_ROLE, [RolePrivilege(write.privilege_id, "Local", business_unit_id=ROOT_BU)])
    assert {p.privilege_id: p.depth for p in dv.role_privileges(NEW_ROLE)}[write.privilege_id] == "Local"
    dv.remove_role_privilege(NEW_ROLE, read.privilege_id)
    assert [p.privilege_id for p in dv.role_privileges(NEW_ROLE)] == [write.privilege_id]


def test_remove_privilege_sends_an_entity_reference(emulator, dv: DataverseClient) -> None:
    """RemovePrivilegeRole's parameter is ``Privilege`` (a privilege entity reference); the
    emulator refuses the bare ``PrivilegeId`` GUID that the real service refuses."""
    dv.create_role(NEW_ROLE, "BC Remove Shape", ROOT_BU)
    read = dv.privileges_by_name(["prvReadAccount"])["prvReadAccount"]
    dv.replace_role_privileges(NEW_ROLE, {read.privilege_id: "Basic"}, business_unit_id=ROOT_BU)
    with pytest.raises(ValidationError):
        dv._json("POST", f"roles({NEW_ROLE})/Microsoft.Dynamics.CRM.RemovePrivilegeRole",
                 body={"PrivilegeId": read.privilege_id})
    assert [p.privilege_id for p in dv.role_privileges(NEW_ROLE)] == [read.privilege_id]
    emulator.clear_log()
    dv.remove_role_privilege(NEW_ROLE, read.privilege_id)
    assert dv.role_privileges(NEW_ROLE) == []


def test_role_assignment_single_and_batched(emulator, dv: DataverseClient) -> None:
    dv.create_role(NEW_ROLE, "BC Assign 1", ROOT_BU)
    dv.create_role(NEW_ROLE_2, "BC Assign 2", ROOT_BU)
    before = {r.role_id for r in dv.user_roles(SALES01_USER)}
    dv.associate_role(SALES01_USER, SALESPERSON)  # already held: success
    emulator.clear_log()
    dv.batch_associate(SALES01_USER, [NEW_ROLE, NEW_ROLE_2])
    assert len(logged_statuses(emulator, "/$batch")) == 1
    assert not [r for r in emulator.requests if "systemuserroles_association" in r.path]
    assert {r.role_id for r in dv.user_roles(SALES01_USER)} == before | {NEW_ROLE, NEW_ROLE_2}
    # one already held -> the change set fails as a whole; the client sends only the missing one
    dv.disassociate_role(SALES01_USER, NEW_ROLE_2)
    dv.batch_associate(SALES01_USER, [NEW_ROLE, NEW_ROLE_2])
    assert {r.role_id for r in dv.user_roles(SALES01_USER)} == before | {NEW_ROLE, NEW_ROLE_2}
    dv.batch_disassociate(SALES01_USER, [NEW_ROLE, NEW_ROLE_2])
    assert {r.role_id for r in dv.user_roles(SALES01_USER)} == before
    dv.disassociate_role(SALES01_USER, NEW_ROLE)  # not held: success


def test_error_mapping_for_each_class(emulator, conn, dv: DataverseClient) -> None:
    with pytest.raises(NotFoundError) as nf:
        dv.get_user("6b1c2d3e-0000-4000-8000-0000000fffff")
    assert nf.value.code and nf.value.status == 404
    # role of another business unit -> 400 validation error
    with pytest.raises(ValidationError) as bad:
        dv.associate_role(SALES26_USER, SALESPERSON)
    assert bad.value.status == 400 and bad.value.code
    limited = DataverseClient.for_connection(conn, env=secret_env(LIMITED_ID, LIMITED_SECRET))
    with pytest.raises(PermissionDeniedError) as denied:
        limited.create_role(NEW_ROLE, "Not allowed", ROOT_BU)
    assert denied.value.missing_privilege and denied.value.missing_privilege.startswith("prv")
    dv.create_role(NEW_ROLE, "Dup", ROOT_BU)
    with pytest.raises(ConflictError):
        dv.create_role(NEW_ROLE, "Dup other", ROOT_BU)
    priv = dv.privileges_by_name(["prvReadAccount"])["prvReadAccount"]
    with pytest.raises(ValidationError) as depth:
        dv.replace_role_privileges(NEW_ROLE, {priv.privilege_id: "RecordFilter"}, business_unit_id=ROOT_BU)
    assert getattr(depth.value, "status", None) == 400


def test_solution_stage_import_poll_result_and_uninstall(emulator, dv: DataverseClient, tmp_path: Path) -> None:
    package = tmp_path / "emu_Test.zip"
    package.write_bytes(solution_zip("emu_Test", "1.0.0.0", managed=True, padding=200_000))
    assert dv.find_solution("emu_Test") is None
    staged = dv.stage_solution(package)
    assert staged.passed and staged.unique_name == "emu_Test" and staged.version == "1.0.0.0"
    emulator.settings.import_seconds = 3600  # still running when it is listed, however slow we are
    job = dv.import_solution_async(staged.upload_id)
    assert job.async_operation_id
    running = dv.find_running_solution_operations()
    assert job.async_operation_id in {op.async_operation_id for op in running}
    solutions.end_now(emulator.dataverse, job.async_operation_id)
    deadline = time.monotonic() + 10
    op = dv.get_async_operation(job.async_operation_id)
    while not op.is_completed and time.monotonic() < deadline:
        time.sleep(0.1)
        op = dv.get_async_operation(job.async_operation_id)
    assert op.succeeded, op
    assert job.import_job_key
    assert dv.solution_import_result(job.import_job_key).passed
    import_job = dv.get_import_job(job.import_job_key)
    assert import_job.solution_name == "emu_Test" and import_job.progress == 100 and import_job.data
    solution = dv.find_solution("emu_Test")
    assert solution is not None and solution.version == "1.0.0.0" and solution.is_managed
    dv.publish_all()
    un = dv.uninstall_solution_async("emu_Test")
    assert un.async_operation_id


def test_import_start_with_unknown_outcome_is_reported_not_repeated(emulator, dv: DataverseClient, tmp_path: Path) -> None:
    from infra.clients.errors import AmbiguousOutcomeError
    from emulator import FaultRule

    package = tmp_path / "emu_Amb.zip"
    package.write_bytes(solution_zip("emu_Amb", "1.0.0.0", managed=True))
    staged = dv.stage_solution(package)
    emulator.clear_log()
    emulator.settings.import_seconds = 3600  # still running when the reconcile step looks
    emulator.faults.add(FaultRule(kind="reset", phase="after", method="POST", path_regex="ImportSolutionAsync"))
    with pytest.raises(AmbiguousOutcomeError):
        dv.import_solution_async(staged.upload_id)
    emulator.faults.clear()
    assert len(logged_statuses(emulator, "/ImportSolutionAsync")) == 1
    # the reconcile step the providers do: the import is running although we got no answer
    running = dv.find_running_solution_operations()
    assert any("emu_Amb" in (op.name or "") for op in running)


def test_stage_and_upgrade(emulator, dv: DataverseClient, tmp_path: Path) -> None:
    v1, v2 = tmp_path / "v1.zip", tmp_path / "v2.zip"
    v1.write_bytes(solution_zip("emu_Up", "1.0.0.0", managed=True))
    v2.write_bytes(solution_zip("emu_Up", "1.1.0.0", managed=True))
    for package, start in ((v1, dv.import_solution_async), (v2, dv.stage_and_upgrade_async)):
        job = start(dv.stage_solution(package).upload_id)
        deadline = time.monotonic() + 10
        while not (op := dv.get_async_operation(job.async_operation_id)).is_completed and time.monotonic() < deadline:
            time.sleep(0.05)
        assert op.succeeded, op
    assert dv.find_solution("emu_Up").version == "1.1.0.0"
