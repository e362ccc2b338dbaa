"""Microsoft's sign-in libraries, unmodified, against the emulator's Entra origin: msal and
azure-identity with a client secret, a certificate and a federated (workload identity) token.

Each test names the Microsoft page whose behaviour it checks.
"""

from __future__ import annotations

from pathlib import Path

import jwt
import msal
import pytest
from azure.identity import WorkloadIdentityCredential

from emulator import Emulator

from .helpers import session
from .ms_clients import (FEDERATED_SUBJECT, GRAPH_SCOPE, assertion_credential, certificate_credential,
                         identity_options, secret_credential)


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _scopes(emu: Emulator) -> dict[str, str]:
    return {"graph": GRAPH_SCOPE, "dataverse": f"{emu.urls.environment_url}/.default"}


@pytest.mark.parametrize("kind", ["secret", "certificate", "federated"])
@pytest.mark.parametrize("resource", ["graph", "dataverse"])
def test_azure_identity_credentials_get_tokens(emulator: Emulator, kind: str, resource: str) -> None:
    """azure-identity's ClientSecretCredential, CertificateCredential and ClientAssertionCredential
    (client credentials flow, https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow)
    get an app-only token whose ``aud`` is the resource and whose ``appidacr`` is 1 for a secret, 2 for
    a certificate or assertion (https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference)."""
    make = {"secret": secret_credential, "certificate": certificate_credential, "federated": assertion_credential}[kind]
    token = make(emulator).get_token(_scopes(emulator)[resource])
    claims = _claims(token.token)
    audience = "https://graph.microsoft.com" if resource == "graph" else emulator.urls.environment_url
    assert claims["aud"] == audience
    assert claims["appid"] == emulator.app("deployer")["client_id"]
    assert claims["appidacr"] == ("1" if kind == "secret" else "2")
    assert token.expires_on > claims["iat"]


def test_workload_identity_credential_reads_the_token_file(emulator: Emulator, tmp_path: Path) -> None:
    """WorkloadIdentityCredential, the way CI runs with AZURE_FEDERATED_TOKEN_FILE: the federated token is
    read from a file and exchanged (https://learn.microsoft.com/entra/workload-id/workload-identity-federation)."""
    token_file = tmp_path / "federated-token"
    token_file.write_text(emulator.issue_federated_token(FEDERATED_SUBJECT))
    cred = WorkloadIdentityCredential(tenant_id=emulator.urls.tenant_id, client_id=emulator.app("deployer")["client_id"],
                                      token_file_path=str(token_file), **identity_options(emulator))
    claims = _claims(cred.get_token(f"{emulator.urls.environment_url}/.default").token)
    assert claims["aud"] == emulator.urls.environment_url and claims["appidacr"] == "2"


@pytest.mark.parametrize("kind", ["secret", "certificate", "federated"])
def test_msal_confidential_client_gets_tokens(emulator: Emulator, kind: str) -> None:
    """msal's ConfidentialClientApplication with a secret, a certificate (thumbprint + private key) or a
    client assertion (https://learn.microsoft.com/entra/msal/python/advanced/client-credentials)."""
    path, thumbprint = emulator.app_certificate("deployer")
    credential = {"secret": emulator.app("deployer")["secrets"][0],
                  "certificate": {"private_key": path.read_text(), "thumbprint": thumbprint},
                  "federated": {"client_assertion": lambda: emulator.issue_federated_token(FEDERATED_SUBJECT)}}[kind]
    app = msal.ConfidentialClientApplication(emulator.app("deployer")["client_id"], client_credential=credential,
                                             authority=emulator.urls.authority, instance_discovery=False,
                                             http_client=session(emulator))
    for scope in _scopes(emulator).values():
        result = app.acquire_token_for_client([scope])
        assert "access_token" in result, result
        assert _claims(result["access_token"])["aud"] == scope.removesuffix("/.default")


def test_access_token_claims_follow_the_reference(emulator: Emulator) -> None:
    """Every claim of an app-only v1.0 access token as the reference describes it, and "claims are present
    only if a value exists to fill it": a token for a resource on which the app holds no application
    permission has no ``roles`` claim at all
    (https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference;
    ``idtyp``: https://learn.microsoft.com/entra/identity-platform/optional-claims-reference)."""
    cred = secret_credential(emulator)
    tenant = emulator.urls.tenant_id
    deployer = emulator.app("deployer")
    dataverse = cred.get_token(f"{emulator.urls.environment_url}/.default").token
    graph = cred.get_token(GRAPH_SCOPE).token
    header = jwt.get_unverified_header(dataverse)
    assert header["typ"] == "JWT" and header["alg"] == "RS256" and header["kid"] and header["x5t"] == header["kid"]
    claims = _claims(dataverse)
    assert "roles" not in claims
    assert claims["iss"] == claims["idp"] == f"https://sts.windows.net/{tenant}/"
    assert claims["tid"] == tenant and claims["ver"] == "1.0" and claims["idtyp"] == "app"
    assert claims["oid"] == claims["sub"] == deployer["service_principal_id"]
    assert claims["iat"] <= claims["nbf"] < claims["exp"]
    assert "scp" not in claims  # app-only: application permissions, never delegated scopes
    assert sorted(_claims(graph)["roles"]) == sorted(deployer["graph_app_roles"])
