"""Whether the environment is in administration mode, read once per process in the background.

Why: an environment in *administration mode* lets only users with System Administrator or System
Customizer sign in ("Administration mode", Power Platform admin docs), so Business Central's
integration user and application user would be refused.  Dataverse has no column for it; the
Power Platform admin API has (:mod:`infra.clients.powerplatform`).  Reading it needs a Power
Platform administrator or a registered management application; without that the check is skipped
with a note (the deployment itself does not need it).

The read starts when the deploying identity's check passed (:mod:`infra.providers.deployer`): it
is off the critical path (check -> solution import) and joined only by those who need it -- the
DeployerCheck resource, which reports it, and the integration user's and application user's
resources, which are refused while it is on.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.dataverse import DataverseApi
from infra.clients.errors import ADMINISTRATION_MODE_HINT, ClientError
from infra.clients.http import RetryPolicy, Timeouts
from infra.clients.powerplatform import PowerPlatformClient
from infra.providers.runtime import ProviderFailure, dataverse_client, progress, warn

__all__ = ["read_administration_mode", "start_reading", "administration_mode", "report_administration_mode",
           "refuse_in_administration_mode", "administration_mode_message", "clear_administration_mode"]

# An optional check: a short retry budget, so an unreachable admin API (a proxy, another cloud)
# costs seconds, not the minutes the writing calls may wait.
_ADMIN_API_RETRY = RetryPolicy(max_attempts=2, max_total_s=20.0, backoff_initial_s=0.5, backoff_max_s=2.0)
_ADMIN_API_TIMEOUTS = Timeouts(connect=5.0, read=20.0, write=20.0, pool=20.0)

Mode = tuple[bool | None, str | None]

_MODE: dict[tuple[EnvironmentEndpoints, str], Future[Mode]] = {}
_MODE_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="administration-mode")
_REPORTED: set[tuple[EnvironmentEndpoints, str]] = set()
_LOCK = threading.Lock()


def read_administration_mode(connection: EnvironmentEndpoints) -> Mode:
    """(in administration mode?, why unknown) from the Power Platform admin API; one listing of
    the tenant's environments.  Client errors become the note, never an exception."""
    try:
        client = PowerPlatformClient.for_connection(connection, retry=_ADMIN_API_RETRY, timeouts=_ADMIN_API_TIMEOUTS)
        state = client.environment_state(connection.environment_url)
    except ClientError as exc:
        return None, (f"administration mode not checked: the Power Platform admin API ({connection.power_platform_url}) "
                      f"refused or failed ({exc}); to have it checked, register the deploying app as a management "
                      "application (`pac admin application register --application-id <client id>`)")
    if state is None:
        return None, (f"administration mode not checked: the Power Platform admin API lists no environment "
                      f"whose URL is {connection.environment_url}")
    return state.administration_mode, None


def administration_mode_message(connection: EnvironmentEndpoints, label: str, who: str) -> str:
    """The refusal for ``who`` (the integration user, the application user) while the mode is on."""
    return (f"{label}: {who} cannot sign in to {connection.environment_url}: {ADMINISTRATION_MODE_HINT}. "
            "Nothing was changed.")


def start_reading(connection: EnvironmentEndpoints, identity: str) -> Future[Mode]:
    """The (started or finished) read for this connection and identity; started at most once per process."""
    with _LOCK:
        future = _MODE.get((connection, identity))
        if future is None:
            future = _MODE[(connection, identity)] = _MODE_POOL.submit(read_administration_mode, connection)
        return future


def administration_mode(connection: EnvironmentEndpoints, client: DataverseApi | None = None) -> Mode:
    """(in administration mode?, why unknown) for this connection, read once per process."""
    client = client if client is not None else dataverse_client(connection)
    return start_reading(connection, client.identity).result()


def report_administration_mode(connection: EnvironmentEndpoints, client: DataverseApi | None = None, *,
                               wait: bool = True) -> bool | None:
    """Say it once per process (a warning with what to do, or why it is unknown); returns the mode.
    ``wait=False``: only when the read has finished (the DeployerCheck resource does not hold up the
    solution import for it; the integration user's and application user's resources wait)."""
    client = client if client is not None else dataverse_client(connection)
    key = (connection, client.identity)
    future = start_reading(*key)
    if not wait and not future.done():
        return None
    mode, note = future.result()
    with _LOCK:
        first = key not in _REPORTED
        _REPORTED.add(key)
    if first and mode:
        warn(f"deployer check: {connection.environment_url}: {ADMINISTRATION_MODE_HINT} -- the integration user's "
             "access and the application user are refused until then")
    elif first and note:
        progress(f"deployer check: {note}")
    return mode


def refuse_in_administration_mode(connection: EnvironmentEndpoints, client: DataverseApi | None, label: str, who: str) -> None:
    """The integration user's and application user's resources stop here (:class:`ProviderFailure`)
    while the environment is in administration mode: Business Central could not use what they set up."""
    if report_administration_mode(connection, client):
        raise ProviderFailure(administration_mode_message(connection, label, who))


def clear_administration_mode() -> None:
    """Forget what was read and reported (tests start from a cold process this way)."""
    with _LOCK:
        _MODE.clear()
        _REPORTED.clear()
