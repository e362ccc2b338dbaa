"""Which settings name an identity: explicit :class:`CredentialSettings` and the environment.

The variable names are the ones Azure tooling (``AZURE_*``, read by azure-identity's
EnvironmentCredential and the Azure SDKs) and pulumi-azuread / the Terraform azurerm family
(``ARM_*``) read, plus the CI systems' own (GitHub Actions' ``ACTIONS_ID_TOKEN_REQUEST_*``, Azure
Pipelines' ``SYSTEM_*``), so that one identity drives both the azuread provider and ours.
:meth:`CredentialValues.gather` merges settings and environment field by field; nothing here
signs in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from infra.clients.errors import ConfigurationError
from infra.clients.redact import register_secret

__all__ = ["CredentialSettings", "CredentialValues", "ENV_VARIABLES", "KINDS"]

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

#: Every variable looked at, in order (named in the error when no credential fits).
ENV_VARIABLES: tuple[str, ...] = tuple(
    dict.fromkeys(
        TENANT_VARS + CLIENT_ID_VARS + SECRET_VARS + CERT_PATH_VARS + CERT_PASSWORD_VARS + TOKEN_FILE_VARS
        + OIDC_TOKEN_VARS + GITHUB_URL_VARS + GITHUB_TOKEN_VARS + ADO_URL_VARS + ADO_TOKEN_VARS
        + ADO_CONNECTION_VARS + USE_OIDC_VARS + USE_CLI_VARS + DEVICE_CODE_VARS
    )
)

#: The credential kinds, by the name :attr:`CredentialSettings.kind` takes.
KINDS = ("secret", "certificate", "federated_file", "oidc_token", "github", "azure_devops", "azure_cli", "device_code")


@dataclass(frozen=True)
class CredentialSettings:
    """Explicit credential settings; every field set here wins over the environment.

    ``kind`` forces one credential kind (one of :data:`KINDS`); left ``None`` the kind is
    inferred from what is set.  Secret fields are excluded from the repr and registered for
    redaction.  Raises :class:`ConfigurationError` for an unknown kind; refuses to be pickled.
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


def first(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    """The first non-blank value among ``names`` in ``env``, stripped; None when all are blank."""
    for name in names:
        value = env.get(name)
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def flag(env: Mapping[str, str], names: tuple[str, ...]) -> bool | None:
    """A boolean variable: True for 1/true/yes/on (any case), False for anything else set, None unset."""
    value = first(env, names)
    return None if value is None else value.lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class CredentialValues:
    """What settings and environment say, merged field by field (settings win).  Never logged or pickled."""

    client_id: str | None
    secret: str | None = field(repr=False)
    cert_path: str | None
    cert_password: str | None = field(repr=False)
    token_file: str | None
    oidc_token: str | None = field(repr=False)
    service_connection: str | None
    ado_url: str | None
    ado_token: str | None = field(repr=False)
    gh_url: str | None
    gh_token: str | None = field(repr=False)
    use_oidc: bool | None
    use_cli: bool | None
    allow_device: bool

    @classmethod
    def gather(cls, settings: CredentialSettings, env: Mapping[str, str]) -> "CredentialValues":
        """Merge ``settings`` over ``env`` and register every secret found for redaction."""
        s = settings
        values = cls(
            client_id=s.client_id or first(env, CLIENT_ID_VARS),
            secret=s.client_secret or first(env, SECRET_VARS),
            cert_path=s.certificate_path or first(env, CERT_PATH_VARS),
            cert_password=s.certificate_password or first(env, CERT_PASSWORD_VARS),
            token_file=s.federated_token_file or first(env, TOKEN_FILE_VARS),
            oidc_token=s.oidc_token or first(env, OIDC_TOKEN_VARS),
            service_connection=s.service_connection_id or first(env, ADO_CONNECTION_VARS),
            ado_url=s.oidc_request_url or first(env, ADO_URL_VARS),
            ado_token=s.oidc_request_token or first(env, ADO_TOKEN_VARS),
            gh_url=s.oidc_request_url or first(env, GITHUB_URL_VARS),
            gh_token=s.oidc_request_token or first(env, GITHUB_TOKEN_VARS),
            use_oidc=flag(env, USE_OIDC_VARS),
            use_cli=s.use_cli if s.use_cli is not None else flag(env, USE_CLI_VARS),
            allow_device=s.allow_device_code or bool(flag(env, DEVICE_CODE_VARS)),
        )
        for value in (values.secret, values.cert_password, values.oidc_token, values.ado_token, values.gh_token):
            register_secret(value)
        return values

    def __reduce__(self) -> Any:
        raise TypeError("credential values hold secrets and must not be pickled")
