"""Credentials: who we are when we call Dataverse and Graph.

Signing in is Microsoft's ``azure-identity`` (the credential layer of every Azure SDK for Python,
https://learn.microsoft.com/python/api/overview/azure/identity-readme): each credential kind is
one of its classes, built for the connection's authority host (instance discovery off for a host
that is not Microsoft's) and CA bundle (TLS always verified).  What is ours:

* :func:`resolve_credential` picks ONE kind from explicit :class:`CredentialSettings` (which win)
  or the variables Azure tooling and pulumi-azuread read (``AZURE_*`` and their ``ARM_*`` twins),
  so one identity drives both the azuread provider and ours; when nothing fits, one
  :class:`ConfigurationError` lists every variable looked at;
* :class:`TokenCredential`, a cheap handle that refuses to be pickled (providers are pickled into
  Pulumi state).  The azure-identity credential behind it, with its token cache, is shared per
  process and identity, and every token it hands out is registered for redaction.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import azure.core.pipeline.transport  # noqa: F401 - imported so its loggers exist when redaction is installed
import azure.identity as azid
import httpx
from azure.core.exceptions import AzureError

from infra import facts
from infra.clients.connection import Connection, require_https, ssl_context
from infra.clients.errors import AuthenticationError, ConfigurationError
from infra.clients.redact import THIRD_PARTY_LOGGERS, install_log_redaction, logger, register_secret

# azure-core creates its HTTP logging policy's logger when a pipeline is built: create it now, so
# that it exists when the redaction filter is installed on azure-identity's and azure-core's loggers.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy")
install_log_redaction(*THIRD_PARTY_LOGGERS)

__all__ = [
    "AccessToken",
    "CredentialSettings",
    "TokenCredential",
    "resolve_credential",
    "clear_token_cache",
    "ENV_VARIABLES",
    "KINDS",
]

#: Connect / read timeouts (seconds) for Entra, the CI token services and the Azure CLI.
CONNECT_TIMEOUT_S = 10
SIGN_IN_TIMEOUT_S = 30
CLI_TIMEOUT_S = 60
#: azure-identity's AzureCliCredential does not cache; we renew its tokens this long before expiry
#: (the margin azure-identity applies to its own caches).
CLI_REFRESH_MARGIN_S = 300

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

KINDS = ("secret", "certificate", "federated_file", "oidc_token", "github", "azure_devops", "azure_cli", "device_code")


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
            raise ConfigurationError(f"credential kind {self.kind!r} is not known; allowed values: {', '.join(KINDS)}")
        for secret in (self.client_secret, self.certificate_password, self.oidc_token, self.oidc_request_token):
            register_secret(secret)

    def __reduce__(self) -> Any:
        raise TypeError("CredentialSettings hold secrets and must not be pickled")


# --- the per-process registry of azure-identity credentials -----------------------------------


@dataclass
class _Shared:
    lock: threading.Lock = field(default_factory=threading.Lock)  # one sign-in at a time per identity
    credential: Any = None


_REGISTRY: dict[tuple[str, ...], _Shared] = {}
_REGISTRY_LOCK = threading.Lock()


def _shared(key: tuple[str, ...]) -> _Shared:
    with _REGISTRY_LOCK:
        return _REGISTRY.setdefault(key, _Shared())


def clear_token_cache() -> None:
    """Forget every credential and its tokens (tests, benchmarks; a long-lived process after rotation)."""
    with _REGISTRY_LOCK:
        entries = list(_REGISTRY.values())
        _REGISTRY.clear()
    for entry in entries:
        _close(entry.credential)


def _close(credential: Any) -> None:
    try:
        if credential is not None:
            credential.close()
    except Exception:  # closing a session must never hide the real outcome
        logger.debug("closing a credential failed", exc_info=True)


def _digest(*parts: Any) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(repr(p).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


class TokenCredential:
    """One identity: a handle on the azure-identity credential shared by this process.

    ``get_token(scope)`` returns the cached token while azure-identity deems it fresh and a new one
    otherwise; ``force_refresh=True`` (the HTTP layer's answer to a 401) first replaces the shared
    credential with a new one, so nothing cached can be returned.  Errors raised:
    :class:`AuthenticationError` (sign-in refused or impossible), :class:`ConfigurationError`.
    """

    def __init__(self, connection: Connection, kind: str, client_id: str | None, build: Callable[[], Any],
                 material: str, description: str | None = None) -> None:
        self.connection = connection
        self.kind = kind
        self.client_id = client_id
        self._build = build
        self._description = description
        self.cache_key = (connection.authority_host, connection.tenant_id, client_id or "-", kind, material)
        entry = _shared(self.cache_key)
        with entry.lock:
            if entry.credential is None:
                entry.credential = self._new_credential()  # settings errors surface here, before any request

    @property
    def identity(self) -> str:
        """Non-secret description used in logs, errors and pool keys."""
        who = f"app {self.client_id}" if self.client_id else "signed-in user"
        extra = f" ({self._description})" if self._description else ""
        return f"{self.kind.replace('_', ' ')} for {who} in tenant {self.connection.tenant_id}{extra}"

    @property
    def azure_credential(self) -> Any:
        """The azure-identity credential currently behind this identity (shared per process)."""
        return _shared(self.cache_key).credential

    def get_token(self, scope: str, *, force_refresh: bool = False) -> AccessToken:
        """A token for ``scope`` (``<resource>/.default``), valid at least a little longer."""
        entry = _shared(self.cache_key)
        with entry.lock:
            if entry.credential is None or force_refresh:
                old, entry.credential = entry.credential, self._new_credential()
                _close(old)
            try:
                result = entry.credential.get_token(scope)
            except (AuthenticationError, ConfigurationError):
                raise
            except (AzureError, ValueError, OSError) as exc:
                raise _sign_in_error(exc, self, scope) from None
        register_secret(result.token)
        return AccessToken(result.token, float(result.expires_on))

    def _new_credential(self) -> Any:
        try:
            credential = self._build()
        except (AuthenticationError, ConfigurationError):
            raise
        except (ValueError, TypeError, OSError) as exc:  # azure-identity's answer to bad settings / files
            reason = getattr(exc, "strerror", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
            raise ConfigurationError(f"cannot set up {self.identity}: {reason}") from None
        install_log_redaction(*THIRD_PARTY_LOGGERS)  # loggers created while building get the filter too
        return credential

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.identity!r})"

    def __reduce__(self) -> Any:
        raise TypeError("credentials hold secrets and must not be pickled (resolve them at operation time)")


def _sign_in_error(exc: BaseException, cred: TokenCredential, scope: str) -> AuthenticationError:
    """azure-identity's error as ours: Entra's AADSTS code (or OAuth error) and first line, redacted."""
    text = str(getattr(exc, "message", None) or exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    first = first.removeprefix("Authentication failed: ")
    response = getattr(exc, "response", None)
    oauth_error = None
    try:
        oauth_error = response.json().get("error") if response is not None else None
    except Exception:  # not JSON: the message alone has to do
        pass
    aadsts = next((w.rstrip(":,.'") for w in first.split() if w.startswith("AADSTS")), None)
    code = aadsts or oauth_error or type(exc).__name__
    hint = f"; run `az login --tenant {cred.connection.tenant_id}`" if cred.kind == "azure_cli" else ""
    return AuthenticationError(getattr(response, "status_code", None), code,
                               f"sign-in failed for {cred.identity} (scope {scope}): {first}{hint}",
                               service="azure_cli" if cred.kind == "azure_cli" else "entra")


# --- what azure-identity does not do ------------------------------------------------------------


def _file_assertion(path: str) -> Callable[[], str]:
    """Read the federated token file for every token request, so a rotated file is used at once
    (azure-identity's WorkloadIdentityCredential re-reads it only every 10 minutes)."""

    def read() -> str:
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise AuthenticationError(None, "token_file_unreadable",
                                      f"federated token file {path!r} cannot be read: {exc.strerror or exc}",
                                      service="entra") from None
        if not value:
            raise AuthenticationError(None, "empty_assertion", f"federated token file {path!r} is empty", service="entra")
        register_secret(value)
        return value

    return read


def _github_assertion(url: str, request_token: str, ca_bundle: str | None) -> Callable[[], str]:
    """GitHub Actions' ID token: GET ``ACTIONS_ID_TOKEN_REQUEST_URL&audience=api://AzureADTokenExchange``
    with the request token as bearer, answer ``{"value": <jwt>}`` (GitHub docs, "Configuring OpenID
    Connect in cloud providers").  azure-identity has no GitHub credential."""
    parts = urlsplit(require_https(url, "GitHub Actions OIDC request URL"))
    query = parse_qsl(parts.query, keep_blank_values=True) + [("audience", facts.FEDERATED_TOKEN_AUDIENCE)]
    full_url = urlunsplit(parts._replace(query=urlencode(query)))
    register_secret(request_token)
    what = "GitHub Actions OIDC endpoint"

    def fetch() -> str:
        try:
            with httpx.Client(verify=ssl_context(ca_bundle), timeout=httpx.Timeout(SIGN_IN_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)) as client:
                response = client.get(full_url, headers={"Authorization": f"Bearer {request_token}", "Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise AuthenticationError(None, "oidc_request_failed", f"{what}: {type(exc).__name__}: {exc}", service="oidc") from None
        if response.status_code != 200:
            raise AuthenticationError(response.status_code, "oidc_request_failed",
                                      f"{what} answered HTTP {response.status_code}: {response.text[:300]}", service="oidc")
        try:
            value = str(response.json()["value"])
        except (ValueError, KeyError, TypeError):
            raise AuthenticationError(200, "oidc_request_failed", f"{what} answered without a 'value' field", service="oidc") from None
        register_secret(value)
        return value

    return fetch


class _CachedCliCredential:
    """azure-identity's AzureCliCredential runs ``az`` for every token and leaves caching to the
    caller (its docstring says so); one subprocess per HTTP request would be far too slow."""

    def __init__(self, cli: Any) -> None:
        self._cli = cli
        self._tokens: dict[str, Any] = {}

    def get_token(self, scope: str) -> Any:
        token = self._tokens.get(scope)
        if token is None or token.expires_on - time.time() <= CLI_REFRESH_MARGIN_S:
            token = self._tokens[scope] = self._cli.get_token(scope)
        return token

    def close(self) -> None:
        self._cli.close()


def _device_code_prompt(verification_uri: str, user_code: str, expires_on: Any) -> None:
    print(f"To sign in, open {verification_uri} and enter the code {user_code}.", file=sys.stderr, flush=True)


# --- resolution ------------------------------------------------------------------------------


def _first(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = env.get(name)
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def _flag(env: Mapping[str, str], names: tuple[str, ...]) -> bool | None:
    value = _first(env, names)
    return None if value is None else value.lower() in {"1", "true", "yes", "on"}


def resolve_credential(
    connection: Connection,
    settings: CredentialSettings | None = None,
    env: Mapping[str, str] | None = None,
) -> TokenCredential:
    """Pick the credential to use.  Explicit ``settings`` win over ``env`` (default ``os.environ``)
    field by field.

    Order when no kind is forced: client secret, certificate, federated token file, OIDC token,
    Azure DevOps, GitHub Actions, Azure CLI, device code (only if allowed and on a TTY).  With
    ``ARM_USE_OIDC=true`` the federated kinds go first; with ``ARM_USE_OIDC=false`` they are skipped;
    ``ARM_USE_CLI=true`` puts the Azure CLI first, ``false`` skips it.  ``az`` is looked for on
    ``env``'s PATH; azure-identity then runs the one on the process's PATH.
    Raises one :class:`ConfigurationError` listing every variable looked at when nothing fits.
    """
    s = settings or CredentialSettings()
    env = os.environ if env is None else env

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

    tenant = connection.tenant_id
    # What every azure-identity credential is built with: our authority host, TLS verified
    # against the connection's CA bundle (certifi's when none), bounded waits.
    common: dict[str, Any] = {
        "authority": connection.authority_host,
        "connection_verify": connection.ca_bundle or True,
        "connection_timeout": CONNECT_TIMEOUT_S,
        "read_timeout": SIGN_IN_TIMEOUT_S,
    }
    if not connection.is_microsoft_authority:
        common["disable_instance_discovery"] = True

    def need_client_id(kind: str) -> str:
        if not client_id:
            raise ConfigurationError(
                f"a {kind} credential was found but no client id: set AZURE_CLIENT_ID or ARM_CLIENT_ID "
                "(or CredentialSettings.client_id)",
                looked_at=("CredentialSettings.client_id",) + CLIENT_ID_VARS,
            )
        return client_id

    def assertion(kind: str, func: Callable[[], str], material: str, description: str) -> TokenCredential:
        cid = need_client_id(kind)
        return TokenCredential(connection, kind, cid, lambda: azid.ClientAssertionCredential(tenant, cid, func, **common),
                               material, description)

    def build(kind: str) -> TokenCredential | None:
        if kind == "secret" and secret:
            cid = need_client_id(kind)
            return TokenCredential(connection, kind, cid, lambda: azid.ClientSecretCredential(tenant, cid, secret, **common),
                                   _digest(secret))
        if kind == "certificate" and cert_path:
            cid = need_client_id(kind)
            try:
                content = Path(cert_path).expanduser().read_bytes()  # only to notice a replaced file
            except OSError as exc:
                raise ConfigurationError(f"client certificate {cert_path!r} cannot be read: {exc.strerror or exc}") from None
            return TokenCredential(
                connection, kind, cid,
                lambda: azid.CertificateCredential(tenant, cid, str(Path(cert_path).expanduser()), password=cert_password, **common),
                _digest(cert_path, content), f"certificate {cert_path}")
        if kind == "federated_file" and token_file:
            return assertion(kind, _file_assertion(token_file), _digest(token_file), f"federated token file {token_file}")
        if kind == "oidc_token" and oidc_token:
            static = oidc_token
            return assertion(kind, lambda: static, _digest(static), "OIDC token from ARM_OIDC_TOKEN")
        if kind == "azure_devops" and ado_url and ado_token and service_connection:
            cid = need_client_id(kind)
            url = require_https(ado_url, "Azure DevOps OIDC request URL")
            if (os.environ.get("SYSTEM_OIDCREQUESTURI") or "").strip().rstrip("/") != url:
                raise ConfigurationError(
                    "azure-identity's AzurePipelinesCredential reads the OIDC request URL from the process's "
                    "SYSTEM_OIDCREQUESTURI only; it is unset or differs from the one given",
                    looked_at=("SYSTEM_OIDCREQUESTURI", "ARM_OIDC_REQUEST_URL", "CredentialSettings.oidc_request_url"))
            return TokenCredential(
                connection, kind, cid,
                lambda: azid.AzurePipelinesCredential(tenant_id=tenant, client_id=cid, service_connection_id=service_connection,
                                                      system_access_token=ado_token, **common),
                _digest(url, ado_token, service_connection), f"Azure DevOps service connection {service_connection}")
        if kind == "github" and gh_url and gh_token:
            return assertion(kind, _github_assertion(gh_url, gh_token, connection.ca_bundle), _digest(gh_url, gh_token),
                             "GitHub Actions OIDC token")
        if kind == "azure_cli" and use_cli is not False:
            az = shutil.which("az", path=env.get("PATH")) if "PATH" in env else shutil.which("az")
            if az:
                return TokenCredential(
                    connection, kind, None,
                    lambda: _CachedCliCredential(azid.AzureCliCredential(tenant_id=tenant, process_timeout=CLI_TIMEOUT_S)),
                    _digest(az))
            if use_cli:
                raise ConfigurationError("ARM_USE_CLI is true but the `az` command is not on PATH", looked_at=("ARM_USE_CLI", "PATH"))
        if kind == "device_code" and allow_device and client_id and _has_tty():
            cid = client_id
            return TokenCredential(
                connection, kind, cid,
                lambda: azid.DeviceCodeCredential(cid, tenant_id=tenant, prompt_callback=_device_code_prompt, **common),
                _digest(cid))
        return None

    if s.kind is not None:
        cred = build(s.kind)
        if cred is None:
            raise ConfigurationError(f"credential kind {s.kind!r} was requested but its settings are incomplete",
                                     looked_at=("CredentialSettings",) + ENV_VARIABLES)
        return _log_choice(cred)

    federated = ["federated_file", "oidc_token", "azure_devops", "github"]
    if use_oidc is True:
        order = federated + ["secret", "certificate"]
    elif use_oidc is False:
        order = ["secret", "certificate"]
    else:
        order = ["secret", "certificate"] + federated
    order = (["azure_cli"] + order if use_cli is True else order + ["azure_cli"]) + ["device_code"]
    for kind in order:
        cred = build(kind)
        if cred is not None:
            return _log_choice(cred)
    raise ConfigurationError(
        "no usable credentials for Dataverse / Graph: set a client secret, certificate or federated "
        "token for an app registration, run in GitHub Actions / Azure DevOps with OIDC, or sign in "
        "with `az login`",
        looked_at=ENV_VARIABLES + ("PATH (az)",),
    )


def _has_tty() -> bool:
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _log_choice(cred: TokenCredential) -> TokenCredential:
    logger.debug("using %s", cred.identity)
    return cred
