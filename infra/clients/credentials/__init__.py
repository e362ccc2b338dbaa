"""Credentials: who we are when we call Dataverse, Graph and the Power Platform admin API.

Signing in is Microsoft's ``azure-identity`` (the credential layer of every Azure SDK for Python,
https://learn.microsoft.com/python/api/overview/azure/identity-readme).  What is ours, by module:

* :mod:`~infra.clients.credentials.settings`: explicit :class:`CredentialSettings` and the
  variables Azure tooling and pulumi-azuread read (``AZURE_*`` and their ``ARM_*`` twins), so one
  identity drives both the azuread provider and ours;
* :mod:`~infra.clients.credentials.kinds`: one azure-identity class per credential kind and
  :func:`resolve_credential`, which picks ONE kind (settings win) or raises one
  :class:`~infra.clients.errors.ConfigurationError` listing every variable looked at;
* :mod:`~infra.clients.credentials.sharing`: :class:`TokenCredential`, a cheap handle that
  refuses to be pickled (providers are pickled into Pulumi state); the azure-identity credential
  behind it, with its token cache, is shared per process and identity, and every token it hands
  out is registered for redaction.
"""

from __future__ import annotations

import logging

import azure.core.pipeline.transport  # noqa: F401 - imported so its loggers exist when redaction is installed

from infra.clients.credentials.kinds import resolve_credential
from infra.clients.credentials.settings import ENV_VARIABLES, KINDS, CredentialSettings
from infra.clients.credentials.sharing import AccessToken, TokenCredential, clear_token_cache
from infra.clients.redact import THIRD_PARTY_LOGGERS, install_log_redaction, register_secret  # noqa: F401

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
