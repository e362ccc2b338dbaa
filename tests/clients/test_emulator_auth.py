"""Each credential kind against the emulator's Entra surface; token refresh on expiry and on 401."""

from __future__ import annotations

import time
from pathlib import Path


import pytest

from infra.clients import credentials as credmod
from infra.clients.credentials import AccessToken, CredentialSettings, resolve_credential
from infra.clients.dataverse import DataverseClient
from infra.clients.errors import AuthenticationError

from .conftest import clear_log, wait_for_log, DEPLOYER_ID, GITHUB_SUBJECT, LIMITED_ID, LIMITED_SECRET, connection_for, secret_env

DEPLOYER_USER = "6b1c2d3e-0000-4000-8000-000000005001"
LIMITED_USER = "6b1c2d3e-0000-4000-8000-000000005002"


def whoami(conn, env: dict[str, str], settings: CredentialSettings | None = None) -> str:
    return DataverseClient.for_connection(conn, settings=settings, env=env).whoami().user_id


def test_client_secret(conn) -> None:
    assert whoami(conn, secret_env()) == DEPLOYER_USER
    assert whoami(conn, secret_env(LIMITED_ID, LIMITED_SECRET)) == LIMITED_USER


def test_wrong_secret_is_an_authentication_error_without_the_secret(conn) -> None:
    with pytest.raises(AuthenticationError) as err:
        whoami(conn, secret_env(DEPLOYER_ID, "wrong-secret-value-123"))
    assert "wrong-secret-value-123" not in str(err.value)
    assert err.value.code == "invalid_client"


def test_client_certificate_thumbprint_matches_registration(emulator, conn) -> None:
    path, sha1 = emulator.app_certificate("deployer")
    cred = resolve_credential(conn, env={"AZURE_CLIENT_ID": DEPLOYER_ID, "AZURE_CLIENT_CERTIFICATE_PATH": str(path)})
    assert cred.kind == "certificate"
    assert cred.certificate.sha1_thumbprint.lower() == sha1.lower()
    assert DataverseClient.for_connection(conn, cred).whoami().user_id == DEPLOYER_USER


def test_federated_token_file_is_read_on_each_sign_in(emulator, conn, tmp_path: Path) -> None:
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(emulator.issue_federated_token(GITHUB_SUBJECT))
    env = {"AZURE_CLIENT_ID": DEPLOYER_ID, "AZURE_FEDERATED_TOKEN_FILE": str(token_file)}
    cred = resolve_credential(conn, env=env)
    assert cred.kind == "federated_file"
    assert cred.get_token(conn.dataverse_scope).token
    assert whoami(conn, env) == DEPLOYER_USER
    # rotation: the file is read again for the next sign-in (a wrong subject is now refused)
    token_file.write_text(emulator.issue_federated_token("repo:someone/else:ref:refs/heads/main"))
    with pytest.raises(AuthenticationError):
        cred.get_token(conn.dataverse_scope, force_refresh=True)


def test_static_oidc_token(emulator, conn) -> None:
    env = {"ARM_CLIENT_ID": DEPLOYER_ID, "ARM_OIDC_TOKEN": emulator.issue_federated_token(GITHUB_SUBJECT)}
    assert whoami(conn, env) == DEPLOYER_USER


def test_github_actions_request_url(emulator, conn) -> None:
    env = {"AZURE_CLIENT_ID": DEPLOYER_ID, "ACTIONS_ID_TOKEN_REQUEST_URL": emulator.oidc_request_url,
           "ACTIONS_ID_TOKEN_REQUEST_TOKEN": emulator.oidc_request_token(GITHUB_SUBJECT)}
    assert resolve_credential(conn, env=env).kind == "github"
    assert whoami(conn, env) == DEPLOYER_USER
    bad = {**env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "not-a-request-token-1"}
    with pytest.raises(AuthenticationError) as err:
        resolve_credential(conn, env=bad).get_token(conn.dataverse_scope)
    assert "not-a-request-token-1" not in str(err.value)


def test_azure_devops_oidc_request(monkeypatch, conn) -> None:
    """The emulator has no Azure DevOps endpoint: check the request we would send instead."""
    sent: list[tuple[str, str, dict[str, str]]] = []

    class FakeResponse:
        status_code = 200
        text = ""

        def json(self) -> dict[str, str]:
            return {"oidcToken": "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJzYyJ9.c2ln"}

    class FakeSession:
        def request(self, method: str, url: str, headers: dict[str, str]) -> FakeResponse:
            sent.append((method, url, headers))
            return FakeResponse()

        def close(self) -> None:
            pass

    monkeypatch.setattr(credmod, "_requests_session", lambda ca: FakeSession())
    env = {"AZURE_CLIENT_ID": DEPLOYER_ID, "SYSTEM_OIDCREQUESTURI": "https://dev.azure.com/org/proj/_apis/distributedtask/oidc",
           "SYSTEM_ACCESSTOKEN": "ado-system-access-token", "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": "sc-123"}
    cred = resolve_credential(conn, env=env)
    assert cred.kind == "azure_devops" and "sc-123" in cred.identity
    assert cred._assertion().startswith("eyJ")
    method, url, headers = sent[0]
    assert method == "POST" and "serviceConnectionId=sc-123" in url and "api-version=7.1" in url
    assert headers["Authorization"] == "Bearer ado-system-access-token"


def test_token_is_renewed_ahead_of_expiry(emulator_factory) -> None:
    emu = emulator_factory(token_lifetime_s=3)
    conn = connection_for(emu)
    dv = DataverseClient.for_connection(conn, env=secret_env())
    first = dv.credential.get_token(conn.dataverse_scope)
    dv.whoami()
    time.sleep(2.75)  # inside the last 10 % (0.3 s) of a 3 s token
    dv.whoami()
    second = dv.credential.get_token(conn.dataverse_scope)
    assert second.token != first.token
    assert all(r.status != 401 for r in emu.requests)
    assert dv.http.stats.token_refreshes == 0


def test_401_forces_one_refresh_and_a_resend(emulator_factory) -> None:
    emu = emulator_factory(token_lifetime_s=1)
    conn = connection_for(emu)
    dv = DataverseClient.for_connection(conn, env=secret_env())
    dv.whoami()
    # pretend our cache believes the (1 s) token is good for an hour, as with clock skew
    entry = credmod._entry(dv.credential.cache_key)
    token, _ = entry.tokens[conn.dataverse_scope]
    entry.tokens[conn.dataverse_scope] = (AccessToken(token.token, time.time() + 3600), time.time())
    time.sleep(1.3)
    clear_log(emu)
    assert dv.whoami().user_id == DEPLOYER_USER
    statuses = wait_for_log(emu, "/WhoAmI", 2)
    assert statuses == [401, 200]
    assert dv.http.stats.token_refreshes == 1
