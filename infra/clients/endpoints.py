"""Where the services live: a non-secret, picklable description of one environment.

A :class:`EnvironmentEndpoints` is stored in Pulumi state as the ``connection`` input of every dynamic
resource, so it must never hold a credential; credentials are resolved from settings / the
environment at operation time (:mod:`infra.clients.credentials`).
"""

from __future__ import annotations

import ssl
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping
from urllib.parse import urlsplit

from infra import facts
from infra.clients.errors import ConfigurationError

__all__ = ["EnvironmentEndpoints", "require_https", "ssl_context", "WEB_API_PATH", "MICROSOFT_AUTHORITY_HOSTS"]

#: The Dataverse Web API below an environment URL (version 9.2, "Use the Dataverse Web API").
WEB_API_PATH = "/api/data/v9.2"

#: Hosts where instance discovery (msal, through azure-identity) is meaningful; anything else gets
#: it turned off.  The clouds' sign-in hosts (``facts.AUTHORITY_HOSTS``, which also gives the short
#: names ``public``/``usgov``/``china`` accepted for ``authority_host``) plus the public cloud's
#: older host names.
MICROSOFT_AUTHORITY_HOSTS = frozenset(
    {str(urlsplit(url).hostname) for url in facts.AUTHORITY_HOSTS.values()}
    | {"login.microsoft.com", "login.windows.net", "sts.windows.net"}
)


def require_https(url: str, what: str) -> str:
    """Return ``url`` without a trailing slash; refuse anything but an absolute https URL.

    Raised before any request is made, so a typo such as ``http://`` never sends a token in
    clear text.
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError(f"{what} is empty; expected an https:// URL")
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise ConfigurationError(
            f"{what} must be an absolute https:// URL, got {url!r} (plain http and other schemes are refused)"
        )
    return url


def ssl_context(ca_bundle: str | None) -> ssl.SSLContext | bool:
    """What httpx's ``verify`` takes: ``True`` (certifi's bundle) or a context trusting ``ca_bundle``.

    Verification is always on; there is no value of ``ca_bundle`` that turns it off.
    Raises :class:`ConfigurationError` when the bundle cannot be loaded.
    """
    if not ca_bundle:
        return True
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(f"CA bundle {ca_bundle!r} cannot be loaded: {exc}") from None


@dataclass(frozen=True)
class EnvironmentEndpoints:
    """One Dataverse environment plus the Entra / Graph endpoints of its tenant."""

    environment_url: str
    tenant_id: str
    authority_host: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com"
    graph_resource: str = "https://graph.microsoft.com"
    ca_bundle: str | None = None
    #: The Power Platform admin API (environments and their administration mode) and its token
    #: resource; left out of :meth:`to_dict` while they have their default values, so stacks
    #: recorded before they existed show no change.
    power_platform_url: str = "https://api.bap.microsoft.com"
    power_platform_resource: str = "https://service.powerapps.com"

    def __post_init__(self) -> None:
        host = facts.AUTHORITY_HOSTS.get(str(self.authority_host).strip().lower(), self.authority_host)
        object.__setattr__(self, "authority_host", require_https(host, "connection.authority_host"))
        object.__setattr__(self, "environment_url", require_https(self.environment_url, "connection.environment_url"))
        object.__setattr__(self, "graph_url", require_https(self.graph_url, "connection.graph_url"))
        object.__setattr__(self, "graph_resource", require_https(self.graph_resource, "connection.graph_resource"))
        object.__setattr__(self, "power_platform_url",
                           require_https(self.power_platform_url, "connection.power_platform_url"))
        object.__setattr__(self, "power_platform_resource",
                           require_https(self.power_platform_resource, "connection.power_platform_resource"))
        tenant = str(self.tenant_id or "").strip()
        if not tenant or "/" in tenant:
            raise ConfigurationError(
                f"connection.tenant_id must be a tenant id or domain, got {self.tenant_id!r}"
            )
        object.__setattr__(self, "tenant_id", tenant)
        if self.ca_bundle is not None and not str(self.ca_bundle).strip():
            object.__setattr__(self, "ca_bundle", None)

    # --- derived values ---------------------------------------------------------------------

    @property
    def authority(self) -> str:
        """``https://<host>/<tenant>``: the tenant's authority URL."""
        return f"{self.authority_host}/{self.tenant_id}"

    @property
    def is_microsoft_authority(self) -> bool:
        """Whether the sign-in host is one of Microsoft's clouds (instance discovery stays on)."""
        return (urlsplit(self.authority_host).hostname or "").lower() in MICROSOFT_AUTHORITY_HOSTS

    @property
    def dataverse_scope(self) -> str:
        """``<environment URL>/.default``: the token scope for the Dataverse Web API."""
        return f"{self.environment_url}/.default"

    @property
    def graph_scope(self) -> str:
        """``<graph resource>/.default``: the token scope for Microsoft Graph."""
        return f"{self.graph_resource}/.default"

    @property
    def dataverse_api_url(self) -> str:
        """``<environment URL>/api/data/v9.2``: the Web API root (:data:`WEB_API_PATH`)."""
        return f"{self.environment_url}{WEB_API_PATH}"

    @property
    def power_platform_scope(self) -> str:
        """``<power platform resource>/.default``: the token scope for the Power Platform admin API."""
        return f"{self.power_platform_resource}/.default"

    # --- (de)serialisation: the `connection` input of dynamic resources ---------------------

    def to_dict(self) -> dict[str, Any]:
        """The ``connection`` input of every dynamic resource (plain strings; fields added later
        are left out while at their default, so older stacks see no change)."""
        out = asdict(self)
        for name in _OMITTED_WHEN_DEFAULT:
            if out[name] == _DEFAULTS[name]:
                del out[name]
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "EnvironmentEndpoints":
        """The connection a ``to_dict()`` mapping (or an EnvironmentEndpoints) describes.

        Raises :class:`ConfigurationError` for a non-mapping, unknown keys, a missing
        ``environment_url`` / ``tenant_id``, or a URL that is not https.
        """
        if isinstance(d, EnvironmentEndpoints):
            return d
        if not isinstance(d, Mapping):
            raise ConfigurationError(f"connection must be a mapping, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigurationError(
                f"connection has unknown keys {unknown}; allowed: {sorted(known)}"
            )
        missing = [k for k in ("environment_url", "tenant_id") if not d.get(k)]
        if missing:
            raise ConfigurationError(f"connection is missing {missing}")
        return cls(**{k: v for k, v in d.items() if v is not None or k == "ca_bundle"})


#: Fields added after stacks were first deployed: absent from the dict while at their default.
_OMITTED_WHEN_DEFAULT = ("power_platform_url", "power_platform_resource")
_DEFAULTS = {f.name: f.default for f in fields(EnvironmentEndpoints)}
