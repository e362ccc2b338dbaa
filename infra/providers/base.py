"""What every Dataverse dynamic provider shares: input validation, clients, logging, errors.

Why a base module: the providers are pickled (dill, by reference) into Pulumi state and run in
the SDK's provider host, possibly many operations at once on a 4-worker pool.  So a provider
object holds nothing but class-level constants; it builds its Dataverse client at operation time
from the ``connection`` input and the credentials in the environment.  Everything here is a
plain function so the reconcile modules stay small and testable.
"""

from __future__ import annotations

import re
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable, Mapping, TypeVar

import pulumi
from pulumi.runtime.settings import get_engine
from pulumi.dynamic import CheckFailure, CheckResult, DiffResult, ResourceProvider

from infra.clients.connection import Connection
from infra.clients.errors import ClientError, ConfigurationError

__all__ = [
    "GUID_RE", "is_guid", "norm_guid", "is_unknown", "progress", "warn", "ProviderFailure",
    "DataverseProvider", "connection_failures", "connection_of", "client_for", "user_errors",
    "strip_internal", "FieldRule",
]

GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

T = TypeVar("T")


def is_guid(value: Any) -> bool:
    return isinstance(value, str) and bool(GUID_RE.match(value.strip().strip("{}")))


def norm_guid(value: str) -> str:
    """Lower-case, brace-less GUID: the form we compare and store."""
    return value.strip().strip("{}").lower()


def is_unknown(value: Any) -> bool:
    """True for a value preview does not know yet (another resource's pending output)."""
    from pulumi.output import Unknown
    from pulumi.runtime import rpc

    return isinstance(value, Unknown) or value == rpc.UNKNOWN


#: One line at a time on the provider host's stderr (see :func:`progress`).
_STDERR_LOCK = threading.Lock()


def _host_log(severity: str, message: str) -> None:
    if get_engine() is not None:  # a program or a test with an engine connection
        (pulumi.log.info if severity == "info" else pulumi.log.warn)(message)
        return
    # ``pulumi.log`` prints the text and its newline as two writes: under the engine, operations
    # running in parallel in one provider host glued their lines together (seen with pulumi
    # v3.274.1). One write of the whole line, under a lock, keeps every line whole.
    with _STDERR_LOCK:
        sys.stderr.write(f"{severity}: {message}\n")
        sys.stderr.flush()


def progress(message: str) -> None:
    """Progress for the person running the deployment.

    Inside the provider host there is no engine connection: the line goes to the host's stderr as
    ``info: ...``, which the engine shows under the stack's diagnostics (pulumi v3.274.1 attributes
    a provider's stderr to the stack, not to the resource, so every message names its resource).
    Callers never pass secrets (ids, names and counts only).
    """
    _host_log("info", message)


def warn(message: str) -> None:
    """A warning for the person running the deployment; same channel as :func:`progress`."""
    _host_log("warning", message)


class ProviderFailure(Exception):
    """An error meant for a person: the host prints the traceback, the LAST line is this text."""


def user_errors(what: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Turn client errors into one readable ``ProviderFailure`` line (no chained traceback)."""

    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        def wrapper(*args: Any, **kwargs: Any) -> T:
            try:
                return fn(*args, **kwargs)
            except ProviderFailure:
                raise
            except ClientError as exc:
                raise ProviderFailure(f"{what}: {exc}") from None

        wrapper.__name__ = fn.__name__
        wrapper.__doc__ = fn.__doc__
        return wrapper

    return decorate


def strip_internal(props: Mapping[str, Any]) -> dict[str, Any]:
    """Props without the SDK's ``__provider`` and other ``__`` keys."""
    return {k: v for k, v in props.items() if not k.startswith("__")}


# --- connection ---------------------------------------------------------------------------


def connection_failures(value: Any) -> list[CheckFailure]:
    if is_unknown(value):
        return []
    if not isinstance(value, Mapping):
        return [CheckFailure("connection", "expected a mapping (Connection.to_dict())")]
    if any(is_unknown(v) for v in value.values()):
        return []
    try:
        Connection.from_dict(value)
    except ConfigurationError as exc:
        return [CheckFailure("connection", str(exc))]
    return []


def connection_of(props: Mapping[str, Any]) -> Connection:
    try:
        return Connection.from_dict(props["connection"])
    except ConfigurationError as exc:
        raise ProviderFailure(str(exc)) from None


def client_for(props: Mapping[str, Any]) -> Any:
    """A DataverseClient for the resource's connection with credentials from the environment."""
    from infra.clients.dataverse import DataverseClient

    try:
        return DataverseClient.for_connection(connection_of(props))
    except ConfigurationError as exc:
        raise ProviderFailure(f"cannot reach Dataverse: {exc}") from None


_ROOT_BU: dict[str, str] = {}


def root_business_unit_id(client: Any) -> str:
    """The environment's root business unit id, looked up once per process and environment
    (it never changes for the life of an environment)."""
    key = str(client.connection.environment_url).lower()
    cached = _ROOT_BU.get(key)
    if cached is None:
        cached = _ROOT_BU[key] = norm_guid(str(client.root_business_unit().business_unit_id))
    return cached


def credentials_available(connection: Connection) -> bool:
    """Whether credentials for ``connection`` are present (preview runs the preflight then)."""
    from infra.clients.credentials import resolve_credential

    try:
        resolve_credential(connection)
    except ConfigurationError:
        return False
    return True


# --- declarative input rules ---------------------------------------------------------------


@dataclass(frozen=True)
class FieldRule:
    """How one input behaves in diff: ``replace`` forces a new resource when it changes."""

    name: str
    replace: bool = False


class DataverseProvider(ResourceProvider):
    """Base provider: canonical inputs, validation in check(), generic diff, preflight hook.

    Subclasses set ``fields`` and implement ``validate`` / ``canonical``.  No instance state:
    dill pickles the class by reference and an empty ``__dict__``.
    """

    #: The serialized provider holds no secret (tests/providers/test_pickling.py proves it), so
    #: the `__provider` input need not be encrypted per resource.
    serialize_as_secret_always = False

    resource_label: str = "Dataverse resource"
    fields: tuple[FieldRule, ...] = ()
    #: run the (cached) preflight from check() when credentials are present
    preflight_in_check: bool = True

    # -- hooks for subclasses --------------------------------------------------------------

    def canonical(self, news: dict[str, Any]) -> dict[str, Any]:
        """Inputs in the form a reviewer reads and diff compares (sorted lists, lower GUIDs)."""
        return news

    def validate(self, news: Mapping[str, Any]) -> list[CheckFailure]:
        return []

    def equal(self, name: str, old: Any, new: Any) -> bool:
        return old == new

    # -- ResourceProvider --------------------------------------------------------------------

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = connection_failures(news.get("connection"))
        failures += self.validate(news)
        if failures:
            return CheckResult(news, failures)
        inputs = self.canonical(dict(news))
        if self.preflight_in_check and not _has_unknown(inputs.get("connection")):
            failure = _preflight_in_check(inputs)
            if failure is not None:
                failures.append(failure)
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed: list[str] = []
        replaces: list[str] = []
        old_conn = olds.get("connection") or {}
        new_conn = news.get("connection") or {}
        if _has_unknown(new_conn) or old_conn != new_conn:
            changed.append("connection")
            if _has_unknown(new_conn) or _env_url(old_conn) != _env_url(new_conn):
                replaces.append("connection")
        for rule in self.fields:
            old, new = self.old_input(olds, rule.name), news.get(rule.name)
            if is_unknown(new) or (isinstance(new, list) and any(is_unknown(v) for v in new)):
                changed.append(rule.name)
                if rule.replace:
                    replaces.append(rule.name)
                continue
            if not self.equal(rule.name, old, new):
                changed.append(rule.name)
                if rule.replace:
                    replaces.append(rule.name)
        if not changed:
            return DiffResult(changes=False)
        return DiffResult(changes=True, replaces=replaces, delete_before_replace=False)

    def old_input(self, olds: Mapping[str, Any], name: str) -> Any:
        """The old value of input ``name``: outputs repeat every input under the same key
        unless a subclass stores it elsewhere (an output of the same name with another meaning)."""
        return olds.get(name)


def _env_url(conn: Mapping[str, Any]) -> str:
    return str(conn.get("environment_url", "")).rstrip("/").lower()


def _has_unknown(value: Any) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_unknown(v) for v in value)
    return False


def _preflight_in_check(inputs: Mapping[str, Any]) -> CheckFailure | None:
    from infra.providers.preflight import PreflightError, ensure_preflight

    connection = connection_of(inputs)
    if not credentials_available(connection):
        return None
    try:
        ensure_preflight(connection, brief_repeat=True)
    except PreflightError as exc:
        return CheckFailure("connection", str(exc))
    except ClientError as exc:
        # Credentials that cannot sign in (expired CLI login, network) must not block a preview
        # without them; the writing operations run the preflight again and fail there.
        warn(f"preflight skipped in preview: {exc}")
    return None

