"""The Power Platform admin API: an environment's state, read by the preflight.

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

from infra.clients.connection import Connection
from infra.clients.credentials import CredentialSettings, TokenCredential, resolve_credential
from infra.clients.http import DEFAULT_MAX_CONCURRENCY, RetryPolicy, ServiceHttp, Timeouts, get_service_http
from infra.clients.shared import shared_client

__all__ = ["PowerPlatformClient", "EnvironmentState", "ENVIRONMENTS_PATH", "API_VERSION"]

ENVIRONMENTS_PATH = "providers/Microsoft.BusinessAppPlatform/scopes/admin/environments"
#: The api-version the Power Platform admin PowerShell module uses by default.
API_VERSION = "2021-04-01"


@dataclass(frozen=True)
class EnvironmentState:
    name: str                       # the environment id
    display_name: str | None
    runtime_state: str | None       # Enabled, AdminMode, Disabled
    background_operations: str | None  # Enabled, Disabled

    @property
    def administration_mode(self) -> bool:
        return str(self.runtime_state or "").lower() == "adminmode"

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "EnvironmentState":
        props = d.get("properties") or {}
        linked = props.get("linkedEnvironmentMetadata") or {}
        runtime = ((props.get("states") or {}).get("runtime") or {}).get("id")
        return cls(str(d.get("name") or ""), props.get("displayName"), runtime,
                   linked.get("backgroundOperationsState"))


def _norm_url(url: Any) -> str:
    return str(url or "").strip().rstrip("/").lower()


class PowerPlatformClient:
    """The admin API as one identity.  Thread-safe; get it with :meth:`for_connection`."""

    def __init__(self, connection: Connection, credential: TokenCredential | None = None, *,
                 max_concurrency: int = DEFAULT_MAX_CONCURRENCY, retry: RetryPolicy | None = None,
                 timeouts: Timeouts | None = None, http: ServiceHttp | None = None) -> None:
        self.connection = connection
        self.credential = credential or resolve_credential(connection)
        self.http = http or get_service_http(
            connection.power_platform_url, self.credential, connection.power_platform_scope,
            service="powerplatform", ca_bundle=connection.ca_bundle, max_concurrency=max_concurrency,
            retry=retry, timeouts=timeouts, default_headers={"Accept": "application/json"},
        )

    @classmethod
    def for_connection(cls, connection: Connection | Mapping[str, Any], credential: TokenCredential | None = None, *,
                       settings: CredentialSettings | None = None, env: Mapping[str, str] | None = None,
                       **kwargs: Any) -> "PowerPlatformClient":
        return shared_client(cls, connection, credential, settings, env, kwargs)

    def __repr__(self) -> str:
        return f"PowerPlatformClient({self.connection.power_platform_url!r}, {self.credential.identity!r})"

    def __reduce__(self) -> Any:
        raise TypeError("PowerPlatformClient must not be pickled; create it at operation time with for_connection()")

    def environments(self) -> list[tuple[str, EnvironmentState]]:
        """Every environment of the tenant as (instance URL, state), following ``nextLink``."""
        out: list[tuple[str, EnvironmentState]] = []
        response = self.http.request("GET", ENVIRONMENTS_PATH, params={"api-version": API_VERSION})
        while True:
            data = response.json() if response.content else {}
            for row in data.get("value") or []:
                linked = (row.get("properties") or {}).get("linkedEnvironmentMetadata") or {}
                out.append((_norm_url(linked.get("instanceUrl")), EnvironmentState.from_json(row)))
            next_link = data.get("nextLink") or data.get("@odata.nextLink")
            if not next_link:
                return out
            response = self.http.request("GET", next_link)

    def environment_state(self, environment_url: str) -> EnvironmentState | None:
        """The state of the environment whose Dataverse URL is ``environment_url``; None if absent."""
        wanted = _norm_url(environment_url)
        for url, state in self.environments():
            if url == wanted:
                return state
        return None
