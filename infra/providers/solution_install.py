"""Installing a solution package: stage it, start the import or upgrade, follow it to the end.

The package is streamed to StageSolution (the client base64-encodes from the file), so a 100 MB
package never sits in memory twice.  Import and uninstall are long-running async operations
followed with :func:`infra.clients.dataverse.operations.wait_for_operation`: the deployment
notices the end within about a second while the request count stays low.  The start of an import
is never retried blindly: after an ambiguous outcome we look for a running solution operation or
the installed version first; when Dataverse refuses the start because another solution operation
runs (it runs one at a time), we wait for that one instead of starting a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from infra.clients.dataverse import AsyncJob, AsyncOperation, DataverseApi, Solution, StageResult
from infra.clients.dataverse import operations
from infra.clients.errors import AmbiguousOutcomeError, ConflictError, ValidationError
from infra.model.solution_package import open_package
from infra.model.terms import is_guid, parse_version
from infra.providers.runtime import ProviderFailure, progress

__all__ = ["install_solution", "installed_solution", "resolve_package_path", "next_version", "wait_for_operation",
           "OperationStillRunning", "ADOPTED_EARLIER"]


class OperationStillRunning(ProviderFailure):
    """The operation did not end within the time-out; it goes on in the environment."""


#: ``_start_import``'s answer when an earlier import (ours) installed the target version meanwhile.
ADOPTED_EARLIER = object()


def resolve_package_path(path: str | Path) -> Path:
    """Where a package path from the inputs is on this machine.

    The program records the path relative to the project (the folder holding ``Pulumi.yaml``) so
    that the state is the same on every checkout: a CI runner and a laptop must not see a diff.
    The engine starts the provider host in the project folder or in ``main`` below it, so we look
    for ``Pulumi.yaml`` upwards from the working directory; absolute paths are used as given.
    """
    candidate = Path(path)
    if candidate.is_absolute():
        return candidate
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder / candidate
    return here / candidate


def next_version(version: str) -> str:
    """The version with its last part raised by one (``1.0.0.0`` -> ``1.0.0.1``): a suggestion."""
    parts = str(version).strip().split(".")
    return ".".join(parts[:-1] + [str(int(parts[-1]) + 1)]) if parts and parts[-1].isdigit() else version


def wait_for_operation(client: DataverseApi, op_id: str, timeout_s: float, label: str, what: str,
                       policy: operations.PollPolicy = operations.POLL,
                       progress_of: Callable[[], float | None] | None = None) -> AsyncOperation:
    """:func:`infra.clients.dataverse.operations.wait_for_operation` with progress lines for the
    person deploying; its failures as :class:`ProviderFailure` (:class:`OperationStillRunning`
    after ``timeout_s`` seconds)."""
    try:
        return operations.wait_for_operation(client, op_id, timeout_s, label, what, policy=policy,
                                             progress_of=progress_of, report=progress)
    except operations.AsyncOperationStillRunningError as exc:
        raise OperationStillRunning(exc.message) from None
    except operations.AsyncOperationFailedError as exc:
        raise ProviderFailure(exc.message) from None


#: What an import start leaves to follow: the job it answered, or the running operation found.
Job = AsyncJob | AsyncOperation


def _import_progress(client: DataverseApi, job: Job) -> Callable[[], float | None] | None:
    """Reads the import job's ``progress`` (0-100); the ImportJobKey the start answered with is
    the import job's id (it is what RetrieveSolutionImportResult takes)."""
    key = getattr(job, "import_job_key", None)
    if not key or not is_guid(str(key)):
        return None
    return lambda: client.import_job_progress(str(key))


def installed_solution(client: DataverseApi, unique_name: str) -> Solution | None:
    """The solution when it is installed (a row with ``installedon`` set), else None."""
    sol = client.find_solution(unique_name)
    if sol is None or not sol.installed_on:
        return None
    return sol


def _import_failure_details(client: DataverseApi, job: Job) -> str:
    key = getattr(job, "import_job_key", None)
    if not key:
        return ""
    try:
        result = client.solution_import_result(key)
    except Exception:  # noqa: BLE001 - the details are a courtesy; the failure is already known
        return ""
    errors = list(result.errors)
    return f"; import errors: {'; '.join(map(str, errors))}" if errors else ""


def _start_import(client: DataverseApi, inputs: Mapping[str, Any], stage: StageResult, upgrade: bool, label: str,
                  *, may_wait: bool = True) -> Job | None | object:
    """Start the import; the job to follow, or None when the target version is already in.

    Running solution operations are listed only when the start was refused (Dataverse runs one
    import at a time: e.g. one left running by an interrupted deployment, maybe ours) or its
    answer was lost -- not before every start."""
    try:
        return _send_start(client, inputs, stage, upgrade, label)
    except AmbiguousOutcomeError:
        # Never start a second import blindly: find the one we may have started.
        running = client.find_running_solution_operations()
        if running:
            progress(f"{label}: the import start's answer was lost; following running operation "
                     f"{running[0].async_operation_id}")
            return running[0]
        sol = installed_solution(client, inputs["unique_name"])
        if sol is not None and parse_version(sol.version) >= parse_version(inputs["version"]):
            return None  # it already finished
        raise ProviderFailure(
            f"{label}: the import start got no answer and no running import or installed version "
            f"{inputs['version']} was found; nothing else was attempted -- run again") from None
    except (ValidationError, ConflictError) as exc:
        running = client.find_running_solution_operations() if may_wait else []
        if not running:
            raise
        return _wait_for_earlier(client, inputs, stage, upgrade, label, running[0], exc)


def _is_ours(op: AsyncOperation, unique_name: str) -> bool:
    """Whether a running solution operation works on our solution (its name says so)."""
    return unique_name.lower() in str(op.name or "").lower()


def _wait_for_earlier(client: DataverseApi, inputs: Mapping[str, Any], stage: StageResult, upgrade: bool,
                      label: str, op: AsyncOperation, refusal: Exception) -> Job | None | object:
    """Dataverse runs one solution operation at a time and refused our start: wait for the one
    that runs (within our time-out) instead of starting a second import, then adopt its result.

    Ours (e.g. left running by a deployment that timed out): its success is adopted when it
    installed the target version, its failure is reported as ours -- nothing else is started.
    Someone else's: once it ended (either way) our import is started, once.  Still running when
    the time-out passes: the same "still running" refusal as the first run, no second start."""
    unique_name = inputs["unique_name"]
    timeout = float(inputs.get("timeout_seconds", 3600))
    ours = _is_ours(op, unique_name)
    what = f"the earlier import of {unique_name}" if ours else f"solution operation {op.name or ''}".rstrip()
    progress(f"{label}: {what} (async operation {op.async_operation_id}) is running; waiting up to {timeout:.0f}s for it "
             f"instead of starting another import ({getattr(refusal, 'code', None) or 'refused'})")
    try:
        wait_for_operation(client, op.async_operation_id, timeout, label, what)
    except OperationStillRunning as still:
        raise OperationStillRunning(f"{still}; no second import was started") from None
    except ProviderFailure as failure:
        if ours:
            raise ProviderFailure(f"{failure}; no new import was started -- fix the cause and run again "
                                  "(the next run starts a fresh import)") from None
        progress(f"{label}: {what} did not succeed ({failure}); starting ours")
    sol = installed_solution(client, unique_name)
    if sol is not None and parse_version(sol.version) >= parse_version(inputs["version"]):
        progress(f"{label}: {what} installed version {sol.version}; adopting it, nothing to import")
        return ADOPTED_EARLIER
    return _start_import(client, inputs, stage, upgrade, label, may_wait=False)


def _send_start(client: DataverseApi, inputs: Mapping[str, Any], stage: StageResult, upgrade: bool,
                label: str) -> AsyncJob:
    upload_id = stage.upload_id
    if upgrade:
        progress(f"{label}: starting stage-and-upgrade")
        return client.stage_and_upgrade_async(
            upload_id, overwrite_unmanaged=bool(inputs.get("overwrite_unmanaged_customizations", True)),
            publish_workflows=bool(inputs.get("publish_workflows", True)))
    progress(f"{label}: starting import")
    return client.import_solution_async(
        upload_id, overwrite_unmanaged=bool(inputs.get("overwrite_unmanaged_customizations", True)),
        publish_workflows=bool(inputs.get("publish_workflows", True)))


def _stage(client: DataverseApi, inputs: Mapping[str, Any], label: str) -> StageResult:
    path = resolve_package_path(inputs["package_path"])
    progress(f"{label}: staging package {path.name}")
    with open_package(path) as stream:
        stage = client.stage_solution(stream)
    status = stage.status
    missing = list(stage.missing_dependencies)
    if status != "Passed" or missing:
        deps = "; ".join(
            f"{d.get('RequiredComponentSchemaName') or d.get('RequiredComponentDisplayName') or d} "
            f"from solution {d.get('RequiredSolutionName', '?')}" for d in missing)
        results = [str(r.get("Message") or r.get("ErrorText") or r) for r in stage.validation_results
                   if str(r.get("SolutionValidationResultType", "Error")).lower() != "success"]
        raise ProviderFailure(
            f"{label}: staging failed (status {status})"
            + (f"; missing dependencies: {deps}" if missing else "")
            + (f"; validation: {'; '.join(map(str, results))}" if results else "")
            + " -- install the required solutions first; nothing was imported")
    return stage


def install_solution(client: DataverseApi, inputs: Mapping[str, Any], label: str, *,
                     reimport_same_version: bool = False) -> tuple[Solution, bool]:
    """Bring the solution to ``inputs['version']``.  Returns (solution row, adopted).

    Raises :class:`ProviderFailure` (a newer version installed, staging refused, the import
    failed or outlived ``timeout_seconds``) and client errors.

    ``reimport_same_version``: import even when that version is installed -- an unmanaged
    package whose bytes changed without a new version (re-importing the same version is the
    normal way to update an unmanaged solution).  A managed one is refused in check()."""
    unique_name, version = inputs["unique_name"], inputs["version"]
    managed = bool(inputs.get("managed"))
    timeout = float(inputs.get("timeout_seconds", 3600))
    installed = installed_solution(client, unique_name)
    # An import left running by an interrupted deployment (or someone else's) makes Dataverse
    # refuse our start; _start_import then waits for it and looks again (no list up front).
    if installed is not None:
        have = parse_version(installed.version)
        want = parse_version(version)
        if have == want and reimport_same_version and not managed:
            progress(f"{label}: version {version} is installed but the unmanaged package changed "
                     f"(sha256 {str(inputs.get('sha256'))[:12]}...); importing it again")
        elif have == want:
            progress(f"{label}: version {version} already installed; adopting")
            return installed, True
        if have > want:
            raise ProviderFailure(
                f"{label}: the environment has version {installed.version}, newer than the package's "
                f"{version}; deployments move forward -- put the newer package in solution/ "
                "(nothing was changed)")
    upgrade = managed and installed is not None
    stage = _stage(client, inputs, label)
    started = _start_import(client, inputs, stage, upgrade, label)
    adopted = started is ADOPTED_EARLIER
    if isinstance(started, (AsyncJob, AsyncOperation)):
        job = started
        try:
            wait_for_operation(client, job.async_operation_id, timeout, label,
                               "stage-and-upgrade" if upgrade else "import",
                               progress_of=_import_progress(client, job))
        except ProviderFailure as exc:
            raise ProviderFailure(f"{exc}{_import_failure_details(client, job)}") from None
    if not managed:
        progress(f"{label}: publishing customizations")
        client.publish_all()
    sol = installed_solution(client, unique_name)
    if sol is None:
        raise ProviderFailure(f"{label}: import reported success but {unique_name} is not installed")
    return sol, adopted


