"""The credential kinds, each one azure-identity class, and :func:`resolve_credential`, which picks one.

Every kind is built for the connection's authority host (instance discovery off for a host that
is not Microsoft's, as azure-identity's ``disable_instance_discovery`` documents for Azure Stack
and private clouds) and CA bundle (TLS always verified).  What azure-identity does not do is here
too: re-reading a federated token file for every token, GitHub Actions' ID token request, and a
token cache in front of the Azure CLI.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import azure.identity as azid
import httpx

from infra import facts
from infra.clients.endpoints import EnvironmentEndpoints, require_https, ssl_context
from infra.clients.credentials.settings import (
    CLIENT_ID_VARS,
    ENV_VARIABLES,
    TENANT_VARS,
    CredentialSettings,
    CredentialValues,
    first,
)
from infra.clients.credentials.sharing import TokenCredential, digest
from infra.clients.errors import AuthenticationError, ConfigurationError
from infra.clients.redact import logger, register_secret

__all__ = ["resolve_credential"]

#: Connect / read timeouts (seconds) for Entra, the CI token services and the Azure CLI.
CONNECT_TIMEOUT_S = 10
SIGN_IN_TIMEOUT_S = 30
CLI_TIMEOUT_S = 60
#: azure-identity's AzureCliCredential does not cache; we renew its tokens this long before expiry
#: (the margin azure-identity applies to its own caches).
CLI_REFRESH_MARGIN_S = 300


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


def _has_tty() -> bool:
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


# --- one builder per kind -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Choice:
    """What every builder needs: the connection, the merged values, the environment, and the
    keyword arguments every azure-identity credential is built with."""

    connection: EnvironmentEndpoints
    values: CredentialValues
    env: Mapping[str, str]

    @property
    def tenant(self) -> str:
        return self.connection.tenant_id

    @property
    def common(self) -> dict[str, Any]:
        # Our authority host, TLS verified against the connection's CA bundle (certifi's when
        # none), bounded waits.
        common: dict[str, Any] = {
            "authority": self.connection.authority_host,
            "connection_verify": self.connection.ca_bundle or True,
            "connection_timeout": CONNECT_TIMEOUT_S,
            "read_timeout": SIGN_IN_TIMEOUT_S,
        }
        if not self.connection.is_microsoft_authority:
            common["disable_instance_discovery"] = True
        return common

    def client_id(self, kind: str) -> str:
        if not self.values.client_id:
            raise ConfigurationError(
                f"a {kind} credential was found but no client id: set AZURE_CLIENT_ID or ARM_CLIENT_ID "
                "(or CredentialSettings.client_id)",
                looked_at=("CredentialSettings.client_id",) + CLIENT_ID_VARS,
            )
        return self.values.client_id

    def assertion(self, kind: str, func: Callable[[], str], material: str, description: str) -> TokenCredential:
        cid, tenant, common = self.client_id(kind), self.tenant, self.common
        return TokenCredential(self.connection, kind, cid,
                               lambda: azid.ClientAssertionCredential(tenant, cid, func, **common),
                               material, description)


def _secret(c: _Choice) -> TokenCredential | None:
    secret = c.values.secret
    if not secret:
        return None
    cid, tenant, common = c.client_id("secret"), c.tenant, c.common
    return TokenCredential(c.connection, "secret", cid,
                           lambda: azid.ClientSecretCredential(tenant, cid, secret, **common), digest(secret))


def _certificate(c: _Choice) -> TokenCredential | None:
    cert_path, password = c.values.cert_path, c.values.cert_password
    if not cert_path:
        return None
    cid, tenant, common = c.client_id("certificate"), c.tenant, c.common
    try:
        content = Path(cert_path).expanduser().read_bytes()  # only to notice a replaced file
    except OSError as exc:
        raise ConfigurationError(f"client certificate {cert_path!r} cannot be read: {exc.strerror or exc}") from None
    return TokenCredential(
        c.connection, "certificate", cid,
        lambda: azid.CertificateCredential(tenant, cid, str(Path(cert_path).expanduser()), password=password, **common),
        digest(cert_path, content), f"certificate {cert_path}")


def _federated_file(c: _Choice) -> TokenCredential | None:
    path = c.values.token_file
    if not path:
        return None
    return c.assertion("federated_file", _file_assertion(path), digest(path), f"federated token file {path}")


def _oidc_token(c: _Choice) -> TokenCredential | None:
    token = c.values.oidc_token
    if not token:
        return None
    return c.assertion("oidc_token", lambda: token, digest(token), "OIDC token from ARM_OIDC_TOKEN")


def _azure_devops(c: _Choice) -> TokenCredential | None:
    v = c.values
    if not (v.ado_url and v.ado_token and v.service_connection):
        return None
    cid, tenant, common = c.client_id("azure_devops"), c.tenant, c.common
    url = require_https(v.ado_url, "Azure DevOps OIDC request URL")
    if (os.environ.get("SYSTEM_OIDCREQUESTURI") or "").strip().rstrip("/") != url:
        raise ConfigurationError(
            "azure-identity's AzurePipelinesCredential reads the OIDC request URL from the process's "
            "SYSTEM_OIDCREQUESTURI only; it is unset or differs from the one given",
            looked_at=("SYSTEM_OIDCREQUESTURI", "ARM_OIDC_REQUEST_URL", "CredentialSettings.oidc_request_url"))
    service_connection, access_token = v.service_connection, v.ado_token
    return TokenCredential(
        c.connection, "azure_devops", cid,
        lambda: azid.AzurePipelinesCredential(tenant_id=tenant, client_id=cid, service_connection_id=service_connection,
                                              system_access_token=access_token, **common),
        digest(url, access_token, service_connection), f"Azure DevOps service connection {service_connection}")


def _github(c: _Choice) -> TokenCredential | None:
    v = c.values
    if not (v.gh_url and v.gh_token):
        return None
    return c.assertion("github", _github_assertion(v.gh_url, v.gh_token, c.connection.ca_bundle),
                       digest(v.gh_url, v.gh_token), "GitHub Actions OIDC token")


def _azure_cli(c: _Choice) -> TokenCredential | None:
    use_cli = c.values.use_cli
    if use_cli is False:
        return None
    az = shutil.which("az", path=c.env.get("PATH")) if "PATH" in c.env else shutil.which("az")
    if az:
        tenant = c.tenant
        return TokenCredential(
            c.connection, "azure_cli", None,
            lambda: _CachedCliCredential(azid.AzureCliCredential(tenant_id=tenant, process_timeout=CLI_TIMEOUT_S)),
            digest(az))
    if use_cli:
        raise ConfigurationError("ARM_USE_CLI is true but the `az` command is not on PATH", looked_at=("ARM_USE_CLI", "PATH"))
    return None


def _device_code(c: _Choice) -> TokenCredential | None:
    cid = c.values.client_id
    if not (c.values.allow_device and cid and _has_tty()):
        return None
    tenant, common = c.tenant, c.common
    return TokenCredential(
        c.connection, "device_code", cid,
        lambda: azid.DeviceCodeCredential(cid, tenant_id=tenant, prompt_callback=_device_code_prompt, **common),
        digest(cid))


_BUILDERS: dict[str, Callable[[_Choice], TokenCredential | None]] = {
    "secret": _secret, "certificate": _certificate, "federated_file": _federated_file, "oidc_token": _oidc_token,
    "azure_devops": _azure_devops, "github": _github, "azure_cli": _azure_cli, "device_code": _device_code,
}
_FEDERATED = ("federated_file", "oidc_token", "azure_devops", "github")


def _order(values: CredentialValues) -> list[str]:
    if values.use_oidc is True:
        order = [*_FEDERATED, "secret", "certificate"]
    elif values.use_oidc is False:
        order = ["secret", "certificate"]
    else:
        order = ["secret", "certificate", *_FEDERATED]
    return (["azure_cli", *order] if values.use_cli is True else [*order, "azure_cli"]) + ["device_code"]


def resolve_credential(
    connection: EnvironmentEndpoints,
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
    Raises one :class:`ConfigurationError` listing every variable looked at when nothing fits
    (nothing is sent before that).
    """
    s = settings or CredentialSettings()
    env = os.environ if env is None else env

    if s.tenant_id and s.tenant_id != connection.tenant_id:
        connection = EnvironmentEndpoints(**{**connection.to_dict(), "tenant_id": s.tenant_id})
    env_tenant = first(env, TENANT_VARS)
    if env_tenant and not s.tenant_id and env_tenant.lower() != connection.tenant_id.lower():
        # The connection (stack config) names the environment's tenant and wins; say so, since
        # a mismatch usually means the shell is logged in to another tenant.
        logger.warning("AZURE_TENANT_ID/ARM_TENANT_ID (%s) differs from the connection's tenant %s; using the connection's",
                       env_tenant, connection.tenant_id)

    values = CredentialValues.gather(s, env)
    choice = _Choice(connection, values, env)
    if s.kind is not None:
        cred = _BUILDERS[s.kind](choice)
        if cred is None:
            raise ConfigurationError(f"credential kind {s.kind!r} was requested but its settings are incomplete",
                                     looked_at=("CredentialSettings",) + ENV_VARIABLES)
        logger.debug("using %s", cred.identity)
        return cred
    for kind in _order(values):
        cred = _BUILDERS[kind](choice)
        if cred is not None:
            logger.debug("using %s", cred.identity)
            return cred
    raise ConfigurationError(
        "no usable credentials for Dataverse / Graph: set a client secret, certificate or federated "
        "token for an app registration, run in GitHub Actions / Azure DevOps with OIDC, or sign in "
        "with `az login`",
        looked_at=ENV_VARIABLES + ("PATH (az)",),
    )
