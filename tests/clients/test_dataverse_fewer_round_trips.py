"""The one-request reads the providers rely on: a user with its roles ($expand), roles by ids
and names in one ``or`` query, and several GETs (a read and a function) in one $batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.clients.dataverse import DataverseClient
from infra.clients.errors import NotFoundError
from tests.emulator_tests.testkit import solution_zip


from .conftest import secret_env
from .test_emulator_dataverse import NEW_ROLE, ROOT_BU, SALES01_OID, SALES01_USER, SALESPERSON

MISSING = "6b1c2d3e-0000-4000-8000-0000000fffff"


@pytest.fixture
def dv(conn) -> DataverseClient:
    return DataverseClient.for_connection(conn, env=secret_env())


def _api(emu) -> list[str]:
    return [f"{r.method} {r.path.split('/api/data/v9.2/')[-1]}" for r in emu.requests
            if r.path.startswith("/api/data/")]


def test_user_with_roles_is_one_request_and_matches_two_reads(emulator, dv: DataverseClient) -> None:
    expected = sorted(r.role_id for r in dv.user_roles(SALES01_USER))
    assert SALESPERSON in expected
    emulator.clear_log()
    found = dv.find_user_with_roles_by_object_id(SALES01_OID)
    assert found is not None
    user, roles = found
    assert user.systemuser_id == SALES01_USER and sorted(r.role_id for r in roles) == expected
    assert all(r.business_unit_id == ROOT_BU for r in roles if r.role_id == SALESPERSON)
    user2, roles2 = dv.get_user_with_roles(SALES01_USER)
    assert user2 == user and sorted(r.role_id for r in roles2) == expected
    emulator.settle()
    assert _api(emulator) == ["GET systemusers", f"GET systemusers({SALES01_USER})"]
    assert dv.find_user_with_roles_by_object_id(MISSING) is None
    with pytest.raises(NotFoundError):
        dv.get_user_with_roles(MISSING)


def test_roles_by_ids_or_names_one_request(emulator, dv: DataverseClient) -> None:
    emulator.clear_log()
    roles = dv.roles_by_ids_or_names([SALESPERSON.upper(), MISSING], ["Sales Manager", "No Such Role"], ROOT_BU)
    assert sorted(r.name for r in roles) == ["Sales Manager", "Salesperson"]
    assert all(r.business_unit_id == ROOT_BU for r in roles)
    emulator.settle()
    assert _api(emulator) == ["GET roles"]
    assert dv.roles_by_ids_or_names() == []


def test_role_with_privileges_in_one_batch(emulator, dv: DataverseClient) -> None:
    dv.create_role(NEW_ROLE, "Batch Read Role", ROOT_BU)
    ids = dv.privileges_by_name(["prvReadAccount", "prvReadContact"])
    dv.replace_role_privileges(NEW_ROLE, {ids["prvReadAccount"].privilege_id: "Global",
                                          ids["prvReadContact"].privilege_id: "Local"},
                               business_unit_id=ROOT_BU)
    emulator.clear_log()
    role, privileges = dv.get_role_with_privileges(NEW_ROLE)
    assert role.role_id == NEW_ROLE and role.name == "Batch Read Role"
    assert {p.privilege_name: p.depth for p in privileges} == {"prvReadAccount": "Global", "prvReadContact": "Local"}
    emulator.settle()
    assert _api(emulator) == ["POST $batch"]
    assert dv.get_role_with_privileges(MISSING) is None


def test_import_job_progress_reads_only_the_progress(emulator, dv: DataverseClient, tmp_path: Path) -> None:
    emulator.settings.import_seconds = 3600  # still running when read, however slow we are
    package = tmp_path / "p.zip"
    package.write_bytes(solution_zip("emu_Progress", "1.0.0.0", managed=True))
    stage = dv.stage_solution(package)
    job = dv.import_solution_async(stage.upload_id)
    emulator.clear_log()
    done = dv.import_job_progress(job.import_job_key)
    assert done is not None and 0 <= done < 100
    [read] = [r for r in emulator.requests if "/importjobs(" in r.path]
    assert "progress" in read.query and "data" not in read.query
