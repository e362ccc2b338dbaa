"""Each credential kind against the emulator's Entra surface, through azure-identity; token reuse,
renewal ahead of expiry, federated token file rotation, and the 401 -> refresh once -> resend rule.

Every sign-in here goes to a custom authority host with the emulator's own CA: it only works because
instance discovery is off (msal would otherwise ask login.microsoftonline.com) and the CA bundle
reaches azure-identity's transport.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import azure.identity as azid
import pytest
from cryptography.hazmat.primitives.serialization import (BestAvailableEncryption, Encoding, PrivateFormat,
                                                          load_pem_private_key, pkcs12)
from cryptography.x509 import load_pem_x509_certificate

from emulator.seed import ids
from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.credentials import CredentialSettings, resolve_credential
from infra.clients.dataverse import DataverseClient
from infra.clients.errors import AuthenticationError

from .conftest import (DEPLOYER_ID, GITHUB_SUBJECT, LIMITED_ID, LIMITED_SECRET, az_calls, az_path,
                       endpoints_for, secret_env, logged_statuses, write_fake_az)

DEPLOYER_USER = ids.DEPLOYER_SYSTEMUSER_ID
LIMITED_USER = ids.LIMITED_SYSTEMUSER_ID
ADO_SUBJECT = "sc://contoso/bc-sales/bc-sales-limited"
TOKEN_PATH = "/oauth2/v2.0/token"


def whoami(conn, env: dict[str, str], settings: CredentialSettings | None = None) -> str:
    return DataverseClient.for_connection(conn, settings=settings, env=env).whoami().user_id


def token_requests(emu: Any) -> list[int]:
    """Statuses of the token requests the emulator has logged so far."""
    time.sleep(0.05)  # a request is logged just after its response is sent
    return [r.status for r in emu.requests if r.method == "POST" and r.path.endswith(TOKEN_PATH)]


def test_client_secret(conn) -> None:
    assert whoami(conn, secret_env()) == DEPLOYER_USER
    assert whoami(conn, secret_env(LIMITED_ID, LIMITED_SECRET)) == LIMITED_USER


def test_wrong_secret_is_an_authentication_error_without_the_secret(conn) -> None:
    with pytest.raises(AuthenticationError) as err:
        whoami(conn, secret_env(DEPLOYER_ID, "wrong-secret-value-123"))
    assert "wrong-secret-value-123" not in str(err.value)
    # azure-identity passes on Entra's description, whose AADSTS code names the cause
    assert err.value.code == "AADSTS7000215" and err.value.service == "entra"
    assert f"secret for app {DEPLOYER_ID}" in str(err.value) and "Invalid client secret" in str(err.value)


def test_client_certificate_pem_encrypted_pem_and_pfx(emulator, conn, tmp_path: Path) -> None:
    """The emulator accepts the assertion only if it is signed by the key of the registered certificate."""
    pem, _sha1 = emulator.app_certificate("deployer")
    data = pem.read_bytes()
    key, cert = load_pem_private_key(data, password=None), load_pem_x509_certificate(data)
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"pem-pass-1"))
                          + cert.public_bytes(Encoding.PEM))
    pfx = tmp_path / "deployer.pfx"
    pfx.write_bytes(pkcs12.serialize_key_and_certificates(b"deployer", key, cert, None,  # type: ignore[arg-type]
                                                          BestAvailableEncryption(b"pfx-pass-2")))
    for path, password in ((pem, None), (encrypted, "pem-pass-1"), (pfx, "pfx-pass-2")):
        env = {"AZURE_CLIENT_ID": DEPLOYER_ID, "AZURE_CLIENT_CERTIFICATE_PATH": str(path), "PATH": ""}
        if password:
            env["AZURE_CLIENT_CERTIFICATE_PASSWORD"] = password
        cred = resolve_credential(conn, env=env)
        assert cred.kind == "certificate" and isinstance(cred.azure_credential, azid.CertificateCredential)
        assert DataverseClient.for_connection(conn, cred).whoami().user_id == DEPLOYER_USER
    assert token_requests(emulator) == [200, 200, 200]


def test_federated_token_file_rotation(emulator, conn, tmp_path: Path, client_clock) -> None:
    """The file's content is read for every token request: after a rotation the new assertion is
    sent, both when the token expires and when a refresh is forced (after a 401)."""
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(emulator.issue_federated_token(GITHUB_SUBJECT))
    env = {"AZURE_CLIENT_ID": DEPLOYER_ID, "AZURE_FEDERATED_TOKEN_FILE": str(token_file), "PATH": ""}
    cred = resolve_credential(conn, env=env)
    assert cred.kind == "federated_file"
    first = cred.get_token(conn.dataverse_scope)
    assert whoami(conn, env) == DEPLOYER_USER  # same identity key: the token is reused
    assert token_requests(emulator) == [200]

    # rotated to an assertion this app does not trust: nothing is sent while the token is fresh ...
    token_file.write_text(emulator.issue_federated_token("repo:someone/else:ref:refs/heads/main"))
    assert cred.get_token(conn.dataverse_scope).token == first.token
    # ... a forced refresh sends the new content (and Entra refuses it), then the next good one
    with pytest.raises(AuthenticationError) as err:
        cred.get_token(conn.dataverse_scope, force_refresh=True)
    assert err.value.code == "AADSTS70021"
    token_file.write_text(emulator.issue_federated_token(GITHUB_SUBJECT))
    second = cred.get_token(conn.dataverse_scope, force_refresh=True)
    assert second.token != first.token
    # the same without forcing: once the token has expired, the next request reads the file again
    token_file.write_text(emulator.issue_federated_token("repo:someone/else:ref:refs/heads/main"))
    client_clock(3700)
    with pytest.raises(AuthenticationError):
        cred.get_token(conn.dataverse_scope)
    token_file.write_text(emulator.issue_federated_token(GITHUB_SUBJECT))
    assert cred.get_token(conn.dataverse_scope).token not in (first.token, second.token)
    assert token_requests(emulator) == [200, 401, 200, 401, 200]


def test_static_oidc_token(emulator, conn) -> None:
    env = {"ARM_CLIENT_ID": DEPLOYER_ID, "ARM_OIDC_TOKEN": emulator.issue_federated_token(GITHUB_SUBJECT), "PATH": ""}
    assert resolve_credential(conn, env=env).kind == "oidc_token"
    assert whoami(conn, env) == DEPLOYER_USER


def test_github_actions_request_url(emulator, conn) -> None:
    env = {"AZURE_CLIENT_ID": DEPLOYER_ID, "ACTIONS_ID_TOKEN_REQUEST_URL": emulator.oidc_request_url,
           "ACTIONS_ID_TOKEN_REQUEST_TOKEN": emulator.oidc_request_token(GITHUB_SUBJECT), "PATH": ""}
    assert resolve_credential(conn, env=env).kind == "github"
    assert whoami(conn, env) == DEPLOYER_USER
    bad = {**env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "not-a-request-token-1"}
    with pytest.raises(AuthenticationError) as err:
        resolve_credential(conn, env=bad).get_token(conn.dataverse_scope)
    assert "not-a-request-token-1" not in str(err.value)
    assert err.value.status == 401 and err.value.service == "oidc"


def test_azure_devops_service_connection(emulator, conn, monkeypatch) -> None:
    """AzurePipelinesCredential: POST to SYSTEM_OIDCREQUESTURI with System.AccessToken, then the
    ID token as assertion (the emulator's limited app trusts the service connection's subject)."""
    access_token, service_connection = emulator.azure_devops_access_token(ADO_SUBJECT)
    monkeypatch.setenv("SYSTEM_OIDCREQUESTURI", emulator.azure_devops_oidc_request_uri)
    env = {"AZURE_CLIENT_ID": LIMITED_ID, "SYSTEM_OIDCREQUESTURI": emulator.azure_devops_oidc_request_uri,
           "SYSTEM_ACCESSTOKEN": access_token, "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": service_connection, "PATH": ""}
    cred = resolve_credential(conn, env=env)
    assert cred.kind == "azure_devops" and isinstance(cred.azure_credential, azid.AzurePipelinesCredential)
    assert service_connection in cred.identity
    assert whoami(conn, env) == LIMITED_USER
    bad = {**env, "SYSTEM_ACCESSTOKEN": "not-the-access-token-2"}
    with pytest.raises(AuthenticationError) as err:
        resolve_credential(conn, env=bad).get_token(conn.dataverse_scope)
    assert "not-the-access-token-2" not in str(err.value)


def test_azure_cli_token_reaches_dataverse(emulator, conn, tmp_path: Path, monkeypatch) -> None:
    """No real `az` here: a stand-in prints the documented JSON with a token the emulator issued."""
    deployer = emulator.app("deployer")
    token, life = emulator.ctx.tokens.issue(client_id=DEPLOYER_ID, service_principal_id=deployer["service_principal_id"],
                                            audience=conn.environment_url)
    write_fake_az(tmp_path, {"accessToken": token, "expires_on": int(time.time()) + life, "tokenType": "Bearer"})
    env = {"PATH": az_path(monkeypatch, tmp_path)}
    cred = resolve_credential(conn, env=env)
    assert cred.kind == "azure_cli" and isinstance(cred.azure_credential._cli, azid.AzureCliCredential)
    dv = DataverseClient.for_connection(conn, cred)
    assert dv.whoami().user_id == DEPLOYER_USER
    assert dv.whoami().user_id == DEPLOYER_USER
    (args,) = az_calls(tmp_path)  # one `az` run for both requests
    assert args[args.index("--resource") + 1] == conn.environment_url
    assert args[args.index("--tenant") + 1] == conn.tenant_id
    assert token_requests(emulator) == []


def test_device_code_reaches_the_authority_the_emulator_has_no_device_flow(emulator, conn, monkeypatch, capsys) -> None:
    """The emulator serves only client credentials: DeviceCodeCredential's first request (the device
    authorization endpoint) gets 404, so the prompt is never shown.  What this proves: the credential
    is only built when allowed, and it signs in at our authority over TLS with our CA."""
    monkeypatch.setattr("infra.clients.credentials.kinds._has_tty", lambda: True)
    env = {"AZURE_CLIENT_ID": DEPLOYER_ID, "PATH": ""}
    cred = resolve_credential(conn, CredentialSettings(allow_device_code=True), env=env)
    assert cred.kind == "device_code" and isinstance(cred.azure_credential, azid.DeviceCodeCredential)
    with pytest.raises(AuthenticationError):
        cred.get_token(conn.dataverse_scope)
    time.sleep(0.05)
    assert [(r.method, r.path.rsplit("/", 1)[-1], r.status) for r in emulator.requests if "devicecode" in r.path] == [
        ("POST", "devicecode", 404)]
    assert "To sign in" not in capsys.readouterr().err


def test_tls_is_verified_without_the_emulators_ca(emulator, conn) -> None:
    untrusted = EnvironmentEndpoints(**{**conn.to_dict(), "ca_bundle": None})
    with pytest.raises(AuthenticationError) as err:
        resolve_credential(untrusted, env=secret_env()).get_token(conn.dataverse_scope)
    assert "CERTIFICATE_VERIFY_FAILED" in str(err.value) or "certificate verify failed" in str(err.value)
    assert token_requests(emulator) == []


@pytest.mark.parametrize("kind", ["secret", "federated_file"])
def test_token_is_reused_then_renewed_ahead_of_expiry(emulator, conn, tmp_path: Path, client_clock, kind) -> None:
    """msal (secret, certificate) and azure-identity (assertions) renew a token in its last 5 minutes,
    so a request never carries one about to expire."""
    env = secret_env()
    if kind == "federated_file":
        token_file = tmp_path / "token"
        token_file.write_text(emulator.issue_federated_token(GITHUB_SUBJECT))
        env = {"AZURE_CLIENT_ID": DEPLOYER_ID, "AZURE_FEDERATED_TOKEN_FILE": str(token_file), "PATH": ""}
    dv = DataverseClient.for_connection(conn, env=env)
    assert dv.credential.kind == kind
    first = dv.credential.get_token(conn.dataverse_scope)
    dv.whoami()
    client_clock(1000)  # 2600 s left of 3600: reused
    dv.whoami()
    assert dv.credential.get_token(conn.dataverse_scope).token == first.token
    assert token_requests(emulator) == [200]
    client_clock(2400)  # 200 s left: renewed before the request
    dv.whoami()
    assert dv.credential.get_token(conn.dataverse_scope).token != first.token
    assert token_requests(emulator) == [200, 200]
    assert all(r.status != 401 for r in emulator.requests)
    assert dv.http.stats.token_refreshes == 0


def test_401_forces_one_refresh_and_a_resend(emulator, conn) -> None:
    dv = DataverseClient.for_connection(conn, env=secret_env())
    dv.whoami()
    # the emulator's token clock jumps past the token's expiry; the client still believes it
    # good for an hour, as with clock skew or a revoked token
    tokens = emulator.ctx.tokens
    base_clock = tokens.clock
    tokens.clock = lambda: base_clock() + 3700
    emulator.clear_log()
    assert dv.whoami().user_id == DEPLOYER_USER
    assert logged_statuses(emulator, "/WhoAmI") == [401, 200]
    assert dv.http.stats.token_refreshes == 1
    assert token_requests(emulator) == [200]


def test_short_lived_tokens_never_reach_the_service_expired(emulator_factory) -> None:
    emu = emulator_factory(token_lifetime_s=3)
    conn = endpoints_for(emu)
    dv = DataverseClient.for_connection(conn, env=secret_env())
    first = dv.credential.get_token(conn.dataverse_scope)
    dv.whoami()
    time.sleep(2.75)
    dv.whoami()
    assert dv.credential.get_token(conn.dataverse_scope).token != first.token
    assert all(r.status != 401 for r in emu.requests)
    assert dv.http.stats.token_refreshes == 0


def test_parallel_first_requests_share_one_sign_in(emulator, conn) -> None:
    """Operations run in parallel in the provider host: one token request per identity and scope,
    not one per thread (RW-1 counts it)."""
    from concurrent.futures import ThreadPoolExecutor

    dv = DataverseClient.for_connection(conn, env=secret_env())
    with ThreadPoolExecutor(8) as pool:
        users = list(pool.map(lambda _: dv.whoami().user_id, range(8)))
    assert users == [DEPLOYER_USER] * 8
    assert token_requests(emulator) == [200]
