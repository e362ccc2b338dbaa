"""Preflight: the deploying identity must hold System Administrator and System Customizer.

Why: Business Central's own setup requires both roles for the account that imports the
integration solution, and a deployment that fails half-way for lack of a privilege leaves a
half-configured environment.  So every writing provider calls :func:`ensure_preflight` before
its first write and check() calls it in preview when credentials are present.  The result is
cached per process and per (connection, identity): it costs its two requests once per host.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Mapping

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CreateResult, ReadResult, UpdateResult

from infra import facts
from infra.clients.connection import Connection
from infra.providers.base import (
    DataverseProvider, ProviderFailure, client_for, connection_of, progress, strip_internal,
    user_errors, warn,
)

__all__ = ["Preflight", "PreflightArgs", "PreflightProvider", "PreflightResult", "PreflightError",
           "ensure_preflight", "run_preflight", "clear_preflight_cache", "read_administration_mode",
           "administration_mode", "report_administration_mode", "refuse_in_administration_mode",
           "administration_mode_message"]

REQUIRED_TEMPLATES: dict[str, str] = {
    facts.SYSTEM_ADMINISTRATOR_TEMPLATE_ID: "System Administrator",
    facts.SYSTEM_CUSTOMIZER_TEMPLATE_ID: "System Customizer",
}


class PreflightError(ProviderFailure):
    """The deploying identity lacks a required role; nothing was changed."""


@dataclass(frozen=True)
class PreflightResult:
    caller_user_id: str
    business_unit_id: str
    identity: str
    role_names: tuple[str, ...]


def _admin_api_policy() -> tuple[Any, Any]:
    from infra.clients.http import RetryPolicy, Timeouts

    return (RetryPolicy(max_attempts=2, max_total_s=20.0, backoff_initial_s=0.5, backoff_max_s=2.0),
            Timeouts(connect=5.0, read=20.0, write=20.0, pool=20.0))


_ADMIN_API_RETRY, _ADMIN_API_TIMEOUTS = _admin_api_policy()


def read_administration_mode(connection: Connection) -> tuple[bool | None, str | None]:
    """(in administration mode?, why unknown) from the Power Platform admin API.

    Reading it needs a Power Platform administrator or an app registered as a management
    application; without that the check is skipped with a note (the deployment itself does not
    need it)."""
    from infra.clients.errors import ClientError
    from infra.clients.powerplatform import PowerPlatformClient

    try:
        # An optional check: a short retry budget, so an unreachable admin API (a proxy, another
        # cloud) costs seconds, not the minutes the writing calls may wait.
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


def administration_mode_message(connection: Connection, label: str, who: str) -> str:
    from infra.clients.errors import ADMINISTRATION_MODE_HINT

    return (f"{label}: {who} cannot sign in to {connection.environment_url}: {ADMINISTRATION_MODE_HINT}. "
            "Nothing was changed.")


# The administration mode is read once per process and connection, in the background, started
# when the preflight passed: it is off the critical path (preflight -> solution import) and joined
# only by those who need it -- the Preflight resource, which reports it, and the integration
# user's and application user's resources, which are refused while it is on.
_MODE: dict[tuple[Connection, str], Future[tuple[bool | None, str | None]]] = {}
_MODE_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="administration-mode")
_REPORTED: set[tuple[Connection, str]] = set()


def _mode_future(connection: Connection, identity: str) -> Future[tuple[bool | None, str | None]]:
    with _LOCK:
        future = _MODE.get((connection, identity))
        if future is None:
            future = _MODE[(connection, identity)] = _MODE_POOL.submit(read_administration_mode, connection)
        return future


def administration_mode(connection: Connection, client: Any | None = None) -> tuple[bool | None, str | None]:
    """(in administration mode?, why unknown) for this connection, read once per process."""
    client = client if client is not None else client_for({"connection": connection.to_dict()})
    return _mode_future(connection, _identity(client)).result()


def report_administration_mode(connection: Connection, client: Any | None = None, *,
                               wait: bool = True) -> bool | None:
    """Say it once per process (a warning with what to do, or why it is unknown); returns the mode.
    ``wait=False``: only when the read has finished (the Preflight resource does not hold up the
    solution import for it; the integration user's and application user's resources wait)."""
    client = client if client is not None else client_for({"connection": connection.to_dict()})
    key = (connection, _identity(client))
    future = _mode_future(connection, key[1])
    if not wait and not future.done():
        return None
    mode, note = future.result()
    with _LOCK:
        first = key not in _REPORTED
        _REPORTED.add(key)
    if first and mode:
        from infra.clients.errors import ADMINISTRATION_MODE_HINT

        warn(f"preflight: {connection.environment_url}: {ADMINISTRATION_MODE_HINT} -- the integration user's "
             "access and the application user are refused until then")
    elif first and note:
        progress(f"preflight: {note}")
    return mode


def refuse_in_administration_mode(connection: Connection, client: Any, label: str, who: str) -> None:
    """The integration user's and application user's resources stop here while the environment is
    in administration mode: Business Central could not use what they set up."""
    if report_administration_mode(connection, client):
        raise ProviderFailure(administration_mode_message(connection, label, who))


_CACHE: dict[tuple[Connection, str], PreflightResult | PreflightError] = {}
_LOCK = threading.Lock()


def clear_preflight_cache() -> None:
    with _LOCK:
        _CACHE.clear()
        _MODE.clear()
        _REPORTED.clear()


class RepeatedPreflightError(PreflightError):
    """The same refusal again in this process: a short line instead of the full text per resource."""


def _identity(client: Any) -> str:
    ident = getattr(client, "identity", None)
    if ident is None:
        cred = getattr(client, "credential", None)
        ident = getattr(cred, "identity", None)
    return str(ident or "the deploying identity")


def _prime_root_business_unit(client: Any) -> None:
    """Look the root business unit up while WhoAmI runs: resources resolving role names need
    it later, and fetching it now costs no extra round trip on the critical path."""
    from infra.providers.base import root_business_unit_id

    try:
        root_business_unit_id(client)
    except Exception:  # noqa: BLE001 - only a head start; whoever needs it asks again
        pass


def run_preflight(client: Any, connection: Connection) -> PreflightResult:
    """WhoAmI + the caller's roles; raise PreflightError naming what is missing."""
    primer = threading.Thread(target=_prime_root_business_unit, args=(client,), daemon=True)
    primer.start()
    try:
        who = client.whoami()
        user_id = str(who.user_id)
        roles = client.user_roles(user_id)
    finally:
        primer.join()
    templates = {str(r.role_template_id or "").lower() for r in roles}
    missing = [name for tid, name in REQUIRED_TEMPLATES.items() if tid not in templates]
    identity = _identity(client)
    if missing:
        raise PreflightError(
            f"preflight failed: {identity} (systemuser {user_id}) in {connection.environment_url} "
            f"lacks the {' and '.join(missing)} security role"
            f"{'s' if len(missing) > 1 else ''} (role template "
            f"{', '.join(t for t, n in REQUIRED_TEMPLATES.items() if n in missing)}); assign "
            f"{'them' if len(missing) > 1 else 'it'} to this identity in the environment and run again. "
            "Nothing was changed."
        )
    return PreflightResult(user_id, str(who.business_unit_id), identity,
                           tuple(sorted(str(r.name) for r in roles)))


def ensure_preflight(connection: Connection, client: Any | None = None, *, brief_repeat: bool = False) -> PreflightResult:
    """Run the preflight once per process for this connection and identity (cached, refusals too).

    ``brief_repeat``: a refusal already reported in this process comes back as one short line
    (check() of the 2nd..Nth resource), so a preview shows the full explanation once.
    """
    client = client if client is not None else client_for({"connection": connection.to_dict()})
    key = (connection, _identity(client))
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is None:
            try:
                cached = run_preflight(client, connection)
            except PreflightError as exc:
                _CACHE[key] = exc
                raise
            _CACHE[key] = cached
            progress(f"preflight passed: {cached.identity} holds System Administrator and "
                     f"System Customizer in {connection.environment_url}")
    if isinstance(cached, PreflightResult):
        _mode_future(connection, key[1])  # start reading the administration mode (background)
        return cached
    if isinstance(cached, PreflightError):
        if brief_repeat:
            raise RepeatedPreflightError(
                f"preflight failed for {cached_identity(key)} in {connection.environment_url} "
                "(see the preflight error reported above; nothing was changed)")
        raise PreflightError(str(cached))
    return cached


def cached_identity(key: tuple[Connection, str]) -> str:
    return key[1]


# --- the Preflight resource -----------------------------------------------------------------


@dataclass
class PreflightArgs:
    connection: Mapping[str, Any]


class PreflightProvider(DataverseProvider):
    """A resource other resources can depend on so a refusal shows before any of them runs."""

    resource_label = "Preflight"

    def _outs(self, props: Mapping[str, Any], result: PreflightResult) -> dict[str, Any]:
        return {**strip_internal(props), "caller_user_id": result.caller_user_id,
                "identity": result.identity}

    @user_errors("preflight")
    def create(self, props: dict[str, Any]) -> CreateResult:
        result = ensure_preflight(connection_of(props))
        report_administration_mode(connection_of(props), wait=False)  # when already read
        return CreateResult(result.caller_user_id, self._outs(props, result))

    @user_errors("preflight")
    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        result = ensure_preflight(connection_of(news))
        report_administration_mode(connection_of(news), wait=False)
        return UpdateResult(self._outs(news, result))

    @user_errors("preflight")
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """No request: the preflight owns nothing in the environment that could drift; the
        check itself runs again before the next write (create/update of any resource)."""
        return ReadResult(id_, strip_internal(props), {"connection": props["connection"]})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


class Preflight(pulumi.dynamic.Resource, module="dataverse", name="Preflight"):
    """Fails the deployment early when the deploying identity lacks the admin roles."""

    caller_user_id: pulumi.Output[str]
    identity: pulumi.Output[str]
    provider_class = PreflightProvider

    def __init__(self, name: str, args: PreflightArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(PreflightProvider(), name,
                         {"connection": args.connection, "caller_user_id": None, "identity": None}, opts)
