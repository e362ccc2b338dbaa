"""Solution actions and functions: StageSolution, ImportSolution(Async), StageAndUpgradeAsync,
UninstallSolutionAsync, RetrieveSolutionImportResult, PublishAllXml, DELETE solutions(id)."""

from __future__ import annotations

import asyncio
from typing import Any

from . import solutions
from .errors import DataverseError, bad_request
from .http import DvRequest, DvResponse, Env, guid_key
from .solution_zip import PackageInfo, read_package

_IMPORT_KEYS = {"OverwriteUnmanagedCustomizations", "PublishWorkflows", "SolutionParameters", "ComponentParameters",
                "CustomizationFile", "ConvertToManaged", "SkipProductUpdateDependencies", "HoldingSolution",
                "ImportJobId", "SkipQueueRibbonJob", "LayerDesiredOrder", "AsyncRibbonProcessing", "IsTemplateMode",
                "TemplateSuffix", "TemplateDisplayNamePrefix"}


def _check_keys(body: dict[str, Any], allowed: set[str], action: str) -> None:
    unknown = set(body) - allowed
    if unknown:
        raise DataverseError(400, "0x80048d19", f"{action}: unknown parameter(s) {', '.join(sorted(unknown))}; "
                             f"allowed: {', '.join(sorted(allowed))}.")


def _package_from_file(req: DvRequest) -> PackageInfo:
    if req.blob is None:
        raise bad_request("CustomizationFile is required (a base64-encoded solution zip).")
    try:
        return read_package(req.blob, size=req.blob_size)
    finally:
        req.blob.close()


def _package(env: Env, req: DvRequest, body: dict[str, Any], action: str) -> PackageInfo:
    params = body.get("SolutionParameters") or {}
    if not isinstance(params, dict):
        raise bad_request(f"{action}: SolutionParameters must be an object.")
    upload = params.get("StageSolutionUploadId")
    if upload and req.blob is not None:
        raise bad_request(f"{action}: give either SolutionParameters.StageSolutionUploadId or CustomizationFile, not both.")
    if upload:
        return solutions.staged_package(env.store, str(upload))
    return _package_from_file(req)


def stage_solution(env: Env, req: DvRequest) -> DvResponse:
    body = req.body or {}
    _check_keys(body, {"CustomizationFile"}, "StageSolution")
    env.store.require_admin(req.caller, "prvImportSolution", "solution")
    results = solutions.stage(env.store, _package_from_file(req))
    return DvResponse(200, {"@odata.context": f"{env.base_url}/$metadata#Microsoft.Dynamics.CRM.StageSolutionResponse",
                            "StageSolutionResults": results})


def import_solution_async(env: Env, req: DvRequest, *, upgrade: bool = False) -> DvResponse:
    action = "StageAndUpgradeAsync" if upgrade else "ImportSolutionAsync"
    body = req.body or {}
    _check_keys(body, _IMPORT_KEYS, action)
    env.store.require_admin(req.caller, "prvImportSolution", "solution")
    pkg = _package(env, req, body, action)
    op = solutions.start_import(env.store, pkg, duration=env.import_seconds, upgrade=upgrade,
                                overwrite=bool(body.get("OverwriteUnmanagedCustomizations", True)))
    return DvResponse(200, {"@odata.context": f"{env.base_url}/$metadata#Microsoft.Dynamics.CRM.{action}Response",
                            "AsyncOperationId": op["asyncoperationid"], "ImportJobKey": op["emu_job"]})


async def import_solution(env: Env, req: DvRequest) -> DvResponse:
    """Synchronous import: holds the request for import_seconds, then answers 204 or the error."""
    body = req.body or {}
    _check_keys(body, _IMPORT_KEYS, "ImportSolution")
    env.store.require_admin(req.caller, "prvImportSolution", "solution")
    job_id = guid_key(str(body["ImportJobId"]), "ImportJobId") if body.get("ImportJobId") else None
    pkg = _package_from_file(req)
    op = solutions.start_import(env.store, pkg, duration=env.import_seconds, import_job_id=job_id,
                                overwrite=bool(body.get("OverwriteUnmanagedCustomizations", True)))
    remaining = op["emu_due"] - env.store.now()
    if remaining > 0:
        await asyncio.sleep(remaining)
    with env.store.lock:
        op["emu_due"] = min(op["emu_due"], env.store.now())   # a frozen test clock must not hang us
        solutions.advance(env.store)
    if op["statuscode"] != solutions.STATUS_SUCCEEDED:
        code, _, message = (op["message"] or "0x80048060: import failed").partition(": ")
        raise DataverseError(400, code, message)
    return DvResponse(204)


def uninstall_solution_async(env: Env, req: DvRequest) -> DvResponse:
    body = req.body or {}
    _check_keys(body, {"SolutionUniqueName"}, "UninstallSolutionAsync")
    if not body.get("SolutionUniqueName"):
        raise bad_request("UninstallSolutionAsync: SolutionUniqueName is required.")
    env.store.require_admin(req.caller, "prvImportSolution", "solution")
    op = solutions.start_uninstall(env.store, str(body["SolutionUniqueName"]), duration=env.import_seconds)
    return DvResponse(200, {"@odata.context": f"{env.base_url}/$metadata#Microsoft.Dynamics.CRM.UninstallSolutionAsyncResponse",
                            "AsyncOperationId": op["asyncoperationid"]})


def delete_solution(env: Env, req: DvRequest, key: str) -> DvResponse:
    if key not in env.store.solutions:
        raise DataverseError(404, "0x80040217", f"solution With Ids = {key} Do Not Exist")
    env.store.require_admin(req.caller, "prvImportSolution", "solution")
    solutions.delete_solution(env.store, key)
    return DvResponse(204)


def publish_all(env: Env, req: DvRequest) -> DvResponse:
    if req.body:
        raise DataverseError(400, "0x80048d19", "PublishAllXml takes no parameters.")
    env.store.require_admin(req.caller, "prvPublishCustomizations", "solution")
    with env.store.lock:
        env.store.published += 1
    return DvResponse(204)


def retrieve_import_result(env: Env, req: DvRequest, args: dict[str, str]) -> DvResponse:
    if set(args) != {"ImportJobId"}:
        raise bad_request("RetrieveSolutionImportResult takes exactly one parameter: ImportJobId=<guid>.")
    return DvResponse(200, {"@odata.context": f"{env.base_url}/$metadata#Microsoft.Dynamics.CRM.RetrieveSolutionImportResultResponse",
                            **solutions.import_result(env.store, args["ImportJobId"])})
