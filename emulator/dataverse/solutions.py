"""Solution lifecycle: stage, import (async and sync), upgrade, uninstall, progress, results.

Completion is time-based: an operation finishes ``import_seconds`` after it starts, and its
effects (solution row, roles, table privileges) appear only then. ``advance(store)`` is called at
the start of every request, so no background task is needed and a frozen test clock works.
"""

from __future__ import annotations

import uuid
from typing import Any
from xml.sax.saxutils import quoteattr

from .errors import IMPORT_IN_PROGRESS, IMPORT_OLDER_VERSION, MISSING_DEPENDENCY, DataverseError, not_found
from .solution_zip import PackageInfo, version_tuple
from .privileges import DEPTH_NAMES, allowed_depths
from .store import DataverseStore, Record, iso

# asyncoperation.operationtype values. 103 for solution import follows the project's client;
# 211 for StageAndUpgradeAsync is from the reference; 212 for uninstall is UNCONFIRMED.
OP_IMPORT, OP_STAGE_AND_UPGRADE, OP_UNINSTALL = 103, 211, 212
STATE_READY, STATE_LOCKED, STATE_COMPLETED = 0, 2, 3
STATUS_WAITING, STATUS_IN_PROGRESS, STATUS_SUCCEEDED, STATUS_FAILED = 0, 20, 30, 31
_NS = uuid.UUID("6b1c2d3e-0000-4000-8000-0000000d0000")


# -- staging -----------------------------------------------------------------------------------
def validation_errors(store: DataverseStore, pkg: PackageInfo) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(SolutionValidationResults errors, MissingDependencies) for a package against this environment."""
    results: list[dict[str, Any]] = []
    existing = find_solution(store, pkg.unique_name)
    if existing is not None:
        if bool(existing["ismanaged"]) != pkg.managed:
            kind = "managed" if existing["ismanaged"] else "unmanaged"
            results.append(_vr(f"The solution {pkg.unique_name} is already installed as an {kind} solution; "
                               f"a {'managed' if pkg.managed else 'unmanaged'} package cannot replace it."))
        elif existing["ismanaged"] and version_tuple(pkg.version) < version_tuple(existing["version"]):
            results.append(_vr(f"The solution {pkg.unique_name} {pkg.version} is older than the installed version "
                               f"{existing['version']}; a managed solution cannot be downgraded."))
    installed = {s["uniquename"].lower() for s in store.solutions.values()}
    missing = [d for d in pkg.missing_dependencies
               if d.get("RequiredSolutionName") and d["RequiredSolutionName"].lower() not in installed]
    return results, missing


def _vr(message: str) -> dict[str, Any]:
    return {"SolutionValidationResultType": "Error", "Message": message, "ErrorCode": -2147188707,
            "AdditionalInfo": None}


def stage(store: DataverseStore, pkg: PackageInfo) -> dict[str, Any]:
    """StageSolution: validate and keep the parsed package under a new upload id."""
    with store.lock:
        errors, missing = validation_errors(store, pkg)
        upload_id = store.new_id()
        status = "Passed" if not errors and not missing else "Failed"
        store.staged[upload_id] = {"package": pkg.to_dict(), "status": status, "errors": errors, "missing": missing}
        return {
            "StageSolutionUploadId": upload_id,
            "StageSolutionStatus": status,
            "SolutionDetails": {"SolutionUniqueName": pkg.unique_name, "SolutionFriendlyName": pkg.friendly_name,
                                "SolutionVersion": pkg.version, "IsManaged": pkg.managed,
                                "PublisherName": pkg.publisher, "SolutionDescription": None,
                                "IsConvertedSolution": False},
            "SolutionValidationResults": errors,
            "MissingDependencies": missing,
            "SolutionComponentsDetails": [],
        }


def staged_package(store: DataverseStore, upload_id: str) -> PackageInfo:
    entry = store.staged.get(str(upload_id).lower())
    if entry is None:
        raise not_found("StageSolutionUpload", str(upload_id))
    if entry["status"] != "Passed":
        msgs = [e["Message"] for e in entry["errors"]] + [
            f"missing dependency {d['RequiredComponentSchemaName']} from {d['RequiredSolutionName']}"
            for d in entry["missing"]]
        raise DataverseError(400, MISSING_DEPENDENCY if entry["missing"] and not entry["errors"] else IMPORT_OLDER_VERSION,
                             "The staged solution did not pass validation: " + "; ".join(msgs))
    return PackageInfo.from_dict(entry["package"])


# -- operations ----------------------------------------------------------------------------------
def find_solution(store: DataverseStore, unique_name: str) -> Record | None:
    return next((s for s in store.solutions.values() if s["uniquename"].lower() == unique_name.lower()), None)


def running_operation(store: DataverseStore) -> Record | None:
    return next((op for op in store.asyncoperations.values()
                 if op["statecode"] != STATE_COMPLETED and op.get("emu_kind") in ("import", "upgrade", "uninstall")), None)


def _refuse_if_running(store: DataverseStore, what: str) -> None:
    op = running_operation(store)
    if op is not None:
        running = "Uninstall" if op["emu_kind"] == "uninstall" else "Import"
        raise DataverseError(400, IMPORT_IN_PROGRESS,
                             f"Cannot start another [{what}] because there is a previous [{running}] running at this "
                             f"moment (asyncoperation {op['asyncoperationid']}). Try again later.")


def start_import(store: DataverseStore, pkg: PackageInfo, *, duration: float, upgrade: bool = False,
                 import_job_id: str | None = None, overwrite: bool = True) -> Record:
    """Register a running import (or stage-and-upgrade); it completes after ``duration`` seconds."""
    with store.lock:
        advance(store)
        _refuse_if_running(store, "Import")
        now = store.now()
        job_id = (import_job_id or store.new_id()).lower()
        if job_id in store.importjobs:
            raise DataverseError(409, "0x80040237", f"An import job with id {job_id} already exists.")
        op_id = store.new_id()
        op = store.touch({
            "asyncoperationid": op_id,
            "name": f"{'StageAndUpgrade' if upgrade else 'Import'} solution {pkg.unique_name}",
            "operationtype": OP_STAGE_AND_UPGRADE if upgrade else OP_IMPORT,
            "statecode": STATE_READY, "statuscode": STATUS_WAITING, "message": None, "friendlymessage": None,
            "createdon": iso(now), "startedon": iso(now), "completedon": None, "correlationid": store.new_id(),
            "emu_kind": "upgrade" if upgrade else "import", "emu_start": now, "emu_due": now + max(duration, 0.0),
            "emu_package": pkg.to_dict(), "emu_job": job_id, "emu_overwrite": overwrite}, created=True)
        store.asyncoperations[op_id] = op
        store.importjobs[job_id] = store.touch({
            "importjobid": job_id, "solutionname": pkg.unique_name, "progress": 0, "data": _job_xml(pkg, None),
            "startedon": iso(now), "completedon": None, "createdon": iso(now), "_solutionid_value": None,
            "emu_status": "InProgress", "emu_warnings": [], "emu_errors": []}, created=True)
        store.changed()
        return op


def start_uninstall(store: DataverseStore, unique_name: str, *, duration: float) -> Record:
    with store.lock:
        advance(store)
        sol = find_solution(store, unique_name)
        if sol is None:
            raise not_found("solution", unique_name)
        _refuse_if_running(store, "Uninstall")
        now = store.now()
        op_id = store.new_id()
        store.asyncoperations[op_id] = store.touch({
            "asyncoperationid": op_id, "name": f"Uninstall solution {sol['uniquename']}", "operationtype": OP_UNINSTALL,
            "statecode": STATE_READY, "statuscode": STATUS_WAITING, "message": None, "friendlymessage": None,
            "createdon": iso(now), "startedon": iso(now), "completedon": None, "correlationid": store.new_id(),
            "emu_kind": "uninstall", "emu_start": now, "emu_due": now + max(duration, 0.0),
            "emu_solution": sol["uniquename"]}, created=True)
        store.changed()
        return store.asyncoperations[op_id]


def delete_solution(store: DataverseStore, solution_id: str) -> None:
    """DELETE solutions(id): synchronous uninstall."""
    with store.lock:
        advance(store)
        sol = store.solutions.get(solution_id.lower())
        if sol is None:
            raise not_found("solution", solution_id)
        _refuse_if_running(store, "Uninstall")
        uninstall(store, sol["uniquename"])


def end_now(store: DataverseStore, operation_id: str) -> None:
    """Make a running operation due now: the next read of it finds it completed (tests use this to
    end an import at an exact point of a client's conversation instead of after a fixed time)."""
    with store.lock:
        store.asyncoperations[operation_id]["emu_due"] = store.now()


def advance(store: DataverseStore) -> None:
    """Complete every operation whose time has come; update progress of the others."""
    with store.lock:
        now = store.now()
        for op in list(store.asyncoperations.values()):
            if op["statecode"] == STATE_COMPLETED:
                continue
            if now >= op["emu_due"]:
                _complete(store, op)
            elif now >= op["emu_start"] + 0.25 * (op["emu_due"] - op["emu_start"]):
                if op["statuscode"] != STATUS_IN_PROGRESS:
                    op.update(statecode=STATE_LOCKED, statuscode=STATUS_IN_PROGRESS)
                    store.touch(op)
            job = store.importjobs.get(op.get("emu_job") or "")
            if job is not None and job["completedon"] is None:
                span = max(op["emu_due"] - op["emu_start"], 1e-9)
                job["progress"] = min(99, int(100 * (now - op["emu_start"]) / span))


def _complete(store: DataverseStore, op: Record) -> None:
    now = store.now()
    job = store.importjobs.get(op.get("emu_job") or "")
    try:
        if op["emu_kind"] == "uninstall":
            uninstall(store, op["emu_solution"])
            warnings: list[str] = []
        else:
            pkg = PackageInfo.from_dict(op["emu_package"])
            warnings = apply_import(store, pkg, upgrade=op["emu_kind"] == "upgrade")
        op.update(statecode=STATE_COMPLETED, statuscode=STATUS_SUCCEEDED, completedon=iso(now))
        if job is not None:
            sol = find_solution(store, job["solutionname"])
            job.update(progress=100, completedon=iso(now), emu_status="Passed", emu_warnings=warnings,
                       _solutionid_value=sol and sol["solutionid"], data=_job_xml(pkg, None))
    except DataverseError as exc:
        op.update(statecode=STATE_COMPLETED, statuscode=STATUS_FAILED, completedon=iso(now),
                  message=f"{exc.code}: {exc.message}", friendlymessage=exc.message)
        if job is not None:
            job.update(progress=100, completedon=iso(now), emu_status="Failed", emu_errors=[exc.message],
                       data=_job_xml(PackageInfo.from_dict(op["emu_package"]), exc))
    store.touch(op)
    if job is not None:
        store.touch(job)
    store.changed()


def apply_import(store: DataverseStore, pkg: PackageInfo, *, upgrade: bool = False) -> list[str]:
    """Create or upgrade the solution and its components. Returns warnings; raises on refusal."""
    with store.lock:
        errors, missing = validation_errors(store, pkg)
        if errors:
            raise DataverseError(400, IMPORT_OLDER_VERSION, errors[0]["Message"])
        if missing:
            names = ", ".join(f"{d['RequiredComponentSchemaName']} ({d['RequiredSolutionName']})" for d in missing)
            raise DataverseError(400, MISSING_DEPENDENCY,
                                 f"The solution {pkg.unique_name} cannot be imported: missing dependencies {names}.")
        warnings: list[str] = []
        now = store.now()
        sol = find_solution(store, pkg.unique_name)
        if sol is None:
            sid = str(uuid.uuid5(_NS, pkg.unique_name.lower()))
            sol = store.solutions[sid] = {"solutionid": sid, "uniquename": pkg.unique_name, "installedon": iso(now),
                                          "isvisible": True, "description": None,
                                          "_publisherid_value": str(uuid.uuid5(_NS, f"publisher:{pkg.publisher}"))}
            store.touch(sol, created=True)
        sol.update(friendlyname=pkg.friendly_name, version=pkg.version, ismanaged=pkg.managed)
        store.touch(sol)
        old = store.solution_components.get(pkg.unique_name, {"roles": [], "tables": {}})
        for schema, ownership in pkg.tables.items():
            store.add_table_privileges(schema, ownership)
        root = store.root_business_unit()["businessunitid"]
        for prole in pkg.roles:
            entries = []
            for name, level in prole.privileges.items():
                priv = store.privilege_by_name(name)
                if priv is None:
                    warnings.append(f"Role {prole.name}: privilege {name} does not exist and was skipped.")
                    continue
                depth = DEPTH_NAMES.index(level)
                allowed = allowed_depths(priv)
                if depth not in allowed:
                    closest = min(allowed, key=lambda d: abs(d - depth))
                    warnings.append(f"Role {prole.name}: {name} at {level} is not allowed; granted {DEPTH_NAMES[closest]}.")
                    depth = closest
                entries.append((priv["privilegeid"], depth))
            existing = store.roles.get(prole.id)
            if existing is None:
                store.create_role(prole.id, prole.name, root, managed=pkg.managed, solution_id=sol["solutionid"],
                                  customizable=prole.customizable or not pkg.managed)
            else:
                for rec in [existing, *store.copies_of(existing["roleid"])]:
                    rec.update(name=prole.name, ismanaged=pkg.managed or rec["ismanaged"],
                               _solutionid_value=sol["solutionid"])
                    rec["iscustomizable"] = {**rec["iscustomizable"], "Value": prole.customizable or not pkg.managed,
                                             "CanBeChanged": not rec["ismanaged"]}
                    store.touch(rec)
            store.role_privilege_map[prole.id] = {pid: d for pid, d in entries}
        new_roles = [r.id for r in pkg.roles]
        if upgrade:
            for rid in old["roles"]:
                if rid not in new_roles and rid in store.roles:
                    store.delete_role(rid, allow_managed=True)
            for schema in old["tables"]:
                if schema not in pkg.tables:
                    store.remove_table_privileges(schema)
            store.solution_components[pkg.unique_name] = {"roles": new_roles, "tables": dict(pkg.tables)}
        else:
            store.solution_components[pkg.unique_name] = {
                "roles": list(dict.fromkeys(old["roles"] + new_roles)), "tables": {**old["tables"], **pkg.tables}}
        store.changed()
        return warnings


def uninstall(store: DataverseStore, unique_name: str) -> None:
    """Remove a solution; a managed one takes its roles and tables' privileges with it."""
    with store.lock:
        sol = find_solution(store, unique_name)
        if sol is None:
            raise not_found("solution", unique_name)
        comps = store.solution_components.pop(sol["uniquename"], {"roles": [], "tables": {}})
        if sol["ismanaged"]:
            for rid in comps["roles"]:
                if rid in store.roles:
                    store.delete_role(rid, allow_managed=True)
            still_used = {t for c in store.solution_components.values() for t in c["tables"]}
            for schema in comps["tables"]:
                if schema not in still_used:
                    store.remove_table_privileges(schema)
        del store.solutions[sol["solutionid"]]
        store.changed()


def import_result(store: DataverseStore, job_id: str) -> dict[str, Any]:
    """RetrieveSolutionImportResult. Status while running is "InProgress" (UNCONFIRMED)."""
    with store.lock:
        advance(store)
        job = store.importjobs.get(job_id.lower().strip("'"))
        if job is None:
            raise not_found("importjob", job_id)
        return {"SolutionOperationResult": {"Status": job["emu_status"], "WarningMessages": list(job["emu_warnings"]),
                                            "ErrorMessages": list(job["emu_errors"])}}


def _job_xml(pkg: PackageInfo, error: DataverseError | None) -> str:
    """The import log of an import job (a small ImportExportXml-style document)."""
    result = ("<result result=\"success\" errorcode=\"0\" errortext=\"\" />" if error is None else
              f"<result result=\"failure\" errorcode={quoteattr(error.code)} errortext={quoteattr(error.message)} />")
    return (f"<importexportxml><solutionManifests><solutionManifest languagecode=\"1033\" "
            f"id={quoteattr(pkg.unique_name)} LocalizedName={quoteattr(pkg.friendly_name)} processed=\"true\">"
            f"<UniqueName>{pkg.unique_name}</UniqueName><Version>{pkg.version}</Version>"
            f"<Managed>{int(pkg.managed)}</Managed>{result}</solutionManifest></solutionManifests>"
            f"<roles>{''.join(f'<role id={quoteattr(r.id)} name={quoteattr(r.name)} />' for r in pkg.roles)}</roles>"
            f"</importexportxml>")


