"""SolutionImport: bring the integration solution to the declared version, forward only.

State holds the unique name, version, managed flag and the package's SHA-256 -- never the
bytes.  The package is streamed to StageSolution (the client base64-encodes from the file), so a
100 MB package never sits in memory twice.  Import and uninstall are long-running asynchronous
operations polled with a short, capped interval: the deployment notices the end within about a
second while the request count stays low.  The start of an import is never retried blindly: after
an ambiguous outcome we look for a running solution operation or the installed version first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, ReadResult, UpdateResult

from infra.clients.errors import AmbiguousOutcomeError, ClientError, ConflictError, NotFoundError, ValidationError
from infra.providers.base import (
    GUID_RE, DataverseProvider, FieldRule, ProviderFailure, client_for, connection_of, credentials_available,
    is_unknown, progress, strip_internal, user_errors, warn,
)
from infra.providers.preflight import ensure_preflight

__all__ = ["SolutionImport", "SolutionImportArgs", "SolutionImportProvider", "parse_version",
           "resolve_package_path",
           "install_solution", "wait_for_operation", "PollPolicy", "OperationStillRunning"]

RUNNING_STATUS = {0, 10, 20, 21, 22}
SUCCEEDED, FAILED, CANCELED = 30, 31, 32


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


def _next_version(version: str) -> str:
    """The version with its last part raised by one (``1.0.0.0`` -> ``1.0.0.1``): a suggestion."""
    parts = str(version).strip().split(".")
    return ".".join(parts[:-1] + [str(int(parts[-1]) + 1)]) if parts and parts[-1].isdigit() else version


def parse_version(version: str) -> tuple[int, ...]:
    parts = str(version).strip().split(".")
    if not 2 <= len(parts) <= 4 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{version!r} is not a solution version (major.minor[.build[.revision]])")
    nums = [int(p) for p in parts]
    return tuple(nums + [0] * (4 - len(nums)))


@dataclass(frozen=True)
class PollPolicy:
    """When to look at a running operation, as offsets from its start (start-to-start, so a
    slow answer does not stretch the interval).

    Every ``cap`` seconds (below the issue's 1 s notice target), which costs about one request a
    second however long the import runs.  The end is not known in advance (a fresh host has seen
    no earlier import), so once ``estimate_after`` seconds have passed the import job's progress
    is read once (when the caller can: ``progress_of``) and the expected end extrapolated from
    it; around that moment (``near_before`` .. ``near_after``) the operation is polled every
    ``fine`` seconds, so the end is usually noticed within ``fine`` + one round trip.  A wrong
    estimate only costs a few polls: the ``cap`` cadence still holds everywhere else."""

    first: float = 0.5
    cap: float = 0.9
    estimate_after: float = 2.0
    fine: float = 0.25
    near_before: float = 0.5
    near_after: float = 1.5

    def next_offset(self, t: float, expected_end: float | None) -> float:
        """The offset of the poll after the one at offset ``t``."""
        if expected_end is not None and t < expected_end + self.near_after \
                and t + self.cap > expected_end - self.near_before:
            return max(t + self.fine, min(t + self.cap, expected_end - self.near_before))
        return t + self.cap


POLL = PollPolicy()


def _status(op: Any) -> int:
    return int(op.status_code)


def _op_id(job: Any) -> str:
    return str(job.async_operation_id)


def _expected_end(progress_of: Callable[[], float | None] | None, elapsed: float) -> float | None:
    """Linear extrapolation from the import job's progress (0-100); None when unknown."""
    if progress_of is None:
        return None
    try:
        done = progress_of()
    except Exception:  # noqa: BLE001 - only a hint for the poll schedule
        return None
    if done is None or not 0 < float(done) < 100:
        return None
    return elapsed * 100.0 / float(done)


def wait_for_operation(client: Any, op_id: str, timeout_s: float, label: str, what: str,
                       policy: PollPolicy = POLL,
                       progress_of: Callable[[], float | None] | None = None) -> Any:
    """Poll an async operation until it ends; return it.  Raises on failure / time-out.
    ``progress_of``: reads the work's progress in percent (see :class:`PollPolicy`)."""
    start = time.monotonic()
    last_report = start
    polls = 0
    offset = policy.first
    expected_end: float | None = None
    asked = False
    while True:
        time.sleep(max(0.0, start + offset - time.monotonic()))
        op = client.get_async_operation(op_id)
        polls += 1
        status = _status(op)
        if status not in RUNNING_STATUS:
            elapsed = time.monotonic() - start
            progress(f"{label}: {what} ended after {elapsed:.1f}s ({polls} status checks)")
            if status == SUCCEEDED:
                return op
            message = op.friendly_message or op.message or ""
            state = {FAILED: "failed", CANCELED: "was canceled"}.get(status, f"ended with status {status}")
            raise ProviderFailure(f"{label}: {what} {state}: {message}".rstrip(": "))
        now = time.monotonic()
        if now - start > timeout_s:
            raise OperationStillRunning(still_running_message(label, what, timeout_s, op_id))
        if now - last_report >= 10:
            progress(f"{label}: {what} running for {now - start:.0f}s")
            last_report = now
        if not asked and now - start >= policy.estimate_after:
            asked = True
            expected_end = _expected_end(progress_of, time.monotonic() - start)
        offset = max(policy.next_offset(offset, expected_end), time.monotonic() - start)


def still_running_message(label: str, what: str, timeout_s: float, op_id: str) -> str:
    return (f"{label}: {what} still running after {timeout_s:.0f}s (async operation {op_id}); "
            "it continues in the environment -- run again later and the provider will pick it up")


def _import_progress(client: Any, job: Any) -> Callable[[], float | None] | None:
    """Reads the import job's ``progress`` (0-100); the ImportJobKey the start answered with is
    the import job's id (it is what RetrieveSolutionImportResult takes)."""
    key = getattr(job, "import_job_key", None)
    if not key or not GUID_RE.match(str(key).strip("{}")):
        return None
    return lambda: client.import_job_progress(str(key))


def _installed(client: Any, unique_name: str) -> Any | None:
    sol = client.find_solution(unique_name)
    if sol is None:
        return None
    if not sol.installed_on:
        return None
    return sol


def _import_failure_details(client: Any, job: Any) -> str:
    key = getattr(job, "import_job_key", None)
    if not key:
        return ""
    try:
        result = client.solution_import_result(key)
    except Exception:  # noqa: BLE001 - the details are a courtesy; the failure is already known
        return ""
    errors = list(result.errors)
    return f"; import errors: {'; '.join(map(str, errors))}" if errors else ""


def _start_import(client: Any, inputs: Mapping[str, Any], stage: Any, upgrade: bool, label: str,
                  *, may_wait: bool = True) -> Any:
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
                     f"{_op_id(running[0])}")
            return running[0]
        sol = _installed(client, inputs["unique_name"])
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


def _is_ours(op: Any, unique_name: str) -> bool:
    """Whether a running solution operation works on our solution (its name says so)."""
    return unique_name.lower() in str(op.name or "").lower()


def _wait_for_earlier(client: Any, inputs: Mapping[str, Any], stage: Any, upgrade: bool, label: str,
                      op: Any, refusal: Exception) -> Any:
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
    progress(f"{label}: {what} (async operation {_op_id(op)}) is running; waiting up to {timeout:.0f}s for it "
             f"instead of starting another import ({getattr(refusal, 'code', None) or 'refused'})")
    try:
        wait_for_operation(client, _op_id(op), timeout, label, what)
    except OperationStillRunning as still:
        raise OperationStillRunning(f"{still}; no second import was started") from None
    except ProviderFailure as failure:
        if ours:
            raise ProviderFailure(f"{failure}; no new import was started -- fix the cause and run again "
                                  "(the next run starts a fresh import)") from None
        progress(f"{label}: {what} did not succeed ({failure}); starting ours")
    sol = _installed(client, unique_name)
    if sol is not None and parse_version(sol.version) >= parse_version(inputs["version"]):
        progress(f"{label}: {what} installed version {sol.version}; adopting it, nothing to import")
        return ADOPTED_EARLIER
    return _start_import(client, inputs, stage, upgrade, label, may_wait=False)


def _send_start(client: Any, inputs: Mapping[str, Any], stage: Any, upgrade: bool, label: str) -> Any:
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


def _stage(client: Any, inputs: Mapping[str, Any], label: str) -> Any:
    from infra.model.solution_package import open_package

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


def install_solution(client: Any, inputs: Mapping[str, Any], label: str, *,
                     reimport_same_version: bool = False) -> tuple[Any, bool]:
    """Bring the solution to ``inputs['version']``.  Returns (solution row, adopted).

    ``reimport_same_version``: import even when that version is installed -- an unmanaged
    package whose bytes changed without a new version (re-importing the same version is the
    normal way to update an unmanaged solution).  A managed one is refused in check()."""
    unique_name, version = inputs["unique_name"], inputs["version"]
    managed = bool(inputs.get("managed"))
    timeout = float(inputs.get("timeout_seconds", 3600))
    installed = _installed(client, unique_name)
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
    job = _start_import(client, inputs, stage, upgrade, label)
    adopted = job is ADOPTED_EARLIER
    if adopted:
        job = None
    if job is not None:
        try:
            wait_for_operation(client, _op_id(job), timeout, label,
                               "stage-and-upgrade" if upgrade else "import",
                               progress_of=_import_progress(client, job))
        except ProviderFailure as exc:
            raise ProviderFailure(f"{exc}{_import_failure_details(client, job)}") from None
    if not managed:
        progress(f"{label}: publishing customizations")
        client.publish_all()
    sol = _installed(client, unique_name)
    if sol is None:
        raise ProviderFailure(f"{label}: import reported success but {unique_name} is not installed")
    return sol, adopted


class SolutionImportProvider(DataverseProvider):
    resource_label = "SolutionImport"
    fields = (FieldRule("unique_name", replace=True), FieldRule("version"), FieldRule("managed"),
              FieldRule("sha256"),
              FieldRule("overwrite_unmanaged_customizations"), FieldRule("publish_workflows"),
              FieldRule("uninstall_on_delete"), FieldRule("timeout_seconds"))

    def validate(self, news: Mapping[str, Any]) -> list[CheckFailure]:
        failures: list[CheckFailure] = []
        for key in ("unique_name", "version", "sha256", "package_path"):
            if not is_unknown(news.get(key)) and not isinstance(news.get(key), str):
                failures.append(CheckFailure(key, f"{key} is required (a string), got {news.get(key)!r}"))
        if failures:
            return failures
        try:
            parse_version(news["version"])
        except ValueError as exc:
            failures.append(CheckFailure("version", str(exc)))
        sha = news["sha256"]
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha.lower()):
            failures.append(CheckFailure("sha256", f"sha256 must be 64 hex characters, got {sha!r}"))
        path = resolve_package_path(news["package_path"])
        if not path.exists():
            failures.append(CheckFailure("package_path", f"package not found: {path}"))
        timeout = news.get("timeout_seconds", 3600)
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            failures.append(CheckFailure("timeout_seconds", f"must be a positive number, got {timeout!r}"))
        if not failures:
            failures += self._package_failures(news)
        return failures

    @staticmethod
    def _package_failures(news: Mapping[str, Any]) -> list[CheckFailure]:
        """The manifest must match the declared identity; the stand-in stays in the emulator."""
        from infra.model.solution_package import PackageError, assert_importable, read_package

        try:
            info = read_package(resolve_package_path(news["package_path"]))
        except PackageError as exc:
            return [CheckFailure("package_path", str(exc))]
        failures = []
        for key, actual in (("unique_name", info.unique_name), ("version", info.version),
                            ("managed", info.managed)):
            if key in news and news[key] != actual and not (key == "managed" and bool(news[key]) == actual):
                failures.append(CheckFailure(key, f"{key} {news[key]!r} does not match the package manifest ({actual!r})"))
        if info.sha256 != str(news["sha256"]).lower():
            failures.append(CheckFailure("sha256", f"sha256 does not match the package ({info.sha256})"))
        conn = news.get("connection") or {}
        if isinstance(conn, Mapping) and isinstance(conn.get("environment_url"), str):
            try:
                assert_importable(info, conn["environment_url"])
            except PackageError as exc:
                failures.append(CheckFailure("package_path", str(exc)))
        return failures

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        result = super().check(olds, news)
        if not result.failures:
            failure = self._same_version_new_bytes(olds, result.inputs)
            if failure is not None:
                result.failures.append(failure)
        return result

    @staticmethod
    def _same_version_new_bytes(olds: Mapping[str, Any], news: Mapping[str, Any]) -> CheckFailure | None:
        """A managed package whose bytes changed but whose version did not is refused here, at
        preview, before anything is written: Dataverse keeps an installed managed solution of
        the same version, so the new content would never arrive (an unmanaged one is imported
        again by update()).  Compared with what the state recorded; the installed version is
        read live when credentials are present."""
        old_sha, new_sha = str(olds.get("sha256") or "").lower(), str(news.get("sha256") or "").lower()
        if not old_sha or not new_sha or old_sha == new_sha or not news.get("managed"):
            return None
        if any(is_unknown(news.get(k)) for k in ("version", "unique_name")) or not olds.get("version"):
            return None
        try:
            if parse_version(olds["version"]) != parse_version(news["version"]):
                return None
        except ValueError:
            return None
        installed = str(olds["version"])
        where = "recorded in the stack state"
        try:
            connection = connection_of(news)
            if credentials_available(connection):
                live = _installed(client_for(news), news["unique_name"])
                if live is not None:
                    installed, where = str(live.version), "installed in the environment"
        except (ClientError, ProviderFailure) as exc:
            warn(f"solution {news['unique_name']}: could not read the installed version in preview: {exc}")
        return CheckFailure("sha256", (
            f"solution {news['unique_name']}: the package changed but its version did not -- version "
            f"{installed} is {where} (package sha256 {old_sha}) and the package {news.get('package_path')} "
            f"is version {news['version']} too (sha256 {new_sha}). Dataverse keeps an installed managed "
            f"solution of the same version, so the new content would never arrive: raise the version in "
            f"solution.xml (e.g. {_next_version(news['version'])}) and run again. Nothing was changed."))

    def canonical(self, news: dict[str, Any]) -> dict[str, Any]:
        out = dict(news)
        out["sha256"] = str(news["sha256"]).lower()
        out["managed"] = bool(news.get("managed", False))
        out.setdefault("overwrite_unmanaged_customizations", True)
        out.setdefault("publish_workflows", True)
        out["uninstall_on_delete"] = bool(news.get("uninstall_on_delete", False))
        out["timeout_seconds"] = news.get("timeout_seconds", 3600)
        return out

    def equal(self, name: str, old: Any, new: Any) -> bool:
        if name == "timeout_seconds":
            return float(old or 3600) == float(new or 3600)
        return old == new

    def _outs(self, props: Mapping[str, Any], sol: Any, adopted: bool) -> dict[str, Any]:
        return {**strip_internal(props), "solution_id": str(sol.solution_id),
                "installed_version": str(sol.version), "adopted": adopted}

    def _label(self, props: Mapping[str, Any]) -> str:
        return f"solution {props['unique_name']} {props['version']}"

    def _install(self, props: Mapping[str, Any], *, reimport_same_version: bool = False) -> tuple[Any, bool]:
        from infra.model.solution_package import PackageError, assert_importable, read_package

        label = self._label(props)
        connection = connection_of(props)
        try:
            info = read_package(resolve_package_path(props["package_path"]))
            assert_importable(info, connection.environment_url)
        except PackageError as exc:
            raise ProviderFailure(f"{label}: {exc}") from None
        if info.sha256 != props["sha256"]:
            raise ProviderFailure(f"{label}: the package changed since preview (sha256 {info.sha256}); "
                                  "run the deployment again")
        client = client_for(props)
        ensure_preflight(connection, client)
        return install_solution(client, props, label, reimport_same_version=reimport_same_version)

    @user_errors("SolutionImport")
    def create(self, props: dict[str, Any]) -> CreateResult:
        sol, adopted = self._install(props)
        return CreateResult(str(sol.solution_id), self._outs(props, sol, adopted))

    @user_errors("SolutionImport")
    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if (olds.get("version") == news["version"] and olds.get("sha256") == news["sha256"]
                and olds.get("managed") == news["managed"]):
            return UpdateResult({**olds, **strip_internal(news)})
        changed_bytes = str(olds.get("sha256") or "").lower() != news["sha256"]
        sol, adopted = self._install(news, reimport_same_version=changed_bytes and not news["managed"])
        return UpdateResult(self._outs(news, sol, adopted))

    @user_errors("SolutionImport")
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        client = client_for(props)
        sol = _installed(client, props["unique_name"])
        if sol is None:
            return ReadResult("", {})
        outs = {**strip_internal(props), "solution_id": str(sol.solution_id),
                "installed_version": str(sol.version),
                "managed": bool(sol.is_managed)}
        inputs = {k: v for k, v in strip_internal(props).items()
                  if k not in ("solution_id", "installed_version", "adopted")}
        if str(sol.version) != props.get("version"):
            progress(f"solution {props['unique_name']}: installed version is {sol.version}, "
                     f"state says {props.get('version')}")
            inputs["version"] = str(sol.version)
            outs["version"] = str(sol.version)
        inputs["managed"] = outs["managed"]
        return ReadResult(str(sol.solution_id), outs, inputs)

    @user_errors("SolutionImport")
    def delete(self, id_: str, props: dict[str, Any]) -> None:
        label = f"solution {props.get('unique_name')}"
        if not props.get("uninstall_on_delete"):
            progress(f"{label}: left installed (uninstall_on_delete is false)")
            return
        client = client_for(props)
        ensure_preflight(connection_of(props), client)
        if _installed(client, props["unique_name"]) is None:
            progress(f"{label}: already uninstalled")
            return
        progress(f"{label}: uninstalling")
        try:
            job = client.uninstall_solution_async(props["unique_name"])
        except NotFoundError:
            return
        wait_for_operation(client, _op_id(job), float(props.get("timeout_seconds", 3600)), label, "uninstall")


@dataclass
class SolutionImportArgs:
    connection: Mapping[str, Any]
    package_path: Any
    unique_name: Any
    version: Any
    managed: Any
    sha256: Any
    overwrite_unmanaged_customizations: bool = True
    publish_workflows: bool = True
    uninstall_on_delete: bool = False
    timeout_seconds: float = 3600


class SolutionImport(pulumi.dynamic.Resource, module="dataverse", name="SolutionImport"):
    """A Dataverse solution installed at (at least) the package's version."""

    solution_id: pulumi.Output[str]
    installed_version: pulumi.Output[str]
    provider_class = SolutionImportProvider

    def __init__(self, name: str, args: SolutionImportArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {k: getattr(args, k) for k in SolutionImportArgs.__dataclass_fields__}
        props["package_path"] = str(props["package_path"]) if isinstance(props["package_path"], Path) else props["package_path"]
        props.update({"solution_id": None, "installed_version": None, "adopted": None})
        super().__init__(SolutionImportProvider(), name, props, opts)
