"""Dataverse surface over HTTPS: staging, importing, upgrading and uninstalling solutions."""

from __future__ import annotations

import base64
import time
from typing import Any, Iterator

import pytest

from tests.emulator_tests.testkit import LIMITED, DvClient, solution_zip

ADMIN_ROLE = "8c8d4f51-a72b-e511-80d9-3863bb349780"
USER_ROLE = "6f960e32-a72b-e511-80d9-3863bb349780"
ROLES = [(ADMIN_ROLE, "Integration Administrator", {"prvReadnav_Connection": "Global", "prvReadAccount": "Global"}),
         (USER_ROLE, "Integration User", {"prvReadnav_Stats": "Global", "prvReadUserEntityUISettings": "Basic"})]
TABLES = {"nav_Connection": "UserOwned", "nav_Stats": "OrganizationOwned"}


@pytest.fixture
def clock(emulator: Any) -> list[float]:
    """A hand-driven clock: imports complete when the test moves it past import_seconds."""
    now = [time.time()]
    emulator.ctx.clock = lambda: now[0]
    return now


@pytest.fixture
def dv(emulator: Any) -> Iterator[DvClient]:
    client = DvClient(emulator)
    yield client
    client.close()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _stage(dv: DvClient, data: bytes) -> dict[str, Any]:
    r = dv.post("StageSolution", {"CustomizationFile": b64(data)})
    assert r.status_code == 200, r.text
    return dict(r.json()["StageSolutionResults"])


def _op(dv: DvClient, op_id: str) -> dict[str, Any]:
    r = dv.get(f"asyncoperations({op_id})?$select=statecode,statuscode,message,friendlymessage,completedon")
    assert r.status_code == 200, r.text
    return dict(r.json())


def _solution(dv: DvClient, name: str) -> list[dict[str, Any]]:
    return dv.value("solutions?$select=solutionid,uniquename,friendlyname,version,ismanaged,installedon"
                    f"&$filter=uniquename eq '{name}'")


def test_stage_import_async_lifecycle(dv: DvClient, emulator: Any, clock: list[float]) -> None:
    staged = _stage(dv, solution_zip("MicrosoftDynamicsNavIntegration", "1.0.0.0", True, roles=ROLES, tables=TABLES))
    assert staged["StageSolutionStatus"] == "Passed" and staged["MissingDependencies"] == []
    assert staged["SolutionDetails"]["SolutionVersion"] == "1.0.0.0" and staged["SolutionDetails"]["IsManaged"] is True
    r = dv.post("ImportSolutionAsync", {"OverwriteUnmanagedCustomizations": True, "PublishWorkflows": True,
                                        "SolutionParameters": {"StageSolutionUploadId": staged["StageSolutionUploadId"]}})
    assert r.status_code == 200, r.text
    op_id, job = r.json()["AsyncOperationId"], r.json()["ImportJobKey"]
    assert _op(dv, op_id)["statecode"] != 3 and _solution(dv, "MicrosoftDynamicsNavIntegration") == []
    running = dv.value("asyncoperations?$select=asyncoperationid,operationtype&$filter=operationtype eq 103 and statecode ne 3")
    assert [o["asyncoperationid"] for o in running] == [op_id]
    assert dv.get(f"roles({ADMIN_ROLE})").status_code == 404          # effects appear only on completion
    clock[0] += 0.1
    assert _op(dv, op_id)["statuscode"] == 20
    assert 0 < dv.get(f"importjobs({job})?$select=progress").json()["progress"] < 100
    clock[0] += 0.2
    op = _op(dv, op_id)
    assert (op["statecode"], op["statuscode"]) == (3, 30) and op["completedon"]
    [sol] = _solution(dv, "MicrosoftDynamicsNavIntegration")
    assert sol["version"] == "1.0.0.0" and sol["ismanaged"] is True and sol["installedon"]
    role = dv.get(f"roles({ADMIN_ROLE})?$select=name,ismanaged,_businessunitid_value").json()
    assert role["name"] == "Integration Administrator" and role["ismanaged"] is True
    privs = dv.get(f"RetrieveRolePrivilegesRole(RoleId={USER_ROLE})").json()["RolePrivileges"]
    assert {(p["PrivilegeName"], p["Depth"]) for p in privs} == {("prvReadnav_Stats", "Global"),
                                                                 ("prvReadUserEntityUISettings", "Basic")}
    names = {p["name"] for p in dv.value("privileges?$select=name&$filter=contains(name,'nav_')")}
    assert len(names) == 14 and "prvAssignnav_Connection" in names and "prvAssignnav_Stats" not in names
    assert dv.delete(f"roles({ADMIN_ROLE})").status_code == 400           # managed
    result = dv.get(f"RetrieveSolutionImportResult(ImportJobId={job})").json()["SolutionOperationResult"]
    assert result["Status"] == "Passed" and result["ErrorMessages"] == []
    jobrow = dv.get(f"importjobs({job})?$select=progress,data,solutionname,completedon").json()
    assert jobrow["progress"] == 100 and 'result="success"' in jobrow["data"]
    assert dv.value("asyncoperations?$filter=operationtype eq 103 and statecode ne 3") == []


def test_second_import_or_uninstall_refused_while_one_runs(dv: DvClient, clock: list[float]) -> None:
    body = {"OverwriteUnmanagedCustomizations": True, "PublishWorkflows": True,
            "CustomizationFile": b64(solution_zip("emu_A", "1.0.0.0"))}
    assert dv.post("ImportSolutionAsync", body).status_code == 200
    r = dv.post("ImportSolutionAsync", {**body, "CustomizationFile": b64(solution_zip("emu_B", "1.0.0.0"))})
    assert r.status_code == 400 and "Cannot start another [Import]" in r.json()["error"]["message"]
    assert dv.post("UninstallSolutionAsync", {"SolutionUniqueName": "Default"}).status_code == 400
    sync = dv.post("ImportSolution", {**body, "ImportJobId": "6b1c2d3e-0000-4000-8000-0000000fff10"})
    assert sync.status_code == 400
    clock[0] += 1
    assert dv.post("ImportSolutionAsync", {**body, "CustomizationFile": b64(solution_zip("emu_B", "1.0.0.0"))}).status_code == 200


def test_upgrade_and_lower_version_refusal(dv: DvClient, clock: list[float]) -> None:
    def run(version: str, **kw: Any) -> dict[str, Any]:
        r = dv.post("ImportSolutionAsync", {"OverwriteUnmanagedCustomizations": True, "PublishWorkflows": True,
                                            "CustomizationFile": b64(solution_zip("emu_V", version, **kw))})
        assert r.status_code == 200, r.text
        clock[0] += 1
        return {**_op(dv, r.json()["AsyncOperationId"]), "job": r.json()["ImportJobKey"]}
    assert run("1.2.0.0")["statuscode"] == 30
    assert run("1.10.0.0")["statuscode"] == 30                     # numeric, not string, comparison
    assert _solution(dv, "emu_V")[0]["version"] == "1.10.0.0"
    low = run("1.9.9.9")
    assert low["statuscode"] == 31 and "older" in low["friendlymessage"]
    result = dv.get(f"RetrieveSolutionImportResult(ImportJobId={low['job']})").json()["SolutionOperationResult"]
    assert result["Status"] == "Failed" and result["ErrorMessages"]
    assert _solution(dv, "emu_V")[0]["version"] == "1.10.0.0"
    staged = _stage(dv, solution_zip("emu_V", "1.0.0.0"))
    assert staged["StageSolutionStatus"] == "Failed" and staged["SolutionValidationResults"]
    r = dv.post("ImportSolutionAsync", {"SolutionParameters": {"StageSolutionUploadId": staged["StageSolutionUploadId"]}})
    assert r.status_code == 400
    assert run("2.0.0.0", managed=False)["statuscode"] == 31       # managed cannot become unmanaged


def test_stage_and_upgrade_removes_dropped_components(dv: DvClient, emulator: Any, clock: list[float]) -> None:
    first = solution_zip("emu_U", "1.0.0.0", roles=ROLES, tables=TABLES)
    assert dv.post("ImportSolutionAsync", {"CustomizationFile": b64(first)}).status_code == 200
    clock[0] += 1
    staged = _stage(dv, solution_zip("emu_U", "2.0.0.0", roles=ROLES[:1], tables={"nav_Connection": "UserOwned"}))
    r = dv.post("StageAndUpgradeAsync", {"OverwriteUnmanagedCustomizations": True, "PublishWorkflows": True,
                                         "SolutionParameters": {"StageSolutionUploadId": staged["StageSolutionUploadId"]}})
    assert r.status_code == 200
    op_id = r.json()["AsyncOperationId"]
    assert dv.get(f"asyncoperations({op_id})?$select=operationtype").json()["operationtype"] == 211
    clock[0] += 1
    assert _op(dv, op_id)["statuscode"] == 30
    assert dv.get(f"roles({USER_ROLE})").status_code == 404 and dv.get(f"roles({ADMIN_ROLE})").status_code == 200
    assert emulator.dataverse.privilege_by_name("prvReadnav_Stats") is None
    assert emulator.dataverse.privilege_by_name("prvReadnav_Connection") is not None


def test_uninstall_async_and_delete(dv: DvClient, emulator: Any, clock: list[float]) -> None:
    assert dv.post("ImportSolutionAsync", {"CustomizationFile": b64(solution_zip("emu_X", roles=ROLES, tables=TABLES))}).status_code == 200
    clock[0] += 1
    r = dv.post("UninstallSolutionAsync", {"SolutionUniqueName": "emu_X"})
    assert r.status_code == 200
    assert _solution(dv, "emu_X") != []
    clock[0] += 1
    assert _op(dv, r.json()["AsyncOperationId"])["statuscode"] == 30
    assert _solution(dv, "emu_X") == [] and dv.get(f"roles({ADMIN_ROLE})").status_code == 404
    assert emulator.dataverse.privilege_by_name("prvReadnav_Connection") is None
    assert dv.post("UninstallSolutionAsync", {"SolutionUniqueName": "emu_X"}).status_code == 404
    assert dv.post("ImportSolutionAsync", {"CustomizationFile": b64(solution_zip("emu_Y", roles=ROLES))}).status_code == 200
    clock[0] += 1
    sid = _solution(dv, "emu_Y")[0]["solutionid"]
    assert dv.delete(f"solutions({sid})").status_code == 204
    assert _solution(dv, "emu_Y") == [] and dv.get(f"roles({ADMIN_ROLE})").status_code == 404


def test_sync_import_with_caller_job_id_and_publish(dv: DvClient) -> None:
    job = "6b1c2d3e-0000-4000-8000-0000000fff20"
    r = dv.post("ImportSolution", {"OverwriteUnmanagedCustomizations": True, "PublishWorkflows": True,
                                   "ImportJobId": job, "HoldingSolution": False,
                                   "CustomizationFile": b64(solution_zip("emu_S", "1.0.0.0", managed=False, roles=ROLES))})
    assert r.status_code == 204, r.text
    assert _solution(dv, "emu_S")[0]["ismanaged"] is False
    assert dv.get(f"importjobs({job})?$select=progress,solutionname").json()["solutionname"] == "emu_S"
    assert dv.get(f"roles({USER_ROLE})?$select=ismanaged").json()["ismanaged"] is False
    assert dv.post("PublishAllXml").status_code == 204
    r = dv.post("ImportSolution", {"ImportJobId": "6b1c2d3e-0000-4000-8000-0000000fff21",
                                   "CustomizationFile": b64(solution_zip("emu_S", "1.0.0.0", managed=True))})
    assert r.status_code == 400 and "unmanaged" in r.json()["error"]["message"]


def test_invalid_packages_and_missing_dependencies(dv: DvClient) -> None:
    r = dv.post("StageSolution", {"CustomizationFile": b64(b"PK not really a zip")})
    assert r.status_code == 400 and "zip" in r.json()["error"]["message"]
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("customizations.xml", "<ImportExportXml />")
    r = dv.post("ImportSolution", {"ImportJobId": "6b1c2d3e-0000-4000-8000-0000000fff30",
                                   "CustomizationFile": b64(buf.getvalue())})
    assert r.status_code == 400 and "solution.xml" in r.json()["error"]["message"]
    assert dv.post("StageSolution", {"CustomizationFile": "***"}).status_code == 400
    assert dv.post("StageSolution", {"CustomizationFile": b64(solution_zip()), "Extra": 1}).status_code == 400
    staged = _stage(dv, solution_zip("emu_D", missing=[("msdyn_thing", "msdynce_Sales")]))
    assert staged["StageSolutionStatus"] == "Failed"
    assert staged["MissingDependencies"][0]["RequiredSolutionName"] == "msdynce_Sales"


def test_solution_operations_need_admin(emulator: Any) -> None:
    limited = DvClient(emulator, LIMITED)
    for path, body in [("StageSolution", {"CustomizationFile": b64(solution_zip())}),
                       ("ImportSolutionAsync", {"CustomizationFile": b64(solution_zip())}),
                       ("UninstallSolutionAsync", {"SolutionUniqueName": "Default"}),
                       ("PublishAllXml", None)]:
        r = limited.post(path, body)
        assert r.status_code == 403 and r.json()["error"]["code"] == "0x80040220", path
    msg = limited.post("ImportSolutionAsync", {"CustomizationFile": b64(solution_zip())}).json()["error"]["message"]
    assert msg.startswith("Principal user (Id=6b1c2d3e-0000-4000-8000-000000005002, type=8")
    assert "is missing prvImportSolution privilege" in msg
    limited.close()


def test_large_package_is_streamed(dv: DvClient, emulator: Any) -> None:
    """A 24 MB package (32 MB of base64) sent as a stream; the emulator decodes it to disk."""
    data = solution_zip("emu_Big", padding=24 << 20)
    encoded = b64(data).encode()

    def body() -> Iterator[bytes]:
        yield b'{"CustomizationFile": "'
        for i in range(0, len(encoded), 1 << 20):
            yield encoded[i:i + (1 << 20)]
        yield b'"}'
    r = dv.http.post("StageSolution", content=body(), headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    upload = r.json()["StageSolutionResults"]["StageSolutionUploadId"]
    assert emulator.dataverse.staged[upload]["package"]["size"] == len(data)


def test_state_survives_a_restart_with_snapshot(emulator_factory: Any, tmp_path: Any) -> None:
    emu = emulator_factory(state_dir=tmp_path, snapshot=True, import_seconds=0)
    dv = DvClient(emu)
    assert dv.post("ImportSolutionAsync", {"CustomizationFile": b64(solution_zip("emu_Keep", "3.1.0.0", roles=ROLES))}).status_code == 200
    assert _solution(dv, "emu_Keep")[0]["version"] == "3.1.0.0"
    dv.close()
    emu.snapshot()
    emu.stop()
    again = DvClient(emulator_factory(state_dir=tmp_path, snapshot=True))
    assert _solution(again, "emu_Keep")[0]["version"] == "3.1.0.0"
    assert again.get(f"roles({USER_ROLE})?$select=name").json()["name"] == "Integration User"
    again.close()
