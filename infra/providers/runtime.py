"""What a provider operation needs at run time: its client, progress lines, failures for people.

Why a module of its own: the providers are pickled (dill, by reference) into Pulumi state and
run in the SDK's provider host, possibly many operations at once on a 4-worker pool.  So a
provider object holds nothing; each operation builds (or finds, per process) its client from the
``connection`` input and the credentials in the environment.  Everything here is a plain
function that every provider module -- and the deploying identity's check, which the base
provider's check() runs -- can import without importing each other.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable, Mapping, TypeVar

import pulumi
from pulumi.runtime.settings import get_engine

from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.credentials import resolve_credential
from infra.clients.dataverse import DataverseApi, DataverseClient
from infra.clients.errors import ClientError, ConfigurationError

__all__ = [
    "ProviderFailure", "user_errors", "progress", "warn", "is_unknown", "has_unknown", "strip_internal",
    "parse_connection", "endpoints_of", "client_for", "dataverse_client", "credentials_available",
    "root_business_unit_id",
]

T = TypeVar("T")


class ProviderFailure(Exception):
    """An error meant for a person: the host prints the traceback, the LAST line is this text."""


def user_errors(what: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorate a provider method so that a client error becomes one readable
    ``ProviderFailure("<what>: <error>")`` line (no chained traceback)."""

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


def is_unknown(value: Any) -> bool:
    """True for a value preview does not know yet (another resource's pending output)."""
    from pulumi.output import Unknown
    from pulumi.runtime import rpc

    return isinstance(value, Unknown) or value == rpc.UNKNOWN


def has_unknown(value: Any) -> bool:
    """True when ``value`` or anything inside it (mappings, lists) is unknown."""
    if is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(has_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_unknown(v) for v in value)
    return False


def strip_internal(props: Mapping[str, Any]) -> dict[str, Any]:
    """Props without the SDK's ``__provider`` and other ``__`` keys."""
    return {k: v for k, v in props.items() if not k.startswith("__")}


# --- connection and clients -------------------------------------------------------------------


def parse_connection(value: Any) -> EnvironmentEndpoints:
    """The ``connection`` input (``EnvironmentEndpoints.to_dict()``) as a :class:`EnvironmentEndpoints`.

    Raises :class:`ConfigurationError` naming what is wrong (not a mapping, unknown or missing
    keys, a URL that is not https).
    """
    return EnvironmentEndpoints.from_dict(value)


def endpoints_of(props: Mapping[str, Any]) -> EnvironmentEndpoints:
    """The resource's connection; :class:`ProviderFailure` when the input is not a valid one."""
    try:
        return parse_connection(props["connection"])
    except ConfigurationError as exc:
        raise ProviderFailure(str(exc)) from None


def dataverse_client(connection: EnvironmentEndpoints) -> DataverseClient:
    """The process's :class:`DataverseClient` for ``connection`` with credentials from the
    environment; :class:`ProviderFailure` when no credential can be set up."""
    try:
        return DataverseClient.for_connection(connection)
    except ConfigurationError as exc:
        raise ProviderFailure(f"cannot reach Dataverse: {exc}") from None


def client_for(props: Mapping[str, Any]) -> DataverseClient:
    """The :class:`DataverseClient` for a resource's ``connection`` input (see :func:`dataverse_client`)."""
    return dataverse_client(endpoints_of(props))


def credentials_available(connection: EnvironmentEndpoints) -> bool:
    """Whether credentials for ``connection`` are present (preview reads the environment then).
    Reads settings only; no request is sent."""
    try:
        resolve_credential(connection)
    except ConfigurationError:
        return False
    return True


_ROOT_BU: dict[str, str] = {}


def root_business_unit_id(client: DataverseApi) -> str:
    """The environment's root business unit id, looked up once per process and environment
    (it never changes for the life of an environment)."""
    key = str(client.connection.environment_url).lower()
    cached = _ROOT_BU.get(key)
    if cached is None:
        cached = _ROOT_BU[key] = client.root_business_unit().business_unit_id
    return cached
