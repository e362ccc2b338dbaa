"""Credentials: who we are when we call Dataverse and Graph (msal underneath, no hand-rolled OAuth).

:func:`resolve_credential` picks ONE credential kind from explicit :class:`CredentialSettings`
(which win) or from the environment variables Azure tooling and pulumi-azuread already use
(``AZURE_*`` and their ``ARM_*`` twins), so one identity drives both the azuread provider and ours.

Tokens are cached per *process* in a module-level registry keyed by authority, tenant, client,
credential kind and a digest of the credential material -- never on the credential object, which
is cheap to recreate and must never be pickled into Pulumi state.  A cached token is refreshed
ahead of expiry (5 minutes or 10 % of its lifetime, whichever is shorter).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from infra import facts
from infra.clients.connection import Connection, require_https
from infra.clients.errors import AuthenticationError, ConfigurationError
import msal
import requests
import requests.adapters
from urllib3.util.retry import Retry

from infra.clients.redact import THIRD_PARTY_LOGGERS, install_log_redaction, logger, register_secret

# msal and requests are imported above so that their loggers exist when the filter is installed.
install_log_redaction(*THIRD_PARTY_LOGGERS)

__all__ = [
    "AccessToken",
    "CredentialSettings",
    "TokenCredential",
    "ClientSecretCredential",
    "CertificateCredential",
    "ClientAssertionCredential",
    "AzureCliCredential",
    "DeviceCodeCredential",
    "CertificateMaterial",
    "load_certificate",
    "resolve_credential",
    "clear_token_cache",
    "token_cache_stats",
    "FEDERATED_AUDIENCE",
    "ENV_VARIABLES",
]

FEDERATED_AUDIENCE = facts.FEDERATED_TOKEN_AUDIENCE
#: Azure DevOps OIDC endpoint API version (UNCONFIRMED, see infra/facts.py).
ADO_OIDC_API_VERSION = facts.AZURE_DEVOPS_OIDC_API_VERSION
#: How long we wait for Entra / an OIDC issuer / the Azure CLI.
SIGN_IN_TIMEOUT_S = 30.0
CLI_TIMEOUT_S = 60.0

# Environment variables, in the order they are consulted (first non-empty wins).
TENANT_VARS = ("AZURE_TENANT_ID", "ARM_TENANT_ID")
CLIENT_ID_VARS = ("AZURE_CLIENT_ID", "ARM_CLIENT_ID")
SECRET_VARS = ("AZURE_CLIENT_SECRET", "ARM_CLIENT_SECRET")
CERT_PATH_VARS = ("AZURE_CLIENT_CERTIFICATE_PATH", "ARM_CLIENT_CERTIFICATE_PATH")
CERT_PASSWORD_VARS = ("AZURE_CLIENT_CERTIFICATE_PASSWORD", "ARM_CLIENT_CERTIFICATE_PASSWORD")
TOKEN_FILE_VARS = ("AZURE_FEDERATED_TOKEN_FILE", "ARM_OIDC_TOKEN_FILE_PATH")
OIDC_TOKEN_VARS = ("ARM_OIDC_TOKEN",)
GITHUB_URL_VARS = ("ACTIONS_ID_TOKEN_REQUEST_URL", "ARM_OIDC_REQUEST_URL")
GITHUB_TOKEN_VARS = ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ARM_OIDC_REQUEST_TOKEN")
ADO_URL_VARS = ("SYSTEM_OIDCREQUESTURI", "ARM_OIDC_REQUEST_URL")
ADO_TOKEN_VARS = ("SYSTEM_ACCESSTOKEN", "ARM_OIDC_REQUEST_TOKEN")
ADO_CONNECTION_VARS = (
    "ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID",
    "ARM_OIDC_AZURE_SERVICE_CONNECTION_ID",
    "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
)
USE_OIDC_VARS = ("ARM_USE_OIDC",)
USE_CLI_VARS = ("ARM_USE_CLI",)
DEVICE_CODE_VARS = ("INFRA_ALLOW_DEVICE_CODE",)

ENV_VARIABLES: tuple[str, ...] = tuple(
    dict.fromkeys(
        TENANT_VARS + CLIENT_ID_VARS + SECRET_VARS + CERT_PATH_VARS + CERT_PASSWORD_VARS + TOKEN_FILE_VARS
        + OIDC_TOKEN_VARS + GITHUB_URL_VARS + GITHUB_TOKEN_VARS + ADO_URL_VARS + ADO_TOKEN_VARS
        + ADO_CONNECTION_VARS + USE_OIDC_VARS + USE_CLI_VARS + DEVICE_CODE_VARS
    )
)

KINDS = (
    "secret",
    "certificate",
    "federated_file",
    "oidc_token",
    "github",
    "azure_devops",
    "azure_cli",
    "device_code",
)


# --- value types ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and its absolute expiry (epoch seconds).  The repr never shows the token."""

    token: str = field(repr=False)
    expires_on: float

    def __repr__(self) -> str:
        return f"AccessToken(token=***, expires_on={self.expires_on:.0f})"


@dataclass(frozen=True)
class CredentialSettings:
    """Explicit credential settings; every field set here wins over the environment.

    ``kind`` forces one credential kind (one of :data:`KINDS`); left ``None`` the kind is
    inferred from what is set.  Secret fields are excluded from the repr.
    """

    kind: str | None = None
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    certificate_path: str | None = None
    certificate_password: str | None = field(default=None, repr=False)
    federated_token_file: str | None = None
    oidc_token: str | None = field(default=None, repr=False)
    oidc_request_url: str | None = None
    oidc_request_token: str | None = field(default=None, repr=False)
    service_connection_id: str | None = None
    use_cli: bool | None = None
    allow_device_code: bool = False

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in KINDS:
            raise ConfigurationError(
                f"credential kind {self.kind!r} is not known; allowed values: {', '.join(KINDS)}"
            )
        for secret in (self.client_secret, self.certificate_password, self.oidc_token, self.oidc_request_token):
            register_secret(secret)

    def __reduce__(self) -> Any:  # pragma: no cover - exercised via test_pickle
        raise TypeError("CredentialSettings hold secrets and must not be pickled")


# --- the per-process token cache ------------------------------------------------------------


@dataclass
class _CacheEntry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: dict[str, tuple[AccessToken, float]] = field(default_factory=dict)  # scope -> (token, obtained)
    app: Any = None  # the msal application, built once per entry
    acquisitions: int = 0  # tokens actually fetched from the identity provider / CLI


_REGISTRY: dict[tuple[str, ...], _CacheEntry] = {}
_REGISTRY_LOCK = threading.Lock()


def _entry(key: tuple[str, ...]) -> _CacheEntry:
    with _REGISTRY_LOCK:
        entry = _REGISTRY.get(key)
        if entry is None:
            entry = _REGISTRY[key] = _CacheEntry()
        return entry


def clear_token_cache() -> None:
    """Forget every cached token and msal application (tests; a long-lived process after rotation)."""
    with _REGISTRY_LOCK:
        _REGISTRY.clear()


def token_cache_stats() -> dict[str, int]:
    """``{identity key: tokens fetched}`` -- lets tests see how often we really signed in."""
    with _REGISTRY_LOCK:
        return {"|".join(k[:5]): e.acquisitions for k, e in _REGISTRY.items()}


def refresh_margin(lifetime_s: float) -> float:
    """Seconds before expiry at which a token is renewed: 5 min or 10 % of its lifetime."""
    return min(300.0, max(0.0, lifetime_s) * 0.1)


def _digest(*parts: Any) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(repr(p).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


# --- credential base --------------------------------------------------------------------------


class TokenCredential(ABC):
    """Something that can produce an access token for a scope (``<resource>/.default``)."""

    kind: str = "abstract"

    def __init__(self, connection: Connection, client_id: str | None, material_digest: str) -> None:
        self._connection = connection
        self.client_id = client_id
        self._key = (
            connection.authority_host,
            connection.tenant_id,
            client_id or "-",
            self.kind,
            material_digest,
        )

    @property
    def connection(self) -> Connection:
        return self._connection

    @property
    def identity(self) -> str:
        """Non-secret description used in logs, errors and pool keys."""
        who = f"app {self.client_id}" if self.client_id else "signed-in user"
        return f"{self.kind.replace('_', ' ')} for {who} in tenant {self._connection.tenant_id}"

    @property
    def cache_key(self) -> tuple[str, ...]:
        return self._key

    def get_token(self, scope: str, *, force_refresh: bool = False) -> AccessToken:
        """Cached token for ``scope``; a new one near expiry or when ``force_refresh`` (after a 401)."""
        entry = _entry(self._key)
        with entry.lock:
            cached = entry.tokens.get(scope)
            now = time.time()
            if cached is not None and not force_refresh:
                token, obtained = cached
                if now < token.expires_on - refresh_margin(token.expires_on - obtained):
                    return token
            token = self._acquire(entry, scope, force_refresh or cached is not None)
            register_secret(token.token)
            entry.tokens[scope] = (token, now)
            entry.acquisitions += 1
            logger.debug("acquired token for %s (scope %s), valid %.0fs", self.identity, scope, token.expires_on - now)
            return token

    @abstractmethod
    def _acquire(self, entry: _CacheEntry, scope: str, bypass_cache: bool) -> AccessToken:
        """Fetch a new token (called with the cache entry's lock held)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.identity!r})"

    def __reduce__(self) -> Any:
        raise TypeError("credentials hold secrets and must not be pickled (resolve them at operation time)")


def _requests_session(ca_bundle: str | None) -> Any:
    """A requests.Session for msal / OIDC issuers: CA bundle (or certifi) and a default timeout."""

    session = requests.Session()
    # Transport-level only: re-open a connection that could not be established (nothing was
    # sent, so this is always safe).  Status-based retries stay with msal / our one policy.
    adapter = requests.adapters.HTTPAdapter(
        max_retries=Retry(total=3, connect=3, read=0, status=0, other=0, backoff_factor=0.5)
    )
    session.mount("https://", adapter)
    session.verify = ca_bundle if ca_bundle else True
    # verify is passed per request too: requests lets REQUESTS_CA_BUNDLE override a Session's
    # verify, which would silently replace the CA bundle we were told to trust.
    session.request = functools.partial(  # type: ignore[method-assign]
        session.request, timeout=SIGN_IN_TIMEOUT_S, verify=ca_bundle if ca_bundle else True
    )
    return session


class MsalCredential(TokenCredential):
    """Confidential client (secret, certificate or client assertion) via msal."""

    def __init__(self, connection: Connection, client_id: str, material_digest: str) -> None:
        super().__init__(connection, client_id, material_digest)

    @abstractmethod
    def _client_credential(self) -> Any:
        """What msal's ``client_credential`` parameter takes."""

    def _build_app(self) -> Any:
        try:
            app = msal.ConfidentialClientApplication(
                self.client_id,
                client_credential=self._client_credential(),
                authority=self._connection.authority,
                http_client=_requests_session(self._connection.ca_bundle),
                instance_discovery=None if self._connection.is_microsoft_authority else False,
                token_cache=msal.TokenCache(),
            )
            install_log_redaction(*THIRD_PARTY_LOGGERS)  # msal creates some loggers lazily
            return app
        except (ConfigurationError, AuthenticationError):
            raise
        except Exception as exc:  # msal raises ValueError / requests errors for a bad authority
            raise AuthenticationError(
                None,
                type(exc).__name__,
                f"cannot set up sign-in at {self._connection.authority} for {self.identity}: {exc}",
                service="entra",
            ) from None

    def _acquire(self, entry: _CacheEntry, scope: str, bypass_cache: bool) -> AccessToken:
        if entry.app is None:
            entry.app = self._build_app()
        app = entry.app
        if bypass_cache:
            # We own the caching policy; drop msal's copy so it really asks Entra again.
            for item in list(app.token_cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                app.token_cache.remove_at(item)
        try:
            result = app.acquire_token_for_client(scopes=[scope])
        except (ConfigurationError, AuthenticationError):
            raise
        except Exception as exc:
            raise AuthenticationError(
                None, type(exc).__name__, f"sign-in failed for {self.identity}: {exc}", service="entra"
            ) from None
        return _token_from_msal_result(result, self.identity, scope)


def _token_from_msal_result(result: Mapping[str, Any] | None, identity: str, scope: str) -> AccessToken:
    if not result or "access_token" not in result:
        result = result or {}
        description = str(result.get("error_description") or "no token and no error returned")
        first_line = description.splitlines()[0] if description else ""
        raise AuthenticationError(
            None,
            str(result.get("error") or "sign_in_failed"),
            f"sign-in failed for {identity} (scope {scope}): {first_line}",
            service="entra",
            request_id=result.get("correlation_id"),
        )
    return AccessToken(str(result["access_token"]), time.time() + float(result.get("expires_in", 3600)))


class ClientSecretCredential(MsalCredential):
    kind = "secret"

    def __init__(self, connection: Connection, client_id: str, client_secret: str) -> None:
        register_secret(client_secret)
        self.__secret = client_secret
        super().__init__(connection, client_id, _digest(client_secret))

    def _client_credential(self) -> Any:
        return self.__secret


# --- certificates --------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateMaterial:
    """A private key and its certificate, loaded from PEM or PFX, with both thumbprints."""

    private_key_pem: str = field(repr=False)
    certificate_pem: str
    sha1_thumbprint: str
    sha256_thumbprint: str
    subject: str


_PEM_KEY = re.compile(rb"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.+?-----END \1PRIVATE KEY-----", re.S)


def load_certificate(path: str | Path, password: str | None = None) -> CertificateMaterial:
    """Load a client certificate (PEM with key + certificate, or PFX/PKCS#12) and derive thumbprints.

    Errors name the file and what is wrong, never the password.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    p = Path(path).expanduser()
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"client certificate {str(p)!r} cannot be read: {exc.strerror or exc}") from None
    pw = password.encode() if password else None
    key: Any
    cert: Any
    if b"-----BEGIN" in data:
        match = _PEM_KEY.search(data)
        if not match:
            raise ConfigurationError(f"client certificate {str(p)!r} has no PRIVATE KEY block; a PEM must hold key and certificate")
        try:
            key = serialization.load_pem_private_key(match.group(0), password=pw)
        except (TypeError, ValueError) as exc:
            hint = "wrong or missing password" if "password" in str(exc).lower() or "decrypt" in str(exc).lower() else "unreadable key"
            raise ConfigurationError(f"client certificate {str(p)!r}: {hint}") from None
        try:
            certs = x509.load_pem_x509_certificates(data)
        except ValueError:
            certs = []
        if not certs:
            raise ConfigurationError(f"client certificate {str(p)!r} has no CERTIFICATE block")
        cert = certs[0]
    else:
        try:
            key, cert, _extra = pkcs12.load_key_and_certificates(data, pw)
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"client certificate {str(p)!r} is neither PEM nor a PFX that opens with the given password"
            ) from None
        if key is None or cert is None:
            raise ConfigurationError(f"client certificate {str(p)!r} (PFX) must contain a private key and a certificate")
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    register_secret(key_pem)
    return CertificateMaterial(
        private_key_pem=key_pem,
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        sha1_thumbprint=cert.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 - Entra's x5t
        sha256_thumbprint=cert.fingerprint(hashes.SHA256()).hex().upper(),
        subject=cert.subject.rfc4514_string(),
    )


class CertificateCredential(MsalCredential):
    """Client certificate.  msal signs the assertion with PS256 and the SHA-256 thumbprint
    (``x5t#S256``) when it gets the public certificate, which Entra prefers over SHA-1."""

    kind = "certificate"

    def __init__(self, connection: Connection, client_id: str, path: str, password: str | None = None) -> None:
        register_secret(password)
        self.certificate = load_certificate(path, password)
        self.__material = self.certificate
        self.certificate_path = str(path)
        super().__init__(connection, client_id, self.certificate.sha256_thumbprint)

    @property
    def identity(self) -> str:
        return f"{super().identity} (certificate {self.certificate.sha1_thumbprint})"

    def _client_credential(self) -> Any:
        return {
            "private_key": self.__material.private_key_pem,
            "public_certificate": self.__material.certificate_pem,
        }


# --- workload identity federation ------------------------------------------------------------


def _add_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


class ClientAssertionCredential(MsalCredential):
    """Workload identity federation: msal exchanges an external OIDC token for an Entra token.

    ``assertion_source`` is called each time msal needs an assertion, so a rotated token file or
    a fresh GitHub / Azure DevOps token is used rather than one that has expired.
    """

    def __init__(
        self,
        connection: Connection,
        client_id: str,
        kind: str,
        assertion_source: Callable[[], str],
        description: str,
        material_digest: str,
    ) -> None:
        self.kind = kind
        self._source = assertion_source
        self._description = description
        super().__init__(connection, client_id, material_digest)

    @property
    def identity(self) -> str:
        return f"{super().identity} ({self._description})"

    def _assertion(self) -> str:
        value = self._source().strip()
        if not value:
            raise AuthenticationError(None, "empty_assertion", f"{self._description} returned an empty token", service="entra")
        register_secret(value)
        return value

    def _client_credential(self) -> Any:
        return {"client_assertion": self._assertion}


def _file_assertion(path: str) -> Callable[[], str]:
    def read() -> str:
        try:
            return Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise AuthenticationError(
                None, "token_file_unreadable", f"federated token file {path!r} cannot be read: {exc.strerror or exc}", service="entra"
            ) from None

    return read


def _requested_assertion(
    url: str, request_token: str, *, method: str, ca_bundle: str | None, response_key: str, what: str, **query: str
) -> Callable[[], str]:
    """Fetch an OIDC token from a CI system's token service (GitHub Actions, Azure DevOps)."""
    require_https(url, what)
    full_url = _add_query(url, **query)
    register_secret(request_token)

    def fetch() -> str:
        session = _requests_session(ca_bundle)
        try:
            response = session.request(
                method, full_url, headers={"Authorization": f"Bearer {request_token}", "Accept": "application/json"}
            )
        except Exception as exc:
            raise AuthenticationError(None, "oidc_request_failed", f"{what}: {type(exc).__name__}: {exc}", service="oidc") from None
        finally:
            session.close()
        if response.status_code != 200:
            raise AuthenticationError(
                response.status_code, "oidc_request_failed", f"{what} answered HTTP {response.status_code}: {response.text[:300]}", service="oidc"
            )
        try:
            value = response.json()[response_key]
        except (ValueError, KeyError, TypeError):
            raise AuthenticationError(
                200, "oidc_request_failed", f"{what} answered without a {response_key!r} field", service="oidc"
            ) from None
        return str(value)

    return fetch


# --- Azure CLI and device code ---------------------------------------------------------------


class AzureCliCredential(TokenCredential):
    """``az account get-access-token`` -- for people at their desk who ran ``az login``."""

    kind = "azure_cli"

    def __init__(self, connection: Connection, az_path: str) -> None:
        self._az = az_path
        super().__init__(connection, None, _digest(az_path))

    def _acquire(self, entry: _CacheEntry, scope: str, bypass_cache: bool) -> AccessToken:
        resource = scope[: -len("/.default")] if scope.endswith("/.default") else scope
        cmd = [self._az, "account", "get-access-token", "--resource", resource,
               "--tenant", self._connection.tenant_id, "--output", "json"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise AuthenticationError(None, "azure_cli_failed", f"Azure CLI could not run: {exc}", service="azure_cli") from None
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout or "").strip().splitlines()
            raise AuthenticationError(
                None, "azure_cli_failed",
                f"`az account get-access-token` failed ({detail[-1] if detail else 'exit ' + str(proc.returncode)}); run `az login --tenant {self._connection.tenant_id}`",
                service="azure_cli",
            )
        return parse_cli_token(proc.stdout)


def parse_cli_token(stdout: str) -> AccessToken:
    """Parse ``az account get-access-token`` JSON (``expires_on`` epoch, or local ``expiresOn``)."""
    try:
        data = json.loads(stdout)
        token = str(data["accessToken"])
    except (ValueError, KeyError, TypeError):
        raise AuthenticationError(None, "azure_cli_failed", "Azure CLI returned no accessToken", service="azure_cli") from None
    register_secret(token)
    if data.get("expires_on") is not None:
        expires = float(data["expires_on"])
    elif data.get("expiresOn"):
        expires = datetime.fromisoformat(str(data["expiresOn"])).timestamp()  # local time, naive
    else:
        expires = time.time() + 300
    return AccessToken(token, expires)


class DeviceCodeCredential(TokenCredential):
    """Interactive fallback: prints a code to enter at the device login page.  Only built when
    explicitly allowed and a terminal is attached (a CI job would otherwise hang)."""

    kind = "device_code"

    def __init__(self, connection: Connection, client_id: str) -> None:
        super().__init__(connection, client_id, _digest(client_id))

    def _acquire(self, entry: _CacheEntry, scope: str, bypass_cache: bool) -> AccessToken:
        if entry.app is None:
            entry.app = msal.PublicClientApplication(
                self.client_id,
                authority=self._connection.authority,
                http_client=_requests_session(self._connection.ca_bundle),
                instance_discovery=None if self._connection.is_microsoft_authority else False,
            )
        app = entry.app
        if not bypass_cache:
            accounts = app.get_accounts()
            if accounts:
                result = app.acquire_token_silent([scope], account=accounts[0])
                if result and "access_token" in result:
                    return _token_from_msal_result(result, self.identity, scope)
        flow = app.initiate_device_flow(scopes=[scope])
        if "user_code" not in flow:
            return _token_from_msal_result(flow, self.identity, scope)
        print(flow["message"], file=sys.stderr, flush=True)
        return _token_from_msal_result(app.acquire_token_by_device_flow(flow), self.identity, scope)


# --- resolution ------------------------------------------------------------------------------


def _first(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = env.get(name)
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def _flag(env: Mapping[str, str], names: tuple[str, ...]) -> bool | None:
    value = _first(env, names)
    if value is None:
        return None
    return value.lower() in {"1", "true", "yes", "on"}


def resolve_credential(
    connection: Connection,
    settings: CredentialSettings | None = None,
    env: Mapping[str, str] | None = None,
) -> TokenCredential:
    """Pick the credential to use.  Explicit ``settings`` win over ``env`` field by field.

    Order when no kind is forced: client secret, certificate, federated token file, OIDC token,
    Azure DevOps, GitHub Actions, Azure CLI, device code (only if allowed and on a TTY).  With
    ``ARM_USE_OIDC=true`` the federated kinds go first; with ``ARM_USE_OIDC=false`` they are skipped.
    Raises one :class:`ConfigurationError` listing every variable looked at when nothing fits.
    """
    s = settings or CredentialSettings()
    env = os.environ if env is None else env
    looked = list(ENV_VARIABLES)

    if s.tenant_id and s.tenant_id != connection.tenant_id:
        connection = Connection(**{**connection.to_dict(), "tenant_id": s.tenant_id})
    env_tenant = _first(env, TENANT_VARS)
    if env_tenant and not s.tenant_id and env_tenant.lower() != connection.tenant_id.lower():
        # The connection (stack config) names the environment's tenant and wins; say so, since
        # a mismatch usually means the shell is logged in to another tenant.
        logger.warning("AZURE_TENANT_ID/ARM_TENANT_ID (%s) differs from the connection's tenant %s; using the connection's",
                       env_tenant, connection.tenant_id)

    client_id = s.client_id or _first(env, CLIENT_ID_VARS)
    secret = s.client_secret or _first(env, SECRET_VARS)
    cert_path = s.certificate_path or _first(env, CERT_PATH_VARS)
    cert_password = s.certificate_password or _first(env, CERT_PASSWORD_VARS)
    token_file = s.federated_token_file or _first(env, TOKEN_FILE_VARS)
    oidc_token = s.oidc_token or _first(env, OIDC_TOKEN_VARS)
    service_connection = s.service_connection_id or _first(env, ADO_CONNECTION_VARS)
    ado_url = s.oidc_request_url or _first(env, ADO_URL_VARS)
    ado_token = s.oidc_request_token or _first(env, ADO_TOKEN_VARS)
    gh_url = s.oidc_request_url or _first(env, GITHUB_URL_VARS)
    gh_token = s.oidc_request_token or _first(env, GITHUB_TOKEN_VARS)
    use_oidc = _flag(env, USE_OIDC_VARS)
    use_cli = s.use_cli if s.use_cli is not None else _flag(env, USE_CLI_VARS)
    allow_device = s.allow_device_code or bool(_flag(env, DEVICE_CODE_VARS))
    for value in (secret, cert_password, oidc_token, ado_token, gh_token):
        register_secret(value)

    def need_client_id(kind: str) -> str:
        if not client_id:
            raise ConfigurationError(
                f"a {kind} credential was found but no client id: set AZURE_CLIENT_ID or ARM_CLIENT_ID "
                "(or CredentialSettings.client_id)",
                looked_at=("CredentialSettings.client_id",) + CLIENT_ID_VARS,
            )
        return client_id

    def build(kind: str) -> TokenCredential | None:
        if kind == "secret" and secret:
            return ClientSecretCredential(connection, need_client_id(kind), secret)
        if kind == "certificate" and cert_path:
            return CertificateCredential(connection, need_client_id(kind), cert_path, cert_password)
        if kind == "federated_file" and token_file:
            return ClientAssertionCredential(
                connection, need_client_id(kind), kind, _file_assertion(token_file),
                f"federated token file {token_file}", _digest(token_file),
            )
        if kind == "oidc_token" and oidc_token:
            static = oidc_token
            return ClientAssertionCredential(
                connection, need_client_id(kind), kind, lambda: static, "OIDC token from ARM_OIDC_TOKEN", _digest(static)
            )
        if kind == "azure_devops" and ado_url and ado_token and service_connection:
            fetch = _requested_assertion(
                ado_url, ado_token, method="POST", ca_bundle=connection.ca_bundle, response_key="oidcToken",
                what="Azure DevOps OIDC endpoint", **{"api-version": ADO_OIDC_API_VERSION, "serviceConnectionId": service_connection},
            )
            return ClientAssertionCredential(
                connection, need_client_id(kind), kind, fetch,
                f"Azure DevOps service connection {service_connection}", _digest(ado_url, ado_token, service_connection),
            )
        if kind == "github" and gh_url and gh_token:
            fetch = _requested_assertion(
                gh_url, gh_token, method="GET", ca_bundle=connection.ca_bundle, response_key="value",
                what="GitHub Actions OIDC endpoint", audience=FEDERATED_AUDIENCE,
            )
            return ClientAssertionCredential(
                connection, need_client_id(kind), kind, fetch, "GitHub Actions OIDC token", _digest(gh_url, gh_token)
            )
        if kind == "azure_cli" and use_cli is not False:
            az = shutil.which("az", path=env.get("PATH")) if "PATH" in env else shutil.which("az")
            if az:
                return AzureCliCredential(connection, az)
            if use_cli:
                raise ConfigurationError("ARM_USE_CLI is true but the `az` command is not on PATH", looked_at=("ARM_USE_CLI", "PATH"))
        if kind == "device_code" and allow_device and client_id and _has_tty():
            return DeviceCodeCredential(connection, client_id)
        return None

    if s.kind is not None:
        cred = build(s.kind)
        if cred is None:
            raise ConfigurationError(
                f"credential kind {s.kind!r} was requested but its settings are incomplete",
                looked_at=tuple(["CredentialSettings"] + looked),
            )
        return _log_choice(cred)

    federated = ["federated_file", "oidc_token", "azure_devops", "github"]
    if use_oidc is True:
        order = federated + ["secret", "certificate"]
    elif use_oidc is False:
        order = ["secret", "certificate"]
    else:
        order = ["secret", "certificate"] + federated
    order += ["azure_cli"] if use_cli is not False else []
    order += ["device_code"]
    if use_cli is True:
        order = ["azure_cli"] + [k for k in order if k != "azure_cli"]
    for kind in order:
        cred = build(kind)
        if cred is not None:
            return _log_choice(cred)
    raise ConfigurationError(
        "no usable credentials for Dataverse / Graph: set a client secret, certificate or federated "
        "token for an app registration, run in GitHub Actions / Azure DevOps with OIDC, or sign in "
        "with `az login`",
        looked_at=tuple(looked + ["PATH (az)"]),
    )


def _has_tty() -> bool:
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _log_choice(cred: TokenCredential) -> TokenCredential:
    logger.debug("using %s", cred.identity)
    return cred
