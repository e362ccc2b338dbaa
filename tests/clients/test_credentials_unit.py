"""Credential resolution from settings / environment onto azure-identity credentials, without a service.

Sign-ins against the emulator are in test_emulator_auth.py.
"""

from __future__ import annotations

import datetime as dt
import pickle
import time
from pathlib import Path

import azure.identity as azid
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.credentials import ENV_VARIABLES, CredentialSettings, resolve_credential
from infra.clients.errors import AuthenticationError, ConfigurationError

from .conftest import FakeCredential, az_calls, az_path, write_fake_az

CONN = EnvironmentEndpoints("https://org.crm.dynamics.com", "6b1c2d3e-0000-4000-8000-00000000a001")
APP = "6b1c2d3e-0000-4000-8000-00000000d001"


@pytest.fixture(scope="module")
def cert_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("certs")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bc-sales test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    plain = d / "plain.pem"
    plain.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()) + cert_pem)
    encrypted = d / "encrypted.pem"
    encrypted.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(b"pem-pass-123")) + cert_pem)
    pfx = d / "cert.pfx"
    pfx.write_bytes(pkcs12.serialize_key_and_certificates(b"t", key, cert, None,
                                                          serialization.BestAvailableEncryption(b"pfx-pass-456")))
    only_cert = d / "only-cert.pem"
    only_cert.write_bytes(cert_pem)
    return {"plain": plain, "encrypted": encrypted, "pfx": pfx, "only_cert": only_cert}


def test_certificate_from_pem_encrypted_pem_and_pfx(cert_files) -> None:
    for path, password in ((cert_files["plain"], None), (cert_files["encrypted"], "pem-pass-123"),
                           (cert_files["pfx"], "pfx-pass-456")):
        cred = resolve_credential(CONN, CredentialSettings(client_id=APP, certificate_path=str(path),
                                                           certificate_password=password), env={})
        assert cred.kind == "certificate" and isinstance(cred.azure_credential, azid.CertificateCredential)
        assert str(path) in cred.identity
        text = repr(cred) + cred.identity
        assert "PRIVATE KEY" not in text and (password is None or password not in text)


def test_certificate_errors_name_the_file_not_the_password(cert_files, tmp_path: Path) -> None:
    def resolve(path: Path, password: str | None = None) -> None:
        resolve_credential(CONN, CredentialSettings(client_id=APP, certificate_path=str(path),
                                                    certificate_password=password), env={})

    with pytest.raises(ConfigurationError) as err:
        resolve(cert_files["pfx"], "wrong-password-789")
    assert str(cert_files["pfx"]) in str(err.value) and "wrong-password-789" not in str(err.value)
    with pytest.raises(ConfigurationError) as err:
        resolve(cert_files["encrypted"])  # encrypted key, no password
    assert str(cert_files["encrypted"]) in str(err.value)
    with pytest.raises(ConfigurationError, match="cannot be read"):
        resolve(tmp_path / "missing.pem")
    with pytest.raises(ConfigurationError) as err:
        resolve(cert_files["only_cert"])  # a certificate without its private key
    assert str(cert_files["only_cert"]) in str(err.value)


def test_secret_from_env_and_arm_twins() -> None:
    cred = resolve_credential(CONN, env={"AZURE_CLIENT_ID": APP, "AZURE_CLIENT_SECRET": "sec-ret-value-1"})
    assert cred.kind == "secret" and cred.client_id == APP
    assert isinstance(cred.azure_credential, azid.ClientSecretCredential)
    cred = resolve_credential(CONN, env={"ARM_CLIENT_ID": APP, "ARM_CLIENT_SECRET": "sec-ret-value-2", "ARM_TENANT_ID": "x"})
    assert cred.kind == "secret" and cred.client_id == APP
    assert "sec-ret-value" not in repr(cred) and "sec-ret-value" not in cred.identity
    assert APP in cred.identity


def test_explicit_settings_win_over_env(cert_files) -> None:
    env = {"AZURE_CLIENT_ID": "other-app", "AZURE_CLIENT_SECRET": "env-secret-000"}
    cred = resolve_credential(CONN, CredentialSettings(client_id=APP, certificate_path=str(cert_files["plain"]),
                                                       kind="certificate"), env=env)
    assert cred.kind == "certificate" and cred.client_id == APP
    cred = resolve_credential(CONN, CredentialSettings(client_id=APP, client_secret="explicit-secret-1"), env=env)
    assert cred.kind == "secret" and cred.client_id == APP
    # a different secret is a different identity key (a rotated secret gets new clients and tokens)
    assert cred.cache_key != resolve_credential(CONN, env={**env, "AZURE_CLIENT_ID": APP}).cache_key


def test_certificate_from_env_with_password(cert_files) -> None:
    env = {"ARM_CLIENT_ID": APP, "ARM_CLIENT_CERTIFICATE_PATH": str(cert_files["pfx"]),
           "ARM_CLIENT_CERTIFICATE_PASSWORD": "pfx-pass-456"}
    cred = resolve_credential(CONN, env=env)
    assert cred.kind == "certificate" and isinstance(cred.azure_credential, azid.CertificateCredential)
    assert "pfx-pass-456" not in repr(cred)


def test_federated_kinds_and_their_order(tmp_path: Path, monkeypatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("eyJhbGciOiJSUzI1NiJ9.eyJ4IjoxfQ.sig")
    base = {"AZURE_CLIENT_ID": APP}
    cred = resolve_credential(CONN, env={**base, "AZURE_FEDERATED_TOKEN_FILE": str(token_file)})
    assert cred.kind == "federated_file" and isinstance(cred.azure_credential, azid.ClientAssertionCredential)
    assert resolve_credential(CONN, env={**base, "ARM_OIDC_TOKEN_FILE_PATH": str(token_file)}).kind == "federated_file"
    cred = resolve_credential(CONN, env={**base, "ARM_OIDC_TOKEN": "eyJx.eyJ5.z"})
    assert cred.kind == "oidc_token" and isinstance(cred.azure_credential, azid.ClientAssertionCredential)
    gh = {"ACTIONS_ID_TOKEN_REQUEST_URL": "https://gh.example/token?api-version=2.0",
          "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "gh-request-token"}
    cred = resolve_credential(CONN, env={**base, **gh})
    assert cred.kind == "github" and isinstance(cred.azure_credential, azid.ClientAssertionCredential)
    arm = {"ARM_OIDC_REQUEST_URL": "https://gh.example/token", "ARM_OIDC_REQUEST_TOKEN": "arm-request-token"}
    assert resolve_credential(CONN, env={**base, **arm}).kind == "github"
    ado = {"SYSTEM_OIDCREQUESTURI": "https://dev.azure.com/o/p/_apis/oidc", "SYSTEM_ACCESSTOKEN": "ado-access-token",
           "ARM_OIDC_AZURE_SERVICE_CONNECTION_ID": "sc-1"}
    monkeypatch.setenv("SYSTEM_OIDCREQUESTURI", ado["SYSTEM_OIDCREQUESTURI"])
    cred = resolve_credential(CONN, env={**base, **ado})
    assert cred.kind == "azure_devops" and isinstance(cred.azure_credential, azid.AzurePipelinesCredential)
    assert "sc-1" in cred.identity and "ado-access-token" not in repr(cred)
    # a secret normally wins; ARM_USE_OIDC=true puts federation first, false skips it
    both = {**base, **gh, "AZURE_CLIENT_SECRET": "sec-ret-value-3"}
    assert resolve_credential(CONN, env=both).kind == "secret"
    assert resolve_credential(CONN, env={**both, "ARM_USE_OIDC": "true"}).kind == "github"
    with pytest.raises(ConfigurationError):
        resolve_credential(CONN, env={**base, **gh, "ARM_USE_OIDC": "false", "PATH": ""})


def test_azure_devops_request_url_must_be_the_process_one(monkeypatch) -> None:
    """AzurePipelinesCredential reads SYSTEM_OIDCREQUESTURI itself: a different URL is refused, not ignored."""
    monkeypatch.delenv("SYSTEM_OIDCREQUESTURI", raising=False)
    env = {"AZURE_CLIENT_ID": APP, "ARM_OIDC_REQUEST_URL": "https://dev.azure.com/o/p/_apis/oidc",
           "ARM_OIDC_REQUEST_TOKEN": "ado-access-token-2", "ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID": "sc-2"}
    with pytest.raises(ConfigurationError, match="SYSTEM_OIDCREQUESTURI"):
        resolve_credential(CONN, env=env)
    monkeypatch.setenv("SYSTEM_OIDCREQUESTURI", "https://dev.azure.com/o/p/_apis/oidc/")
    assert resolve_credential(CONN, env=env).kind == "azure_devops"


def test_request_url_must_be_https(monkeypatch) -> None:
    env = {"AZURE_CLIENT_ID": APP, "ACTIONS_ID_TOKEN_REQUEST_URL": "http://gh.example/token",
           "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t-123456"}
    with pytest.raises(ConfigurationError, match="https"):
        resolve_credential(CONN, env=env)
    monkeypatch.setenv("SYSTEM_OIDCREQUESTURI", "http://dev.azure.com/o/p/_apis/oidc")
    with pytest.raises(ConfigurationError, match="https"):
        resolve_credential(CONN, env={"AZURE_CLIENT_ID": APP, "SYSTEM_OIDCREQUESTURI": "http://dev.azure.com/o/p/_apis/oidc",
                                      "SYSTEM_ACCESSTOKEN": "ado-access-token", "ARM_OIDC_AZURE_SERVICE_CONNECTION_ID": "sc-1"})


def test_nothing_usable_is_one_error_listing_variables() -> None:
    with pytest.raises(ConfigurationError) as err:
        resolve_credential(CONN, env={"PATH": ""})
    message = str(err.value)
    for name in ("AZURE_CLIENT_ID", "ARM_CLIENT_ID", "AZURE_CLIENT_SECRET", "ARM_CLIENT_SECRET",
                 "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE", "ARM_OIDC_TOKEN",
                 "ACTIONS_ID_TOKEN_REQUEST_URL", "SYSTEM_OIDCREQUESTURI", "ARM_USE_CLI", "INFRA_ALLOW_DEVICE_CODE"):
        assert name in message
    assert set(err.value.looked_at) >= set(ENV_VARIABLES)


def test_secret_without_client_id_names_the_missing_variable() -> None:
    with pytest.raises(ConfigurationError) as err:
        resolve_credential(CONN, env={"AZURE_CLIENT_SECRET": "sec-ret-value-4"})
    assert "AZURE_CLIENT_ID" in str(err.value) and "sec-ret-value-4" not in str(err.value)


def test_unknown_kind_lists_allowed() -> None:
    with pytest.raises(ConfigurationError, match="allowed values: secret, certificate"):
        CredentialSettings(kind="password")


def test_forced_kind_with_incomplete_settings_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="'github' was requested") as err:
        resolve_credential(CONN, CredentialSettings(kind="github", client_id=APP), env={})
    assert "ACTIONS_ID_TOKEN_REQUEST_URL" in str(err.value)


def test_azure_cli_credential_runs_az_with_resource_and_tenant(tmp_path: Path, monkeypatch) -> None:
    expires = int(time.time()) + 1800
    write_fake_az(tmp_path, {"accessToken": "cli-token-abcdef", "expires_on": expires, "tokenType": "Bearer"})
    path = az_path(monkeypatch, tmp_path)
    cred = resolve_credential(CONN, env={"PATH": path})
    assert cred.kind == "azure_cli" and cred.client_id is None
    token = cred.get_token("https://org.crm.dynamics.com/.default")
    assert token.token == "cli-token-abcdef" and token.expires_on == expires
    (args,) = az_calls(tmp_path)
    assert args[:2] == ["account", "get-access-token"]
    assert args[args.index("--resource") + 1] == "https://org.crm.dynamics.com"
    assert args[args.index("--tenant") + 1] == CONN.tenant_id
    # azure-identity leaves caching to the caller: we run `az` once per scope, not per request
    assert cred.get_token("https://org.crm.dynamics.com/.default").token == "cli-token-abcdef"
    assert len(az_calls(tmp_path)) == 1
    cred.get_token("https://org.crm.dynamics.com/.default", force_refresh=True)
    assert len(az_calls(tmp_path)) == 2
    # ARM_USE_CLI=false: not used even though az is there
    with pytest.raises(ConfigurationError):
        resolve_credential(CONN, env={"PATH": path, "ARM_USE_CLI": "false"})


def test_cli_token_close_to_expiry_is_renewed_and_local_time_expiry_is_read(tmp_path: Path, monkeypatch) -> None:
    # older CLIs give only expiresOn, a naive local time
    local = (dt.datetime.now() + dt.timedelta(minutes=4)).strftime("%Y-%m-%d %H:%M:%S.%f")
    write_fake_az(tmp_path, {"accessToken": "tok-1234567", "expiresOn": local})
    cred = resolve_credential(CONN, env={"PATH": az_path(monkeypatch, tmp_path)})
    token = cred.get_token("https://org.crm.dynamics.com/.default")
    assert abs(token.expires_on - (time.time() + 240)) < 5
    cred.get_token("https://org.crm.dynamics.com/.default")  # 4 minutes left: inside the 5-minute margin
    assert len(az_calls(tmp_path)) == 2


def test_azure_cli_not_signed_in_says_what_to_run(tmp_path: Path, monkeypatch) -> None:
    write_fake_az(tmp_path, exit_code=1, stderr="ERROR: Please run 'az login' to setup account.")
    with pytest.raises(AuthenticationError) as err:
        resolve_credential(CONN, env={"PATH": az_path(monkeypatch, tmp_path)}).get_token("https://org.crm.dynamics.com/.default")
    assert f"az login --tenant {CONN.tenant_id}" in str(err.value)


def test_use_cli_true_without_az_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="ARM_USE_CLI is true"):
        resolve_credential(CONN, env={"PATH": "", "ARM_USE_CLI": "true", "AZURE_CLIENT_ID": APP,
                                      "AZURE_CLIENT_SECRET": "sec-ret-value-8"})


def test_device_code_needs_permission_and_tty(monkeypatch) -> None:
    env = {"AZURE_CLIENT_ID": APP, "PATH": ""}
    with pytest.raises(ConfigurationError):
        resolve_credential(CONN, CredentialSettings(allow_device_code=True), env=env)  # pytest: no TTY
    monkeypatch.setattr("infra.clients.credentials.kinds._has_tty", lambda: True)
    with pytest.raises(ConfigurationError):
        resolve_credential(CONN, env=env)  # TTY but not allowed
    cred = resolve_credential(CONN, CredentialSettings(allow_device_code=True), env=env)
    assert cred.kind == "device_code" and isinstance(cred.azure_credential, azid.DeviceCodeCredential)
    assert resolve_credential(CONN, env={**env, "INFRA_ALLOW_DEVICE_CODE": "true"}).kind == "device_code"


def test_credentials_refuse_pickling() -> None:
    cred = resolve_credential(CONN, env={"AZURE_CLIENT_ID": APP, "AZURE_CLIENT_SECRET": "sec-ret-value-5"})
    with pytest.raises(TypeError):
        pickle.dumps(cred)
    with pytest.raises(TypeError):
        pickle.dumps(CredentialSettings(client_secret="sec-ret-value-6"))
    assert "sec-ret-value-6" not in repr(CredentialSettings(client_secret="sec-ret-value-6"))


def test_connection_is_picklable_and_round_trips() -> None:
    again = pickle.loads(pickle.dumps(CONN))
    assert again == CONN and EnvironmentEndpoints.from_dict(CONN.to_dict()) == CONN


def test_connection_refuses_http_and_unknown_keys() -> None:
    with pytest.raises(ConfigurationError, match="https"):
        EnvironmentEndpoints("http://org.crm.dynamics.com", "t")
    with pytest.raises(ConfigurationError, match="https"):
        EnvironmentEndpoints("https://org.crm.dynamics.com", "t", authority_host="http://login.example")
    with pytest.raises(ConfigurationError, match="unknown keys"):
        EnvironmentEndpoints.from_dict({"environment_url": "https://x", "tenant_id": "t", "secret": "no"})
    assert EnvironmentEndpoints("https://x/", "t", authority_host="usgov").authority == "https://login.microsoftonline.us/t"


def test_handles_share_one_credential_and_force_refresh_starts_afresh() -> None:
    """Handles are cheap and many; the azure-identity credential (and its tokens) is one per identity."""
    env = {"AZURE_CLIENT_ID": APP, "AZURE_CLIENT_SECRET": "sec-ret-value-9"}
    a, b = resolve_credential(CONN, env=env), resolve_credential(CONN, env=env)
    assert a is not b and a.azure_credential is b.azure_credential
    cred = FakeCredential(lifetime_s=3600)
    first = cred.get_token("s/.default")
    assert cred.get_token("s/.default") == first and cred.issued == [first.token]
    shared = cred.azure_credential
    assert cred.get_token("s/.default", force_refresh=True).token != first.token
    assert cred.azure_credential is not shared
    assert "fake-token" not in repr(first)
