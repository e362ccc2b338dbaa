"""Credential resolution from settings / environment, certificate loading, token cache policy."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import pickle
import stat
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from infra.clients.connection import Connection
from infra.clients.credentials import (
    ENV_VARIABLES,
    AzureCliCredential,
    CertificateCredential,
    ClientAssertionCredential,
    ClientSecretCredential,
    CredentialSettings,
    load_certificate,
    parse_cli_token,
    refresh_margin,
    resolve_credential,
)
from infra.clients.errors import ConfigurationError

from .conftest import FakeCredential

CONN = Connection("https://org.crm.dynamics.com", "6b1c2d3e-0000-4000-8000-00000000a001")
APP = "6b1c2d3e-0000-4000-8000-00000000d001"


@pytest.fixture(scope="module")
def cert_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    d = tmp_path_factory.mktemp("certs")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bc-sales test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    der = cert.public_bytes(serialization.Encoding.DER)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    plain = d / "plain.pem"
    plain.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()) + cert_pem)
    encrypted = d / "encrypted.pem"
    encrypted.write_bytes(cert_pem + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.BestAvailableEncryption(b"pem-pass-123")))
    pfx = d / "cert.pfx"
    pfx.write_bytes(pkcs12.serialize_key_and_certificates(b"t", key, cert, None,
                                                          serialization.BestAvailableEncryption(b"pfx-pass-456")))
    return {"plain": plain, "encrypted": encrypted, "pfx": pfx,
            "sha1": hashlib.sha1(der).hexdigest().upper(), "sha256": hashlib.sha256(der).hexdigest().upper()}


def test_thumbprints_from_pem_encrypted_pem_and_pfx(cert_files) -> None:
    for path, password in ((cert_files["plain"], None), (cert_files["encrypted"], "pem-pass-123"),
                           (cert_files["pfx"], "pfx-pass-456")):
        material = load_certificate(path, password)
        assert material.sha1_thumbprint == cert_files["sha1"]
        assert material.sha256_thumbprint == cert_files["sha256"]
        assert "PRIVATE KEY" in material.private_key_pem
        assert "PRIVATE KEY" not in repr(material)


def test_certificate_errors_name_the_file_not_the_password(cert_files, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as err:
        load_certificate(cert_files["pfx"], "wrong-password-789")
    assert str(cert_files["pfx"]) in str(err.value) and "wrong-password-789" not in str(err.value)
    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_certificate(tmp_path / "missing.pem")
    only_cert = tmp_path / "only-cert.pem"
    only_cert.write_text(Path(cert_files["plain"]).read_text().split("-----END PRIVATE KEY-----")[1])
    with pytest.raises(ConfigurationError, match="no PRIVATE KEY"):
        load_certificate(only_cert)


def test_secret_from_env_and_arm_twins() -> None:
    cred = resolve_credential(CONN, env={"AZURE_CLIENT_ID": APP, "AZURE_CLIENT_SECRET": "sec-ret-value-1"})
    assert isinstance(cred, ClientSecretCredential) and cred.client_id == APP
    cred = resolve_credential(CONN, env={"ARM_CLIENT_ID": APP, "ARM_CLIENT_SECRET": "sec-ret-value-2", "ARM_TENANT_ID": "x"})
    assert isinstance(cred, ClientSecretCredential)
    assert "sec-ret-value" not in repr(cred) and "sec-ret-value" not in cred.identity
    assert APP in cred.identity


def test_explicit_settings_win_over_env(cert_files) -> None:
    env = {"AZURE_CLIENT_ID": "other-app", "AZURE_CLIENT_SECRET": "env-secret-000"}
    cred = resolve_credential(CONN, CredentialSettings(client_id=APP, certificate_path=str(cert_files["plain"]),
                                                       kind="certificate"), env=env)
    assert isinstance(cred, CertificateCredential) and cred.client_id == APP
    assert cert_files["sha1"] in cred.identity
    cred = resolve_credential(CONN, CredentialSettings(client_id=APP, client_secret="explicit-secret-1"), env=env)
    assert isinstance(cred, ClientSecretCredential) and cred.client_id == APP


def test_certificate_from_env_with_password(cert_files) -> None:
    env = {"ARM_CLIENT_ID": APP, "ARM_CLIENT_CERTIFICATE_PATH": str(cert_files["pfx"]),
           "ARM_CLIENT_CERTIFICATE_PASSWORD": "pfx-pass-456"}
    cred = resolve_credential(CONN, env=env)
    assert isinstance(cred, CertificateCredential)
    assert "pfx-pass-456" not in repr(cred)


def test_federated_kinds_and_their_order(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("eyJhbGciOiJSUzI1NiJ9.eyJ4IjoxfQ.sig")
    base = {"AZURE_CLIENT_ID": APP}
    cred = resolve_credential(CONN, env={**base, "AZURE_FEDERATED_TOKEN_FILE": str(token_file)})
    assert isinstance(cred, ClientAssertionCredential) and cred.kind == "federated_file"
    cred = resolve_credential(CONN, env={**base, "ARM_OIDC_TOKEN_FILE_PATH": str(token_file)})
    assert cred.kind == "federated_file"
    cred = resolve_credential(CONN, env={**base, "ARM_OIDC_TOKEN": "eyJx.eyJ5.z"})
    assert cred.kind == "oidc_token"
    gh = {"ACTIONS_ID_TOKEN_REQUEST_URL": "https://gh.example/token?api-version=2.0",
          "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "gh-request-token"}
    assert resolve_credential(CONN, env={**base, **gh}).kind == "github"
    arm = {"ARM_OIDC_REQUEST_URL": "https://gh.example/token", "ARM_OIDC_REQUEST_TOKEN": "arm-request-token"}
    assert resolve_credential(CONN, env={**base, **arm}).kind == "github"
    ado = {"SYSTEM_OIDCREQUESTURI": "https://dev.azure.com/o/p/_apis/oidc", "SYSTEM_ACCESSTOKEN": "ado-access-token",
           "ARM_OIDC_AZURE_SERVICE_CONNECTION_ID": "sc-1"}
    assert resolve_credential(CONN, env={**base, **ado}).kind == "azure_devops"
    # a secret normally wins; ARM_USE_OIDC=true puts federation first, false skips it
    both = {**base, **gh, "AZURE_CLIENT_SECRET": "sec-ret-value-3"}
    assert resolve_credential(CONN, env=both).kind == "secret"
    assert resolve_credential(CONN, env={**both, "ARM_USE_OIDC": "true"}).kind == "github"
    with pytest.raises(ConfigurationError):
        resolve_credential(CONN, env={**base, **gh, "ARM_USE_OIDC": "false", "PATH": ""})


def test_request_url_must_be_https() -> None:
    env = {"AZURE_CLIENT_ID": APP, "ACTIONS_ID_TOKEN_REQUEST_URL": "http://gh.example/token",
           "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t-123456"}
    with pytest.raises(ConfigurationError, match="https"):
        resolve_credential(CONN, env=env)


def test_nothing_usable_is_one_error_listing_variables() -> None:
    with pytest.raises(ConfigurationError) as err:
        resolve_credential(CONN, env={"PATH": ""})
    message = str(err.value)
    for name in ("AZURE_CLIENT_ID", "ARM_CLIENT_ID", "AZURE_CLIENT_SECRET", "ARM_CLIENT_SECRET",
                 "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE", "ARM_OIDC_TOKEN",
                 "ACTIONS_ID_TOKEN_REQUEST_URL", "SYSTEM_OIDCREQUESTURI", "ARM_USE_CLI"):
        assert name in message
    assert set(err.value.looked_at) >= set(ENV_VARIABLES)


def test_secret_without_client_id_names_the_missing_variable() -> None:
    with pytest.raises(ConfigurationError) as err:
        resolve_credential(CONN, env={"AZURE_CLIENT_SECRET": "sec-ret-value-4"})
    assert "AZURE_CLIENT_ID" in str(err.value) and "sec-ret-value-4" not in str(err.value)


def test_unknown_kind_lists_allowed() -> None:
    with pytest.raises(ConfigurationError, match="allowed values: secret, certificate"):
        CredentialSettings(kind="password")


def _fake_az(tmp_path: Path, payload: dict) -> Path:
    az = tmp_path / "az"
    az.write_text("#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/args\"\ncat <<'EOF'\n" + json.dumps(payload) + "\nEOF\n")
    az.chmod(az.stat().st_mode | stat.S_IEXEC)
    return az


def test_azure_cli_credential_runs_az_with_resource_and_tenant(tmp_path: Path) -> None:
    expires = int(time.time()) + 1800
    _fake_az(tmp_path, {"accessToken": "cli-token-abcdef", "expires_on": expires, "tokenType": "Bearer"})
    cred = resolve_credential(CONN, env={"PATH": str(tmp_path)})
    assert isinstance(cred, AzureCliCredential)
    token = cred.get_token("https://org.crm.dynamics.com/.default")
    assert token.token == "cli-token-abcdef" and token.expires_on == expires
    args = (tmp_path / "args").read_text().split()
    assert args[:2] == ["account", "get-access-token"]
    assert args[args.index("--resource") + 1] == "https://org.crm.dynamics.com"
    assert args[args.index("--tenant") + 1] == CONN.tenant_id
    # ARM_USE_CLI=false: not used even though az is there
    with pytest.raises(ConfigurationError):
        resolve_credential(CONN, env={"PATH": str(tmp_path), "ARM_USE_CLI": "false"})


def test_cli_token_local_time_expiry() -> None:
    local = (dt.datetime.now() + dt.timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M:%S.%f")
    token = parse_cli_token(json.dumps({"accessToken": "tok-1234567", "expiresOn": local}))
    assert abs(token.expires_on - (time.time() + 1800)) < 5


def test_device_code_needs_permission_and_tty(monkeypatch) -> None:
    env = {"AZURE_CLIENT_ID": APP, "PATH": ""}
    with pytest.raises(ConfigurationError):
        resolve_credential(CONN, CredentialSettings(allow_device_code=True), env=env)  # pytest: no TTY
    monkeypatch.setattr("infra.clients.credentials._has_tty", lambda: True)
    with pytest.raises(ConfigurationError):
        resolve_credential(CONN, env=env)  # TTY but not allowed
    assert resolve_credential(CONN, CredentialSettings(allow_device_code=True), env=env).kind == "device_code"


def test_credentials_refuse_pickling() -> None:
    cred = resolve_credential(CONN, env={"AZURE_CLIENT_ID": APP, "AZURE_CLIENT_SECRET": "sec-ret-value-5"})
    with pytest.raises(TypeError):
        pickle.dumps(cred)
    with pytest.raises(TypeError):
        pickle.dumps(CredentialSettings(client_secret="sec-ret-value-6"))
    assert "sec-ret-value-6" not in repr(CredentialSettings(client_secret="sec-ret-value-6"))


def test_connection_is_picklable_and_round_trips() -> None:
    again = pickle.loads(pickle.dumps(CONN))
    assert again == CONN and Connection.from_dict(CONN.to_dict()) == CONN


def test_connection_refuses_http_and_unknown_keys() -> None:
    with pytest.raises(ConfigurationError, match="https"):
        Connection("http://org.crm.dynamics.com", "t")
    with pytest.raises(ConfigurationError, match="https"):
        Connection("https://org.crm.dynamics.com", "t", authority_host="http://login.example")
    with pytest.raises(ConfigurationError, match="unknown keys"):
        Connection.from_dict({"environment_url": "https://x", "tenant_id": "t", "secret": "no"})
    assert Connection("https://x/", "t", authority_host="usgov").authority == "https://login.microsoftonline.us/t"


def test_refresh_margin_policy() -> None:
    assert refresh_margin(3600) == 300
    assert refresh_margin(60) == 6


def test_token_cache_reuses_and_refreshes() -> None:
    cred = FakeCredential(lifetime_s=3600)
    a = cred.get_token("s/.default")
    assert cred.get_token("s/.default") is a
    assert cred.get_token("s/.default", force_refresh=True).token != a.token
    short = FakeCredential(lifetime_s=0.5)
    first = short.get_token("s/.default")
    time.sleep(0.47)  # inside the last 10 % of the lifetime -> renewed
    assert short.get_token("s/.default").token != first.token
    assert "fake-token" not in repr(first)
