"""Access tokens: issuing (for the Entra surface) and validating (for Graph and Dataverse).

Access tokens are RS256 JWTs shaped like Entra's v1 app-only tokens (aud, iss, tid, oid, appid,
idtyp=app, iat, nbf, exp). Resource surfaces call ``validate_bearer`` and turn a ``TokenError``
into their own error JSON.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

import jwt

from .keys import SigningKey

APP_AUTH_SECRET = "1"       # appidacr: client secret
APP_AUTH_ASSERTION = "2"    # appidacr: certificate or federated assertion


class TokenError(Exception):
    """A bearer token was refused. ``code`` is stable and machine-readable; ``message`` is safe to show.

    Codes: missing_token, malformed_token, invalid_signature, token_expired, token_not_yet_valid,
    invalid_audience, invalid_tenant, invalid_issuer.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message

    def www_authenticate(self, authority: str, resource: str) -> str:
        """Value for a WWW-Authenticate header, shaped like Dataverse's."""
        return f'Bearer authorization_uri={authority}/oauth2/authorize, resource_id={resource}'


def normalize_audience(value: str) -> str:
    """Audiences compare without trailing slashes and case-insensitively (as Entra resource URIs do)."""
    return value.rstrip("/").lower()


class TokenService:
    """Issues and validates access tokens for one tenant."""

    def __init__(self, tenant_id: str, key: SigningKey, clock: Callable[[], float],
                 lifetime: Callable[[], int]) -> None:
        self.tenant_id = tenant_id
        self.key = key
        self.clock = clock
        self._lifetime = lifetime
        self.issuer = f"https://sts.windows.net/{tenant_id}/"
        self.issued = 0

    # -- issuing -------------------------------------------------------------------------------
    def issue(self, *, client_id: str, service_principal_id: str, audience: str,
              auth_method: str = APP_AUTH_SECRET, lifetime_s: int | None = None,
              roles: list[str] | None = None) -> tuple[str, int]:
        """Return (jwt, expires_in seconds) for an app-only token."""
        now = int(self.clock())
        life = int(self._lifetime() if lifetime_s is None else lifetime_s)
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + life,
            "aio": uuid.uuid4().hex,
            "appid": client_id,
            "appidacr": auth_method,
            "idp": self.issuer,
            "idtyp": "app",
            "oid": service_principal_id,
            "sub": service_principal_id,
            "tid": self.tenant_id,
            "uti": uuid.uuid4().hex[:22],
            "ver": "1.0",
        }
        if roles:  # "claims are present only if a value exists to fill it" (access token claims reference)
            claims["roles"] = list(roles)
        token = jwt.encode(claims, self.key.private_key, algorithm="RS256",
                           headers={"kid": self.key.kid, "x5t": self.key.kid, "typ": "JWT"})
        self.issued += 1
        return token, life

    # -- validating ----------------------------------------------------------------------------
    def validate_bearer(self, authorization_header: str | None, audience: str) -> dict[str, Any]:
        """Check an ``Authorization`` header and return the token's claims.

        Raises ``TokenError(401, ...)`` for a missing or garbage token, bad signature, expiry,
        a different audience or a different tenant. The token itself never appears in errors.
        """
        if not authorization_header:
            raise TokenError(401, "missing_token", "Bearer token is missing (no Authorization header).")
        scheme, _, token = authorization_header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise TokenError(401, "malformed_token", "Authorization header is not of the form 'Bearer <token>'.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenError(401, "malformed_token", "Bearer token is not a JWT.") from None
        if header.get("alg") != "RS256":
            raise TokenError(401, "malformed_token", f"Token algorithm {header.get('alg')!r} is not accepted (RS256 only).")
        try:
            claims = jwt.decode(token, self.key.public_key, algorithms=["RS256"],
                                options={"verify_exp": False, "verify_nbf": False, "verify_aud": False,
                                         "verify_iat": False, "require": ["exp", "aud", "tid", "iss"]})
        except jwt.InvalidSignatureError:
            raise TokenError(401, "invalid_signature", "Token signature is invalid (not signed by this tenant's key).") from None
        except jwt.PyJWTError as exc:
            raise TokenError(401, "malformed_token", f"Token is not valid: {type(exc).__name__}.") from None
        now = self.clock()
        if claims["exp"] <= now:
            raise TokenError(401, "token_expired", f"Token expired at {int(claims['exp'])} (now {int(now)}).")
        if claims.get("nbf", 0) > now + 5:
            raise TokenError(401, "token_not_yet_valid", "Token is not valid yet (nbf in the future).")
        if claims["iss"] != self.issuer:
            raise TokenError(401, "invalid_issuer", f"Token issuer {claims['iss']!r} is not accepted.")
        if claims["tid"] != self.tenant_id:
            raise TokenError(401, "invalid_tenant", f"Token tenant {claims['tid']} is not this tenant ({self.tenant_id}).")
        if normalize_audience(str(claims["aud"])) != normalize_audience(audience):
            raise TokenError(401, "invalid_audience",
                             f"Token audience {claims['aud']!r} is not accepted here (expected {audience!r}).")
        return claims


def unverified_caller(authorization_header: str | None) -> str | None:
    """Best-effort caller id (oid) from a bearer token without verifying it; for logs and per-caller limits."""
    if not authorization_header or not authorization_header[:7].lower() == "bearer ":
        return None
    try:
        claims = jwt.decode(authorization_header[7:].strip(), options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    oid = claims.get("oid") or claims.get("sub")
    return str(oid) if oid else None
