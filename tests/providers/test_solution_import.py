"""SolutionImport lifecycle through the provider host against the emulator."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from devkit.harness import CheckFailed, ProviderError, Stack
from emulator.seed import ids
from infra.model.solution_package import read_package
from infra.providers import SolutionImport

from .conftest import dataverse_requests, describe, end_when_followed

STANDIN = Path(__file__).resolve().parents[2] / "solution" / "standin"


def package(tmp_path: Path, version: str = "1.0.0.0", managed: bool = True) -> Path:
    """A copy of the stand-in source folder with another version / managed flag."""
    dest = tmp_path / f"standin-{version}-{'m' if managed else 'u'}"
    if not dest.exists():
        shutil.copytree(STANDIN, dest)
        xml = (dest / "solution.xml").read_text(encoding="utf-8")
        xml = re.sub(r"<Version>[^<]*</Version>", f"<Version>{version}</Version>", xml, count=1)
        xml = re.sub(r"<Managed>[^<]*</Managed>", f"<Managed>{1 if managed else 0}</Managed>", xml, count=1)
        (dest / "solution.xml").write_text(xml, encoding="utf-8")
    return dest


def sol_inputs(conn: dict[str, Any], path: Path, **over: Any) -> dict[str, Any]:
    info = read_package(path)
    return {"connection": conn, "package_path": str(path), "unique_name": info.unique_name,
            "version": info.version, "managed": info.managed, "sha256": info.sha256,
            "timeout_seconds": 60, **over}


def installed(emulator: Any, name: str = "bcsales_IntegrationStandIn") -> dict[str, Any] | None:
    return next((s for s in emulator.dataverse.solutions.values() if s["uniquename"] == name), None)


def test_lifecycle_import_noop_upgrade_refresh_delete(emulator: Any, conn: dict, stack: Stack, tmp_path: Path) -> None:
    v1 = package(tmp_path, "1.0.0.0")
    step = stack.up(SolutionImport, "sol", sol_inputs(conn, v1))
    assert step.op == "create" and step.outputs["installed_version"] == "1.0.0.0"
    assert step.outputs["adopted"] is False
    assert installed(emulator)["version"] == "1.0.0.0"
    assert "package_bytes" not in step.outputs and len(str(step.outputs)) < 2000  # never the bytes
    assert any("import ended" in line for line in stack.host.log)
    # The solution's tables got privileges: the roles can now reference them.
    assert any(p["name"].lower() == "prvreadnav_connection" for p in emulator.dataverse.privileges.values())

    emulator.clear_log()
    assert stack.up(SolutionImport, "sol", sol_inputs(conn, v1)).op == "same"
    assert dataverse_requests(emulator) == []

    v2 = package(tmp_path, "1.1.0.0")
    emulator.clear_log()
    step = stack.up(SolutionImport, "sol", sol_inputs(conn, v2))
    assert step.op == "update" and step.outputs["installed_version"] == "1.1.0.0"
    paths = describe(dataverse_requests(emulator))
    assert "POST StageAndUpgradeAsync" in paths and "POST ImportSolutionAsync" not in paths
    assert "POST PublishAllXml" not in paths  # managed: nothing to publish

    # Someone installs a newer version: refresh shows it; the old package is refused.
    emulator.dataverse.solutions[installed(emulator)["solutionid"]]["version"] = "1.2.0.0"
    refreshed = stack.refresh("sol")
    assert refreshed.outputs["installed_version"] == "1.2.0.0"
    assert stack.inputs("sol")["version"] == "1.2.0.0"
    with pytest.raises(ProviderError) as err:
        stack.up(SolutionImport, "sol", sol_inputs(conn, v2))
    assert "deployments move forward" in err.value.message and "1.2.0.0" in err.value.message

    stack.host.clear_log()
    stack.destroy("sol")
    assert installed(emulator) is not None
    assert any("left installed" in line for line in stack.host.log)


def test_unmanaged_import_publishes_and_uninstall_on_delete(emulator: Any, conn: dict, stack: Stack,
                                                            tmp_path: Path) -> None:
    path = package(tmp_path, "1.0.0.0", managed=False)
    emulator.clear_log()
    stack.up(SolutionImport, "sol", sol_inputs(conn, path, uninstall_on_delete=True))
    paths = describe(dataverse_requests(emulator))
    assert "POST ImportSolutionAsync" in paths and "POST PublishAllXml" in paths
    assert installed(emulator)["ismanaged"] is False
    stack.destroy("sol")
    assert installed(emulator) is None


def test_same_version_installed_is_adopted(emulator: Any, conn: dict, stack: Stack, tmp_path: Path) -> None:
    v1 = package(tmp_path, "1.0.0.0")
    stack.up(SolutionImport, "first", sol_inputs(conn, v1))
    emulator.clear_log()
    step = stack.up(SolutionImport, "second", sol_inputs(conn, v1))
    assert step.outputs["adopted"] is True
    assert [r for r in dataverse_requests(emulator) if r.method != "GET"] == []


def test_manifest_mismatch_and_failure_details(emulator: Any, conn: dict, stack: Stack, tmp_path: Path) -> None:
    v1 = package(tmp_path, "1.0.0.0")
    with pytest.raises(CheckFailed) as err:
        stack.up(SolutionImport, "sol", sol_inputs(conn, v1, version="9.0.0.0", sha256="0" * 64))
    props = dict(err.value.failures)
    assert "does not match the package manifest" in props["version"]
    assert "sha256 does not match" in props["sha256"]


def test_standin_is_refused_outside_the_emulator(stack: Stack, tmp_path: Path) -> None:
    far = {"environment_url": "https://contoso.crm.dynamics.com", "tenant_id": ids.TENANT_ID}
    # The host has credentials but no such environment is reachable; check() must refuse first.
    result = stack.host.check(SolutionImport, "sol", {}, sol_inputs(far, package(tmp_path)))
    reasons = dict(result.failures)
    assert "stand-in" in reasons.get("package_path", ""), result.failures


def test_import_end_is_noticed_within_a_second(emulator: Any, conn: dict, stack: Stack, tmp_path: Path) -> None:
    emulator.settings.import_seconds = 3.0
    emulator.clear_log()
    stack.up(SolutionImport, "sol", sol_inputs(conn, package(tmp_path)))
    [op] = [o for o in emulator.dataverse.asyncoperations.values() if o.get("emu_kind") == "import"]
    polls = [r for r in dataverse_requests(emulator) if r.path.endswith(f"asyncoperations({op['asyncoperationid']})")]
    noticed = min(r.started for r in polls if r.started >= op["emu_due"])
    # every 0.9 s, every 0.25 s around the end extrapolated from the import job's progress
    assert noticed - op["emu_due"] <= 1.0  # what the name promises; slack for a loaded machine
    assert len(polls) <= 8, len(polls)
    [progress_read] = [r for r in dataverse_requests(emulator) if "/importjobs(" in r.path]
    assert progress_read.status == 200
    # No look for running operations before an unrefused start.
    assert not [r for r in dataverse_requests(emulator) if r.path.endswith("/asyncoperations")]


@pytest.mark.parametrize("same_package", [True, False], ids=["ours-running", "another-running"])
def test_start_refused_by_a_running_import_waits_then_imports_once(
        emulator: Any, conn: dict, stack: Stack, tmp_path: Path, same_package: bool) -> None:
    """An import left running (an interrupted deployment of ours, or someone else's): Dataverse
    refuses our start; the provider lists running operations only then, waits, and either finds
    the target version installed or starts its own import once."""
    from infra.clients.dataverse import DataverseClient
    from infra.model.solution_package import open_package

    from .conftest import DEPLOYER

    # The earlier import runs until the provider follows it, however late the host gets there.
    emulator.settings.import_seconds = 3600
    ours = package(tmp_path / "a", "1.0.0.0")
    other = ours
    if not same_package:
        other = tmp_path / "other"
        shutil.copytree(ours, other)
        xml = (other / "solution.xml").read_text(encoding="utf-8")
        xml = xml.replace("<UniqueName>bcsales_IntegrationStandIn</UniqueName>",
                          "<UniqueName>bcsales_SomeoneElses</UniqueName>", 1)
        (other / "solution.xml").write_text(xml, encoding="utf-8")
    dv = DataverseClient.for_connection(conn, env=DEPLOYER)
    with open_package(other) as stream:
        job = dv.import_solution_async(dv.stage_solution(stream).upload_id)
    emulator.clear_log()
    end_when_followed(emulator, emulator.dataverse.asyncoperations[job.async_operation_id],
                      then_import_seconds=0.5)
    step = stack.up(SolutionImport, "sol", sol_inputs(conn, ours))
    assert step.op == "create" and installed(emulator)["version"] == "1.0.0.0"
    calls = describe(dataverse_requests(emulator))
    assert calls.count("GET asyncoperations") == 1, calls  # listed once, after the refusal
    assert calls.count("POST ImportSolutionAsync") == (1 if same_package else 2), calls
    imports = [o for o in emulator.dataverse.asyncoperations.values() if o.get("emu_kind") == "import"]
    assert len(imports) == (1 if same_package else 2)


def test_missing_dependencies_are_shown_and_nothing_is_imported(emulator: Any, conn: dict, stack: Stack,
                                                                tmp_path: Path) -> None:
    path = package(tmp_path, "1.0.0.0")
    xml = (path / "solution.xml").read_text(encoding="utf-8").replace(
        "<MissingDependencies />",
        '<MissingDependencies><MissingDependency><Required type="1" schemaName="bcbi_basetable" '
        'solution="bcbi_CdsBaseIntegration (1.0.0.0)" /><Dependent type="1" schemaName="nav_connection" />'
        "</MissingDependency></MissingDependencies>")
    (path / "solution.xml").write_text(xml, encoding="utf-8")
    emulator.clear_log()
    with pytest.raises(ProviderError) as err:
        stack.up(SolutionImport, "sol", sol_inputs(conn, path))
    msg = err.value.message
    assert "missing dependencies: bcbi_basetable from solution bcbi_CdsBaseIntegration" in msg
    assert "nothing was imported" in msg
    assert "POST ImportSolutionAsync" not in describe(dataverse_requests(emulator))
    assert installed(emulator) is None


def test_project_relative_path_and_a_moved_package_is_no_change(
        emulator: Any, conn: dict, stack: Stack, tmp_path: Path) -> None:
    """State must be the same on every checkout: the program records ``solution/standin``.

    The host runs in ``infra/`` (like the engine with ``main: infra/``), so the relative path only
    works if the provider resolves it against the project folder.  The same bytes at another path
    (another checkout, a CI runner) must not show as a change or cost a request.
    """
    inputs = sol_inputs(conn, STANDIN)
    relative = {**inputs, "package_path": "solution/standin"}
    step = stack.up(SolutionImport, "sol", relative)
    assert step.op == "create" and step.outputs["installed_version"] == inputs["version"]

    moved = tmp_path / "elsewhere" / "standin"
    shutil.copytree(STANDIN, moved)
    emulator.clear_log()
    assert stack.up(SolutionImport, "sol", {**inputs, "package_path": str(moved)}).op == "same"
    assert dataverse_requests(emulator) == []


def test_poll_schedule_is_fine_only_around_theexpected_end() -> None:
    from infra.clients.dataverse.operations import PollPolicy, expected_end

    policy = PollPolicy()
    assert expected_end(lambda: 25, 2.5) == 10.0
    assert expected_end(None, 2.5) is None and expected_end(lambda: 0, 2.5) is None
    assert expected_end(lambda: 100, 2.5) is None

    def boom() -> float:
        raise RuntimeError("no import job")

    assert expected_end(boom, 2.5) is None

    def schedule(expected_end: float | None, until: float) -> list[float]:
        t, out = policy.first, []
        while t < until:
            out.append(round(t, 2))
            t = policy.next_offset(t, expected_end)
        return out

    unknown = schedule(None, 10.3)
    assert all(round(b - a, 2) == policy.cap for a, b in zip(unknown, unknown[1:]))
    known = schedule(10.0, 12.5)
    fine = [t for t in known if 9.5 <= t <= 11.5]
    assert fine[:4] == [9.5, 9.75, 10.0, 10.25]  # the end is seen within 0.25 s
    assert all(round(b - a, 2) == policy.cap for a, b in zip(known, known[1:]) if b <= 9.5 or a >= 11.5)
    assert len(known) <= len(schedule(None, 12.5)) + 6
