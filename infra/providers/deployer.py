"""The deploying identity must hold System Administrator and System Customizer: checked once per process.

Why: Business Central's own setup requires both roles for the account that imports the
integration solution, and a deployment that fails half-way for lack of a privilege leaves a
half-configured environment.  So every writing provider calls :func:`ensure_deployer_check` before its
first write, and check() calls it in preview when credentials are present.  The result is cached
per process and per (connection, identity), refusals too: it costs its two requests (WhoAmI, the
caller's roles) once per provider host.  When it passes, the administration mode starts being
read in the background (:mod:`infra.providers.administration_mode`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Mapping

from infra import facts
from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.dataverse import DataverseApi, DataverseClient
from infra.providers.administration_mode import clear_administration_mode, start_reading
from infra.providers.runtime import ProviderFailure, endpoints_of, dataverse_client, progress, root_business_unit_id

__all__ = ["REQUIRED_TEMPLATES", "DeployerCheckError", "RepeatedDeployerCheckError", "DeployerCheckResult",
           "run_deployer_check", "ensure_deployer_check", "checked_client", "clear_deployer_check_cache"]

#: Role template id -> name of the roles the deploying identity must hold (any business unit's copy).
REQUIRED_TEMPLATES: dict[str, str] = {
    facts.SYSTEM_ADMINISTRATOR_TEMPLATE_ID: "System Administrator",
    facts.SYSTEM_CUSTOMIZER_TEMPLATE_ID: "System Customizer",
}


class DeployerCheckError(ProviderFailure):
    """The deploying identity lacks a required role; nothing was changed."""


class RepeatedDeployerCheckError(DeployerCheckError):
    """The same refusal again in this process: a short line instead of the full text per resource."""


@dataclass(frozen=True)
class DeployerCheckResult:
    """Who deploys: its systemuser id and business unit, its description, the names of its roles."""

    caller_user_id: str
    business_unit_id: str
    identity: str
    role_names: tuple[str, ...]


_CACHE: dict[tuple[EnvironmentEndpoints, str], DeployerCheckResult | DeployerCheckError] = {}
_LOCK = threading.Lock()


def clear_deployer_check_cache() -> None:
    """Forget every check result and the administration mode (tests start cold this way)."""
    with _LOCK:
        _CACHE.clear()
    clear_administration_mode()


def _prime_root_business_unit(client: DataverseApi) -> None:
    """Look the root business unit up while WhoAmI runs: resources resolving role names need
    it later, and fetching it now costs no extra round trip on the critical path."""
    try:
        root_business_unit_id(client)
    except Exception:  # noqa: BLE001 - only a head start; whoever needs it asks again
        pass


def run_deployer_check(client: DataverseApi, connection: EnvironmentEndpoints) -> DeployerCheckResult:
    """WhoAmI + the caller's roles (the root business unit is read alongside); raises
    :class:`DeployerCheckError` naming what is missing, client errors as they come."""
    primer = threading.Thread(target=_prime_root_business_unit, args=(client,), daemon=True)
    primer.start()
    try:
        who = client.whoami()
        user_id = who.user_id
        roles = client.user_roles(user_id)
    finally:
        primer.join()
    templates = {(r.role_template_id or "").lower() for r in roles}
    missing = [name for tid, name in REQUIRED_TEMPLATES.items() if tid not in templates]
    identity = client.identity
    if missing:
        raise DeployerCheckError(
            f"deployer check failed: {identity} (systemuser {user_id}) in {connection.environment_url} "
            f"lacks the {' and '.join(missing)} security role"
            f"{'s' if len(missing) > 1 else ''} (role template "
            f"{', '.join(t for t, n in REQUIRED_TEMPLATES.items() if n in missing)}); assign "
            f"{'them' if len(missing) > 1 else 'it'} to this identity in the environment and run again. "
            "Nothing was changed."
        )
    return DeployerCheckResult(user_id, who.business_unit_id, identity, tuple(sorted(r.name for r in roles)))


def ensure_deployer_check(connection: EnvironmentEndpoints, client: DataverseApi | None = None, *,
                     brief_repeat: bool = False) -> DeployerCheckResult:
    """Run the check once per process for this connection and identity (cached, refusals too).

    ``client``: the operation's client (built from ``connection`` when None).  ``brief_repeat``:
    a refusal already reported in this process comes back as one short line (check() of the
    2nd..Nth resource), so a preview shows the full explanation once.  Raises
    :class:`DeployerCheckError` (or :class:`RepeatedDeployerCheckError`), and client errors of the reads.
    """
    client = client if client is not None else dataverse_client(connection)
    key = (connection, client.identity)
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is None:
            try:
                cached = run_deployer_check(client, connection)
            except DeployerCheckError as exc:
                _CACHE[key] = exc
                raise
            _CACHE[key] = cached
            progress(f"deployer check passed: {cached.identity} holds System Administrator and "
                     f"System Customizer in {connection.environment_url}")
    if isinstance(cached, DeployerCheckResult):
        start_reading(*key)  # the administration mode, in the background
        return cached
    if brief_repeat:
        raise RepeatedDeployerCheckError(
            f"deployer check failed for {key[1]} in {connection.environment_url} "
            "(see the deployer check error reported above; nothing was changed)")
    raise DeployerCheckError(str(cached))


def checked_client(props: Mapping[str, Any]) -> DataverseClient:
    """The client for a resource's ``connection`` input, after the deploying identity's check
    passed: what every writing operation starts with.  Raises as :func:`ensure_deployer_check`."""
    client = dataverse_client(endpoints_of(props))
    ensure_deployer_check(client.connection, client)
    return client
