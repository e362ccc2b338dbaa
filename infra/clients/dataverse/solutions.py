"""Solutions: find, stage, import or upgrade, uninstall, publish -- and the jobs they start.

The sequence follows "Stage, import, and upgrade solutions" (Dataverse ALM docs): ``StageSolution``
uploads and validates the package once, ``ImportSolutionAsync`` or ``StageAndUpgradeAsync`` start
the work with the upload's id and answer an ``AsyncOperationId`` (plus ``ImportJobKey``), and the
async operation is followed until it ends (:mod:`.operations`).  The starts are sent as
*non-idempotent*: an unknown outcome raises :class:`~infra.clients.errors.AmbiguousOutcomeError`
instead of being retried, so a lost answer never starts a second import.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from infra import facts
from infra.clients.dataverse.core import DataverseCore
from infra.clients.dataverse.dto import (
    ASYNC_OPERATION_SELECT,
    IMPORT_JOB_SELECT,
    SOLUTION_SELECT,
    AsyncJob,
    AsyncOperation,
    ImportJob,
    ImportResult,
    Solution,
    StageResult,
)
from infra.clients.dataverse.operations import AsyncOperationState
from infra.clients.dataverse.staging import open_package, stage_body_length, stage_solution_body
from infra.clients.errors import ConfigurationError
from infra.clients.http import Timeouts
from infra.clients.odata import url_guid, quote

__all__ = ["SolutionsApi", "SOLUTION_OPERATION_TYPES"]

#: Async operation types of solution work (UNCONFIRMED, see infra/facts.py).
SOLUTION_OPERATION_TYPES = facts.SOLUTION_OPERATION_TYPES


class SolutionsApi(DataverseCore):
    """Solutions, their import jobs and the async operations solution work runs as."""

    def find_solution(self, unique_name: str) -> Solution | None:
        """The ``solutions`` row with this unique name (installed or not), or None."""
        rows = self.get_all("solutions", {"$select": SOLUTION_SELECT, "$filter": f"uniquename eq {quote(unique_name)}"})
        return Solution.from_json(rows[0]) if rows else None

    def stage_solution(self, package: BinaryIO | Path | str, *, timeout_s: float = 900.0) -> StageResult:
        """Upload and validate a package once (``StageSolution``), streaming it as base64 JSON.

        The body is produced block by block from the file (:mod:`.staging`), so memory use does
        not grow with the package size.  Staging has no lasting effect besides the upload, so it
        is retried like an idempotent call; ``timeout_s`` bounds reading, writing and the pool wait.
        """
        opener, size = open_package(package)
        headers = {"Content-Type": "application/json", "Content-Length": str(stage_body_length(size))}
        response = self.http.request(
            "POST", "StageSolution", content=lambda: stage_solution_body(opener), headers=headers, idempotent=True,
            timeout=Timeouts(connect=10, read=timeout_s, write=timeout_s, pool=timeout_s),
        )
        return StageResult.from_json(response.json())

    def _start_import(self, action: str, upload_id: str, overwrite_unmanaged: bool, publish_workflows: bool) -> AsyncJob:
        body = {
            "OverwriteUnmanagedCustomizations": bool(overwrite_unmanaged),
            "PublishWorkflows": bool(publish_workflows),
            "SolutionParameters": {"StageSolutionUploadId": upload_id},
            "ComponentParameters": [],
        }
        return AsyncJob.from_json(self._json("POST", action, body=body, idempotent=False))

    def import_solution_async(self, upload_id: str, *, overwrite_unmanaged: bool = True,
                              publish_workflows: bool = True) -> AsyncJob:
        """Start an import (non-idempotent: an unknown outcome raises AmbiguousOutcomeError)."""
        return self._start_import("ImportSolutionAsync", upload_id, overwrite_unmanaged, publish_workflows)

    def stage_and_upgrade_async(self, upload_id: str, *, overwrite_unmanaged: bool = True,
                                publish_workflows: bool = True) -> AsyncJob:
        """Start a managed upgrade (removes deleted components).  Non-idempotent."""
        return self._start_import("StageAndUpgradeAsync", upload_id, overwrite_unmanaged, publish_workflows)

    def get_async_operation(self, operation_id: str) -> AsyncOperation:
        """The async operation's current row; :class:`NotFoundError` if there is none."""
        oid = url_guid(operation_id, "async operation id")
        return AsyncOperation.from_json(self.get(f"asyncoperations({oid})", {"$select": ASYNC_OPERATION_SELECT}))

    def find_running_solution_operations(self) -> list[AsyncOperation]:
        """Async operations not yet completed whose name says they import, upgrade or uninstall a
        solution -- what a second import would collide with."""
        rows = self.get_all("asyncoperations", {"$select": ASYNC_OPERATION_SELECT,
                                                "$filter": f"statecode ne {int(AsyncOperationState.COMPLETED)}"})
        ops = [AsyncOperation.from_json(r) for r in rows]
        return [op for op in ops if "solution" in (op.name or "").lower() or op.operation_type in SOLUTION_OPERATION_TYPES]

    def solution_import_result(self, import_job_key: str) -> ImportResult:
        """``RetrieveSolutionImportResult`` for an import's ``ImportJobKey`` (a GUID, else quoted)."""
        key = str(import_job_key).strip()
        try:
            arg = url_guid(key, "import job key")
        except ConfigurationError:
            arg = quote(key)
        return ImportResult.from_json(self.get(f"RetrieveSolutionImportResult(ImportJobId={arg})") or {})

    def get_import_job(self, import_job_id: str) -> ImportJob:
        """The import job, its log included (``data``, XML, can be large)."""
        jid = url_guid(import_job_id, "import job id")
        return ImportJob.from_json(self.get(f"importjobs({jid})", {"$select": IMPORT_JOB_SELECT}), jid)

    def import_job_progress(self, import_job_id: str) -> float | None:
        """The import job's ``progress`` (0-100) alone -- not its XML log, which can be large."""
        jid = url_guid(import_job_id, "import job id")
        d = self.get(f"importjobs({jid})", {"$select": "progress"}) or {}
        value = d.get("progress")
        return None if value is None else float(value)

    def uninstall_solution_async(self, unique_name: str) -> AsyncJob:
        """Start an uninstall (non-idempotent)."""
        return AsyncJob.from_json(self._json("POST", "UninstallSolutionAsync",
                                             body={"SolutionUniqueName": unique_name}, idempotent=False))

    def delete_solution(self, solution_id: str) -> bool:
        """Delete the solution row (uninstall); ``False`` when it was already gone."""
        return self._delete(f"solutions({url_guid(solution_id, 'solution id')})")

    def publish_all(self) -> None:
        """Publish all customizations; publishing twice is harmless, so it is retried."""
        self._json("POST", "PublishAllXml", idempotent=True)
