"""Entra ID (v2.0 endpoints) for one tenant: discovery, JWKS, client-credentials token endpoint.

Client authentication: client_secret (post or HTTP Basic), a certificate-signed
client_assertion (RS256 + x5t or PS256 + x5t#S256, as msal sends), or a federated
client_assertion from a test OIDC issuer. Errors mirror Entra's JSON and AADSTS codes; the
few codes we could not confirm are marked GUESS.
"""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..context import EmulatorContext
from ..errors import entra_error
from .keys import b64url
from .oidc import OidcError
from .tokens import APP_AUTH_ASSERTION, APP_AUTH_SECRET

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GRAPH_RESOURCE = "https://graph.microsoft.com"
#: The Power Platform admin API's resource (emulator/powerplatform.py).
POWER_PLATFORM_RESOURCE = "https://service.powerapps.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


@dataclass(frozen=True)
class RegisteredCert:
    sha1: str       # base64url SHA-1 thumbprint (x5t)
    sha256: str     # base64url SHA-256 thumbprint (x5t#S256)
    public_key: Any


@lru_cache(maxsize=64)
def load_certificate(path: str) -> RegisteredCert:
    """Read a PEM certificate (a PEM with key + cert is fine) and compute its thumbprints."""
    cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
    return RegisteredCert(sha1=b64url(cert.fingerprint(hashes.SHA1())),  # noqa: S303 - x5t is SHA-1 by spec
                          sha256=b64url(cert.fingerprint(hashes.SHA256())), public_key=cert.public_key())


def app_certificates(seed: dict[str, Any], app: dict[str, Any]) -> list[RegisteredCert]:
    base = Path(seed.get("_base_dir", "."))
    return [load_certificate(str((base / p).resolve())) for p in app.get("certificates", [])]


class EntraRefusal(Exception):
    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.code, self.description = status, error, code, description


def routes(ctx: EmulatorContext) -> list[Route]:
    tenant = ctx.seed["tenant"]
    tid = tenant["id"]
    aliases = {tid.lower(), str(tenant.get("default_domain", "")).lower()}
    apps = {a["client_id"]: a for a in ctx.seed["apps"]}

    def known_tenant(request: Request) -> bool:
        return request.path_params["tenant"].lower() in aliases

    def token_endpoint() -> str:
        return f"{ctx.urls.authority_host}/{tid}/oauth2/v2.0/token"

    async def openid_configuration(request: Request) -> Response:
        if not known_tenant(request):
            return entra_error(400, "invalid_tenant", 90002,
                               f"Tenant '{request.path_params['tenant']}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.")
        base = f"{ctx.urls.authority_host}/{tid}"
        return JSONResponse({
            "token_endpoint": token_endpoint(),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{ctx.urls.graph_url}/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "appid"],
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": ctx.urls.graph_url.split("://", 1)[-1],
        })

    async def keys(request: Request) -> Response:
        if not known_tenant(request):
            return entra_error(400, "invalid_tenant", 90002, f"Tenant '{request.path_params['tenant']}' not found.")
        return JSONResponse({"keys": [ctx.tokens.key.jwk()]})

    async def token(request: Request) -> Response:
        try:
            return await _token(request)
        except EntraRefusal as r:
            return entra_error(r.status, r.error, r.code, r.description,
                               correlation_id=_safe_id(request.headers.get("client-request-id")))

    async def _token(request: Request) -> Response:
        if not known_tenant(request):
            raise EntraRefusal(400, "invalid_request", 90002, f"Tenant '{request.path_params['tenant']}' not found.")
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise EntraRefusal(400, "invalid_request", 900144,
                               "The request body must contain the following parameter: 'grant_type'.")
        raw = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        form = {k: v[0] for k, v in raw.items()}
        basic_id, basic_secret = _basic_auth(request.headers.get("authorization"))
        grant = form.get("grant_type")
        if not grant:
            raise EntraRefusal(400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
        if grant != "client_credentials":
            raise EntraRefusal(400, "unsupported_grant_type", 70003,
                               f"The app requested an unsupported grant type '{grant}'. This emulator supports client_credentials only.")
        client_id = (form.get("client_id") or basic_id or "").lower()
        if not client_id:
            raise EntraRefusal(400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
        app = apps.get(client_id)
        if app is None:
            raise EntraRefusal(400, "unauthorized_client", 700016,
                               f"Application with identifier '{client_id}' was not found in the directory '{tenant.get('display_name', tid)}'. "
                               "This can happen if the application has not been installed by the administrator of the tenant "
                               "or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.")
        audience = _resource_from_scope(form.get("scope"))
        secret = form.get("client_secret") or basic_secret
        assertion = form.get("client_assertion")
        if secret and assertion:
            raise EntraRefusal(400, "invalid_request", 90023, "Only one client authentication method may be used per request.")  # GUESS code
        if secret:
            if not any(hmac.compare_digest(secret.encode(), str(s).encode()) for s in app["secrets"]):
                raise EntraRefusal(401, "invalid_client", 7000215,
                                   "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                                   f"secret value, not the client secret ID, for a secret added to app '{client_id}'.")
            method = APP_AUTH_SECRET
        elif assertion:
            if form.get("client_assertion_type") != JWT_BEARER:
                raise EntraRefusal(400, "invalid_request", 700023,  # GUESS code
                                   f"client_assertion_type must be '{JWT_BEARER}'.")
            _check_assertion(app, assertion)
            method = APP_AUTH_ASSERTION
        else:
            raise EntraRefusal(401, "invalid_client", 7000218,
                               "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
        access, life = ctx.tokens.issue(client_id=client_id, service_principal_id=app["service_principal_id"],
                                        audience=audience, auth_method=method,
                                        roles=app["graph_app_roles"] if audience == GRAPH_RESOURCE else [])
        if ctx.log is not None:
            ctx.log.count("tokens_issued")
        return JSONResponse({"token_type": "Bearer", "expires_in": life, "ext_expires_in": life, "access_token": access},
                            headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _resource_from_scope(scope: str | None) -> str:
        if not scope:
            raise EntraRefusal(400, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
        scopes = scope.split()
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            raise EntraRefusal(400, "invalid_scope", 1002012,
                               f"The provided value for scope {scope} is not valid. Client credential flows must have a scope "
                               "value with /.default suffixed to the resource identifier (application ID URI).")
        resource = scopes[0][: -len("/.default")].rstrip("/")
        known = {GRAPH_RESOURCE: GRAPH_RESOURCE, GRAPH_APP_ID: GRAPH_RESOURCE,
                 POWER_PLATFORM_RESOURCE: POWER_PLATFORM_RESOURCE,
                 ctx.urls.environment_url.rstrip("/").lower(): ctx.urls.environment_url.rstrip("/")}
        audience = known.get(resource.lower()) or known.get(resource)
        if audience is None:
            raise EntraRefusal(400, "invalid_resource", 500011,
                               f"The resource principal named {resource} was not found in the tenant named "
                               f"{tenant.get('display_name', tid)}. This can happen if the application has not been installed "
                               "by the administrator of the tenant or consented to by any user in the tenant.")
        return audience

    def _check_assertion(app: dict[str, Any], assertion: str) -> None:
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise EntraRefusal(401, "invalid_client", 50027, "JWT token is invalid or malformed.") from None
        if str(unverified.get("iss", "")).lower() == app["client_id"]:
            _check_certificate_assertion(app, assertion, header, unverified)
        else:
            _check_federated_assertion(app, assertion)

    def _check_certificate_assertion(app: dict[str, Any], assertion: str, header: dict[str, Any],
                                     unverified: dict[str, Any]) -> None:
        alg = header.get("alg")
        if alg not in ("RS256", "PS256"):
            raise EntraRefusal(401, "invalid_client", 5002738,  # GUESS code
                               f"Invalid JWT token. '{alg}' is not a supported signature algorithm.")
        x5t, x5t256 = header.get("x5t"), header.get("x5t#S256")
        cert = next((c for c in app_certificates(ctx.seed, app)
                     if (x5t256 and _b64_eq(c.sha256, x5t256)) or (x5t and _b64_eq(c.sha1, x5t))), None)
        if cert is None:
            raise EntraRefusal(401, "invalid_client", 700027,
                               "The certificate with identifier used to sign the client assertion is not registered on application. "
                               f"[Reason - The key was not found., Thumbprint of key used by client: '{_hex_thumb(x5t256 or x5t)}'.]")
        try:
            claims = jwt.decode(assertion, cert.public_key, algorithms=[alg],
                                options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False})
        except jwt.PyJWTError:
            raise EntraRefusal(401, "invalid_client", 700027, "Client assertion contains an invalid signature.") from None
        now = ctx.clock()
        if "exp" not in claims or claims["exp"] <= now or claims.get("nbf", 0) > now + 300:
            raise EntraRefusal(401, "invalid_client", 700024, "Client assertion is not within its valid time range.")
        if str(claims.get("sub", "")).lower() != app["client_id"]:
            raise EntraRefusal(401, "invalid_client", 700021,  # GUESS code
                               "Client assertion application identifier doesn't match 'client_id' parameter.")
        auds = claims.get("aud")
        auds = [auds] if isinstance(auds, str) else list(auds or [])
        valid = {token_endpoint().lower(), f"{ctx.urls.authority_host}/{tenant.get('default_domain', '')}/oauth2/v2.0/token".lower(),
                 f"{ctx.urls.authority_host}/{tid}/oauth2/token".lower(), f"{ctx.urls.authority_host}/{tid}/v2.0".lower()}
        if not any(str(a).lower() in valid for a in auds):
            raise EntraRefusal(401, "invalid_client", 50012,  # GUESS code
                               f"Client assertion audience claim does not match Realm issuer. Expected the token endpoint {token_endpoint()}.")

    def _check_federated_assertion(app: dict[str, Any], assertion: str) -> None:
        oidc = ctx.oidc  # type: ignore[attr-defined]
        try:
            claims = oidc.verify(assertion, ctx.clock())
        except OidcError as exc:
            if exc.reason == "expired":
                raise EntraRefusal(401, "invalid_client", 700024, "Client assertion is not within its valid time range.") from None
            if exc.reason == "unknown_issuer":
                raise EntraRefusal(401, "invalid_client", 700211,
                                   "No matching federated identity record found for presented assertion issuer. "
                                   "Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.") from None
            raise EntraRefusal(401, "invalid_client", 50027, f"JWT token is invalid or malformed. {exc.message}") from None
        issuer, subject = claims["iss"], claims["sub"]
        auds = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        fics = app["federated_credentials"]
        if not any(f["issuer"] == issuer for f in fics):
            raise EntraRefusal(401, "invalid_client", 700211,
                               f"No matching federated identity record found for presented assertion issuer '{issuer}'. "
                               "Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.")
        if not any(f["issuer"] == issuer and f["subject"] == subject and set(auds) & set(f["audiences"]) for f in fics):
            raise EntraRefusal(401, "invalid_client", 70021,
                               f"No matching federated identity record found for presented assertion. Assertion Issuer: '{issuer}'. "
                               f"Assertion Subject: '{subject}'. Assertion Audience: '{','.join(map(str, auds))}'.")

    return [
        Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
        Route("/{tenant}/discovery/v2.0/keys", keys, methods=["GET"]),
        Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
    ]


def _basic_auth(header: str | None) -> tuple[str | None, str | None]:
    if not header or not header.lower().startswith("basic "):
        return None, None
    try:
        user, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None, None
    from urllib.parse import unquote_plus
    return unquote_plus(user), unquote_plus(password)


def _safe_id(value: str | None) -> str | None:
    """Echo a client-request-id only if it looks like a GUID (never reflect arbitrary input)."""
    if value and len(value) == 36 and all(c in "0123456789abcdefABCDEF-" for c in value):
        return value
    return None


def _b64_eq(a: str, b: str) -> bool:
    return a.rstrip("=") == str(b).rstrip("=").replace("+", "-").replace("/", "_")


def _hex_thumb(b64: str | None) -> str:
    if not b64:
        return ""
    try:
        return base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)).hex().upper()
    except ValueError:
        return str(b64)

