"""Entra token endpoint: msal (unmodified) with secret, certificate and federated token; refusals."""

from __future__ import annotations

import datetime
import time
import uuid

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from emulator import Emulator, TokenError
from emulator.seed import ids

from .helpers import DEPLOYER_SECRET, GRAPH_SCOPE, msal_app, session, token, token_request

SUBJECT = "repo:contoso/bc-sales:environment:dev"


def _claims(access_token: str) -> dict:
    return jwt.decode(access_token, options={"verify_signature": False})


def _assert_entra_error(resp, status: int, error: str, code: int) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"] == error
    assert body["error_description"].startswith(f"AADSTS{code}:")
    assert body["error_codes"] == [code]
    for key in ("timestamp", "trace_id", "correlation_id"):
        assert body[key]
    return body


def test_discovery_document_points_at_this_emulator(emulator: Emulator) -> None:
    doc = session(emulator).get(f"{emulator.urls.authority}/v2.0/.well-known/openid-configuration", timeout=5).json()
    base = emulator.urls.authority
    assert doc["token_endpoint"] == f"{base}/oauth2/v2.0/token"
    assert doc["issuer"] == f"{base}/v2.0"
    assert doc["authorization_endpoint"] == f"{base}/oauth2/v2.0/authorize"
    assert doc["device_authorization_endpoint"] == f"{base}/oauth2/v2.0/devicecode"
    keys = session(emulator).get(doc["jwks_uri"], timeout=5).json()["keys"]
    assert keys[0]["kty"] == "RSA" and keys[0]["kid"]


def test_unknown_tenant_is_refused_at_discovery(emulator: Emulator) -> None:
    resp = session(emulator).get(f"{emulator.urls.authority_host}/{uuid.uuid4()}/v2.0/.well-known/openid-configuration", timeout=5)
    _assert_entra_error(resp, 400, "invalid_tenant", 90002)


def test_msal_client_secret_token_has_entra_claims(emulator_factory) -> None:
    emu = emulator_factory(token_lifetime_s=1234)
    result = msal_app(emu, DEPLOYER_SECRET).acquire_token_for_client([GRAPH_SCOPE])
    assert result["token_type"] == "Bearer" and result["expires_in"] == 1234
    claims = _claims(result["access_token"])
    deployer = emu.app("deployer")
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["tid"] == emu.urls.tenant_id
    assert claims["appid"] == deployer["client_id"]
    assert claims["oid"] == deployer["service_principal_id"]
    assert claims["exp"] - claims["iat"] == 1234 and claims["nbf"] == claims["iat"]
    assert jwt.get_unverified_header(result["access_token"])["alg"] == "RS256"
    # The token verifies with the published JWKS key.
    jwk = session(emu).get(f"{emu.urls.authority}/discovery/v2.0/keys", timeout=5).json()["keys"][0]
    jwt.decode(result["access_token"], jwt.PyJWK(jwk).key, algorithms=["RS256"], audience="https://graph.microsoft.com")


def test_msal_certificate_with_sha1_thumbprint(emulator: Emulator) -> None:
    pem_path, thumbprint = emulator.app_certificate("deployer")
    result = msal_app(emulator, {"private_key": pem_path.read_text(), "thumbprint": thumbprint}) \
        .acquire_token_for_client([f"{emulator.urls.environment_url}/.default"])
    assert "access_token" in result, result
    claims = _claims(result["access_token"])
    assert claims["aud"] == emulator.urls.environment_url and claims["appidacr"] == "2"


def test_msal_certificate_with_public_certificate_uses_sha256(emulator: Emulator) -> None:
    pem = emulator.app_certificate("deployer")[0].read_text()
    result = msal_app(emulator, {"private_key": pem, "public_certificate": pem}) \
        .acquire_token_for_client([f"{emulator.urls.environment_url}/.default"])
    assert "access_token" in result, result


def test_msal_federated_token_from_helper(emulator: Emulator) -> None:
    assertion = emulator.issue_federated_token(SUBJECT)
    result = msal_app(emulator, {"client_assertion": lambda: assertion}) \
        .acquire_token_for_client([f"{emulator.urls.environment_url}/.default"])
    assert "access_token" in result, result
    assert _claims(result["access_token"])["appid"] == emulator.app("deployer")["client_id"]


@pytest.mark.filterwarnings("ignore:Passing a static string:DeprecationWarning")
def test_msal_federated_token_from_github_style_endpoint(emulator: Emulator) -> None:
    http = session(emulator)
    url = emulator.oidc_request_url + "&audience=api://AzureADTokenExchange"
    resp = http.get(url, headers={"Authorization": f"Bearer {emulator.oidc_request_token(SUBJECT)}"}, timeout=5)
    assert resp.status_code == 200
    federated = resp.json()["value"]
    assert _claims(federated)["iss"] == "https://token.actions.githubusercontent.com"
    result = msal_app(emulator, {"client_assertion": federated}, http=http).acquire_token_for_client([GRAPH_SCOPE])
    assert "access_token" in result, result
    bad = http.get(url, headers={"Authorization": "Bearer not-a-request-token"}, timeout=5)
    assert bad.status_code == 401


@pytest.mark.filterwarnings("ignore:Passing a static string:DeprecationWarning")
def test_msal_federated_token_from_azure_devops_style_endpoint(emulator: Emulator) -> None:
    http = session(emulator)
    access_token, connection = emulator.azure_devops_access_token()
    url = emulator.azure_devops_oidc_request_uri
    bearer = {"Authorization": f"Bearer {access_token}"}
    resp = http.post(url, params={"api-version": "7.1", "serviceConnectionId": connection}, headers=bearer, timeout=5)
    assert resp.status_code == 200
    federated = resp.json()["oidcToken"]
    claims = _claims(federated)
    assert claims["iss"].startswith("https://vstoken.dev.azure.com/") and claims["sub"].startswith("sc://")
    assert claims["aud"] == "api://AzureADTokenExchange"
    result = msal_app(emulator, {"client_assertion": federated}, app="limited",
                      http=http).acquire_token_for_client([GRAPH_SCOPE])
    assert "access_token" in result, result
    # refusals: no api-version, another service connection, a wrong access token; and the
    # System.AccessToken is not a GitHub request token
    assert http.post(url, params={"serviceConnectionId": connection}, headers=bearer, timeout=5).status_code == 400
    assert http.post(url, params={"api-version": "7.1", "serviceConnectionId": str(uuid.uuid4())},
                     headers=bearer, timeout=5).status_code == 400
    assert http.post(url, params={"api-version": "7.1", "serviceConnectionId": connection},
                     headers={"Authorization": "Bearer not-the-access-token"}, timeout=5).status_code == 401
    assert http.post(url, params={"api-version": "7.1", "serviceConnectionId": connection}, timeout=5).status_code == 401
    github = http.get(emulator.oidc_request_url, headers=bearer, timeout=5)
    assert github.status_code == 401


def test_wrong_secret(emulator: Emulator) -> None:
    result = msal_app(emulator, "not-the-secret").acquire_token_for_client([GRAPH_SCOPE])
    assert result["error"] == "invalid_client" and result["error_codes"] == [7000215]
    assert "not-the-secret" not in str(result)
    resp = token_request(emulator, session(emulator), grant_type="client_credentials", scope=GRAPH_SCOPE,
                         client_id=emulator.app("deployer")["client_id"], client_secret="nope")
    _assert_entra_error(resp, 401, "invalid_client", 7000215)


def test_unknown_application(emulator: Emulator) -> None:
    http = session(emulator)
    http.headers["client-request-id"] = request_id = str(uuid.uuid4())
    resp = token_request(emulator, http, grant_type="client_credentials", scope=GRAPH_SCOPE,
                         client_id=str(uuid.uuid4()), client_secret="x")
    body = _assert_entra_error(resp, 400, "unauthorized_client", 700016)
    assert body["correlation_id"] == request_id


@pytest.mark.parametrize(("scope", "status", "error", "code"), [
    ("https://graph.microsoft.com/User.Read.All", 400, "invalid_scope", 1002012),
    ("https://graph.microsoft.com/.default https://127.0.0.1/.default", 400, "invalid_scope", 1002012),
    ("https://unknown.example/.default", 400, "invalid_resource", 500011),
    ("", 400, "invalid_request", 900144),
])
def test_bad_scope(emulator: Emulator, scope: str, status: int, error: str, code: int) -> None:
    resp = token_request(emulator, session(emulator), grant_type="client_credentials", scope=scope,
                         client_id=emulator.app("deployer")["client_id"], client_secret=DEPLOYER_SECRET)
    _assert_entra_error(resp, status, error, code)


def test_no_credential_and_unsupported_grant(emulator: Emulator) -> None:
    http = session(emulator)
    client_id = emulator.app("deployer")["client_id"]
    _assert_entra_error(token_request(emulator, http, grant_type="client_credentials", scope=GRAPH_SCOPE, client_id=client_id),
                        401, "invalid_client", 7000218)
    _assert_entra_error(token_request(emulator, http, grant_type="password", scope=GRAPH_SCOPE, client_id=client_id),
                        400, "unsupported_grant_type", 70003)


def test_unregistered_certificate_is_refused(emulator: Emulator) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "intruder")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    pem = (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
           + cert.public_bytes(serialization.Encoding.PEM)).decode()
    result = msal_app(emulator, {"private_key": pem, "public_certificate": pem}).acquire_token_for_client([GRAPH_SCOPE])
    assert result["error"] == "invalid_client" and result["error_codes"] == [700027]


def test_certificate_assertion_checks_audience_and_expiry(emulator: Emulator) -> None:
    pem_path, thumb = emulator.app_certificate("deployer")
    key = serialization.load_pem_private_key(pem_path.read_bytes(), None)
    client_id = emulator.app("deployer")["client_id"]
    x5t = jwt.utils.base64url_encode(bytes.fromhex(thumb)).decode()
    now = int(time.time())

    def assertion(**over) -> str:
        claims = {"aud": f"{emulator.urls.authority}/oauth2/v2.0/token", "iss": client_id, "sub": client_id,
                  "jti": str(uuid.uuid4()), "nbf": now, "exp": now + 600, **over}
        return jwt.encode(claims, key, algorithm="RS256", headers={"x5t": x5t})

    http = session(emulator)
    form = {"grant_type": "client_credentials", "scope": GRAPH_SCOPE, "client_id": client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    assert token_request(emulator, http, **form, client_assertion=assertion()).status_code == 200
    _assert_entra_error(token_request(emulator, http, **form, client_assertion=assertion(exp=now - 10)),
                        401, "invalid_client", 700024)
    _assert_entra_error(token_request(emulator, http, **form, client_assertion=assertion(aud="https://elsewhere/token")),
                        401, "invalid_client", 50012)
    tampered = assertion()[:-4] + "AAAA"
    _assert_entra_error(token_request(emulator, http, **form, client_assertion=tampered), 401, "invalid_client", 700027)


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"subject": "repo:contoso/bc-sales:environment:prod"}, 70021),
    ({"subject": SUBJECT, "audience": "api://SomethingElse"}, 70021),
    ({"subject": SUBJECT, "issuer": ids.AZURE_DEVOPS_ISSUER}, 700211),
    ({"subject": SUBJECT, "lifetime_s": -60}, 700024),
])
def test_federated_refusals(emulator: Emulator, kwargs: dict, code: int) -> None:
    assertion = emulator.issue_federated_token(**kwargs)
    resp = token_request(emulator, session(emulator), grant_type="client_credentials", scope=GRAPH_SCOPE,
                         client_id=emulator.app("deployer")["client_id"], client_assertion=assertion,
                         client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    _assert_entra_error(resp, 401, "invalid_client", code)


@pytest.mark.filterwarnings("ignore:Passing a static string:DeprecationWarning")
def test_federated_token_from_unknown_issuer_key_is_refused(emulator: Emulator) -> None:
    forged = jwt.encode({"iss": "https://token.actions.githubusercontent.com", "sub": SUBJECT,
                         "aud": "api://AzureADTokenExchange", "exp": int(time.time()) + 600},
                        rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256")
    result = msal_app(emulator, {"client_assertion": forged}).acquire_token_for_client([GRAPH_SCOPE])
    assert result["error"] == "invalid_client" and result["error_codes"] == [50027]


# -- validate_bearer, used by the Graph and Dataverse surfaces ----------------------------------
def test_validate_bearer_accepts_and_refuses(emulator: Emulator) -> None:
    tokens = emulator.ctx.tokens
    env = emulator.urls.environment_url
    good = token(emulator, f"{env}/.default")
    claims = tokens.validate_bearer(f"Bearer {good}", env)
    assert {"aud", "tid", "oid", "appid", "iss", "exp", "iat"} <= set(claims)

    def code(header, audience=env) -> str:
        with pytest.raises(TokenError) as info:
            tokens.validate_bearer(header, audience)
        assert info.value.status == 401 and good not in str(info.value)
        return info.value.code

    assert code(None) == "missing_token"
    assert code("Bearer garbage") == "malformed_token"
    assert code(f"Basic {good}") == "malformed_token"
    assert code(f"Bearer {good}", "https://graph.microsoft.com") == "invalid_audience"
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert code("Bearer " + jwt.encode({**claims}, other_key, algorithm="RS256")) == "invalid_signature"
    foreign = jwt.encode({**claims, "tid": str(uuid.uuid4())}, tokens.key.private_key, algorithm="RS256")
    assert code(f"Bearer {foreign}") == "invalid_tenant"
    emulator.ctx.clock = lambda: time.time() + 4000  # past the 3600 s lifetime
    assert code(f"Bearer {good}") == "token_expired"
