"""The async-operation lifecycle: status codes, when to look, and waiting for the end.

Solution import, stage-and-upgrade and uninstall run as Dataverse *system jobs* (the
``asyncoperation`` table): the start answers at once with an ``AsyncOperationId`` and the work goes
on in the background.  Its ``statecode`` and ``statuscode`` say where it is; the values are those
of the table reference ("asyncoperation EntityType", Dataverse Web API reference, and "Asynchronous
operation states"): Ready/0 Waiting For Resources, Suspended/10 Waiting, Locked/20 In Progress,
21 Pausing, 22 Canceling, Completed/30 Succeeded, 31 Failed, 32 Canceled.

:func:`wait_for_operation` polls one operation with :class:`PollPolicy` until it ends and raises
:class:`AsyncOperationFailedError` or :class:`AsyncOperationStillRunningError` (client errors; the
providers turn them into their own failures).  It knows nothing of Pulumi: progress lines go to
the ``report`` callback.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Callable, Protocol

from infra.clients.errors import ClientError
from infra.clients.redact import logger

if TYPE_CHECKING:
    from infra.clients.dataverse.dto import AsyncOperation

__all__ = ["AsyncOperationState", "AsyncOperationStatus", "PollPolicy", "POLL", "expected_end",
           "wait_for_operation", "AsyncOperationFailedError", "AsyncOperationStillRunningError",
           "still_running_message"]


class AsyncOperationState(IntEnum):
    """``asyncoperation.statecode``."""

    READY = 0
    SUSPENDED = 1
    LOCKED = 2
    COMPLETED = 3


class AsyncOperationStatus(IntEnum):
    """``asyncoperation.statuscode``; each belongs to one :class:`AsyncOperationState`."""

    WAITING_FOR_RESOURCES = 0
    WAITING = 10
    IN_PROGRESS = 20
    PAUSING = 21
    CANCELING = 22
    SUCCEEDED = 30
    FAILED = 31
    CANCELED = 32

    @property
    def state(self) -> AsyncOperationState:
        """The ``statecode`` this status belongs to (Ready, Suspended, Locked or Completed)."""
        if self is AsyncOperationStatus.WAITING_FOR_RESOURCES:
            return AsyncOperationState.READY
        if self is AsyncOperationStatus.WAITING:
            return AsyncOperationState.SUSPENDED
        if self < AsyncOperationStatus.SUCCEEDED:
            return AsyncOperationState.LOCKED
        return AsyncOperationState.COMPLETED

    @property
    def is_running(self) -> bool:
        """Not completed yet: waiting, in progress, pausing or canceling."""
        return self.state is not AsyncOperationState.COMPLETED

    @classmethod
    def running(cls, code: int) -> bool:
        """Whether a raw ``statuscode`` is one of a running operation (an unknown code is not)."""
        try:
            return cls(code).is_running
        except ValueError:
            return False


class AsyncOperationFailedError(ClientError):
    """The operation ended without success (Failed, Canceled, or a status we do not know).

    ``operation`` is the last read of it; the message names the label, what it was and Dataverse's
    (friendly) message.
    """

    def __init__(self, message: str, operation: "AsyncOperation") -> None:
        super().__init__(message)
        self.operation = operation


class AsyncOperationStillRunningError(ClientError):
    """The operation did not end within the time-out; it goes on in the environment."""

    def __init__(self, message: str, operation_id: str) -> None:
        super().__init__(message)
        self.operation_id = operation_id


class OperationReader(Protocol):
    """What waiting needs of a client: one read of an async operation by id."""

    def get_async_operation(self, operation_id: str) -> "AsyncOperation":
        """The operation's current row (``asyncoperations(<id>)``)."""
        ...


@dataclass(frozen=True)
class PollPolicy:
    """When to look at a running operation, as offsets in seconds from its start (start-to-start,
    so a slow answer does not stretch the interval).

    Every ``cap`` seconds (below the 1 s notice target), which costs about one request a second
    however long the import runs.  The end is not known in advance (a fresh host has seen no
    earlier import), so once ``estimate_after`` seconds have passed the import job's progress is
    read once (when the caller can: ``progress_of``) and the expected end extrapolated from it;
    around that moment (``near_before`` .. ``near_after``) the operation is polled every ``fine``
    seconds, so the end is usually noticed within ``fine`` + one round trip.  A wrong estimate
    only costs a few polls: the ``cap`` cadence still holds everywhere else."""

    first: float = 0.5
    cap: float = 0.9
    estimate_after: float = 2.0
    fine: float = 0.25
    near_before: float = 0.5
    near_after: float = 1.5

    def next_offset(self, t: float, expected_end: float | None) -> float:
        """The offset of the poll after the one at offset ``t`` (seconds; ``expected_end`` too)."""
        if expected_end is not None and t < expected_end + self.near_after \
                and t + self.cap > expected_end - self.near_before:
            return max(t + self.fine, min(t + self.cap, expected_end - self.near_before))
        return t + self.cap


#: The policy used unless a caller passes another.
POLL = PollPolicy()


def expected_end(progress_of: Callable[[], float | None] | None, elapsed: float) -> float | None:
    """Linear extrapolation (seconds from the start) from the work's progress (0-100) after
    ``elapsed`` seconds; None when unknown, finished, or the read fails (it is only a hint)."""
    if progress_of is None:
        return None
    try:
        done = progress_of()
    except Exception:  # noqa: BLE001 - only a hint for the poll schedule
        return None
    if done is None or not 0 < float(done) < 100:
        return None
    return elapsed * 100.0 / float(done)


def still_running_message(label: str, what: str, timeout_s: float, op_id: str) -> str:
    """What to tell a person whose operation outlived the time-out (it goes on; a rerun picks it up)."""
    return (f"{label}: {what} still running after {timeout_s:.0f}s (async operation {op_id}); "
            "it continues in the environment -- run again later and the provider will pick it up")


def _describe_end(status: int) -> str:
    if status == AsyncOperationStatus.FAILED:
        return "failed"
    if status == AsyncOperationStatus.CANCELED:
        return "was canceled"
    return f"ended with status {status}"


def wait_for_operation(client: OperationReader, op_id: str, timeout_s: float, label: str, what: str, *,
                       policy: PollPolicy = POLL, progress_of: Callable[[], float | None] | None = None,
                       report: Callable[[str], None] = logger.info) -> "AsyncOperation":
    """Poll async operation ``op_id`` until it ends; return its last read when it succeeded.

    ``label`` and ``what`` name it in messages ("solution X 1.0.0.0", "import"); ``report`` gets
    the progress lines (the end, and every 10 s while it runs); ``progress_of`` reads the work's
    progress in percent (see :class:`PollPolicy`).  Raises :class:`AsyncOperationFailedError` when
    it ended otherwise, :class:`AsyncOperationStillRunningError` after ``timeout_s`` seconds, and
    whatever the read raises (client errors).
    """
    start = time.monotonic()
    last_report = start
    polls = 0
    offset = policy.first
    end: float | None = None
    asked = False
    while True:
        time.sleep(max(0.0, start + offset - time.monotonic()))
        op = client.get_async_operation(op_id)
        polls += 1
        status = int(op.status_code)
        if not AsyncOperationStatus.running(status):
            elapsed = time.monotonic() - start
            report(f"{label}: {what} ended after {elapsed:.1f}s ({polls} status checks)")
            if status == AsyncOperationStatus.SUCCEEDED:
                return op
            message = op.friendly_message or op.message or ""
            raise AsyncOperationFailedError(f"{label}: {what} {_describe_end(status)}: {message}".rstrip(": "), op)
        now = time.monotonic()
        if now - start > timeout_s:
            raise AsyncOperationStillRunningError(still_running_message(label, what, timeout_s, op_id), op_id)
        if now - last_report >= 10:
            report(f"{label}: {what} running for {now - start:.0f}s")
            last_report = now
        if not asked and now - start >= policy.estimate_after:
            asked = True
            end = expected_end(progress_of, time.monotonic() - start)
        offset = max(policy.next_offset(offset, end), time.monotonic() - start)
