"""The Power Platform admin API: an environment's state, read by the deployer check.

Why: an environment in *administration mode* lets only users with System Administrator or System
Customizer sign in ("Administration mode", Power Platform admin docs), so Business Central's
integration user and application user are refused until it is turned off.  Dataverse has no
column for it; the environment's runtime state is in the Power Platform admin API
(``properties.states.runtime.id`` is ``AdminMode`` -- what ``Set-AdminPowerAppEnvironmentRuntimeState``
and ``pac admin set-runtime-state`` change -- and ``properties.linkedEnvironmentMetadata.
backgroundOperationsState``).  Calling it needs a Power Platform administrator, or an app
registered as a management application (``pac admin application register``).

``GET {bap}/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments?api-version=...``
lists the tenant's environments; ours is the one whose ``linkedEnvironmentMetadata.instanceUrl``
is the environment URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.service import ServiceClient

__all__ = ["PowerPlatformClient", "EnvironmentState", "ENVIRONMENTS_PATH", "API_VERSION"]

ENVIRONMENTS_PATH = "providers/Microsoft.BusinessAppPlatform/scopes/admin/environments"
#: The api-version the Power Platform admin PowerShell module uses by default.
API_VERSION = "2021-04-01"


@dataclass(frozen=True)
class EnvironmentState:
    """An environment as the admin API lists it: id, name, runtime state, background operations."""

    name: str                       # the environment id
    display_name: str | None
    runtime_state: str | None       # Enabled, AdminMode, Disabled
    background_operations: str | None  # Enabled, Disabled

    @property
    def administration_mode(self) -> bool:
        """Whether the runtime state is ``AdminMode``."""
        return str(self.runtime_state or "").lower() == "adminmode"

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "EnvironmentState":
        """From one entry of the environments listing."""
        props = d.get("properties") or {}
        linked = props.get("linkedEnvironmentMetadata") or {}
        runtime = ((props.get("states") or {}).get("runtime") or {}).get("id")
        return cls(str(d.get("name") or ""), props.get("displayName"), runtime,
                   linked.get("backgroundOperationsState"))


def _norm_url(url: Any) -> str:
    return str(url or "").strip().rstrip("/").lower()


class PowerPlatformClient(ServiceClient):
    """The admin API as one identity.  Thread-safe; get it with :meth:`for_connection`."""

    service = "powerplatform"

    @classmethod
    def base_url(cls, connection: EnvironmentEndpoints) -> str:
        """The admin API's URL (``https://api.bap.microsoft.com`` in the public cloud)."""
        return connection.power_platform_url

    @classmethod
    def scope(cls, connection: EnvironmentEndpoints) -> str:
        """``<power platform resource>/.default``."""
        return connection.power_platform_scope

    def environments(self) -> list[tuple[str, EnvironmentState]]:
        """Every environment of the tenant as (instance URL, state), following ``nextLink``."""
        out: list[tuple[str, EnvironmentState]] = []
        for data in self._pages(ENVIRONMENTS_PATH, {"api-version": API_VERSION}, next_keys=("nextLink", "@odata.nextLink")):
            for row in data.get("value") or []:
                linked = (row.get("properties") or {}).get("linkedEnvironmentMetadata") or {}
                out.append((_norm_url(linked.get("instanceUrl")), EnvironmentState.from_json(row)))
        return out

    def environment_state(self, environment_url: str) -> EnvironmentState | None:
        """The state of the environment whose Dataverse URL is ``environment_url``; None if absent."""
        wanted = _norm_url(environment_url)
        for url, state in self.environments():
            if url == wanted:
                return state
        return None
