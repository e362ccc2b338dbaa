"""Built-in test OIDC issuers (stand-ins for GitHub Actions / Azure DevOps token services).

The emulator holds the signing key of every issuer listed under ``oidc_issuers`` in the seed,
so it can both mint workload-identity tokens (``GET /_emulator/oidc/token``, shaped like
GitHub's ACTIONS_ID_TOKEN_REQUEST_URL) and verify them when they come back as a federated
``client_assertion``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

from .keys import SigningKey

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"


class OidcError(Exception):
    """A federated token was refused; ``reason`` is one of unknown_issuer, bad_signature, malformed, expired."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


class OidcIssuers:
    """Mints and verifies tokens of the seed's test issuers, all signed with one emulator key."""

    def __init__(self, seed: dict[str, Any], key: SigningKey) -> None:
        self.key = key
        self.issuers: dict[str, dict[str, Any]] = {i["issuer"]: i for i in seed.get("oidc_issuers", [])}

    def default_issuer(self) -> str:
        return next(iter(self.issuers), GITHUB_ISSUER)

    def subject_for_request_token(self, token: str, service_connection_id: str | None = None) -> tuple[str, str] | None:
        """(issuer, subject) registered for a request token.

        Without ``service_connection_id``: a GitHub-style request token (ACTIONS_ID_TOKEN_REQUEST_TOKEN),
        i.e. one the seed gives no service connection.  With it: an Azure DevOps System.AccessToken
        entry for that service connection (ids compared case-insensitively).
        """
        for issuer, entry in self.issuers.items():
            for rt in entry.get("request_tokens", []):
                if rt.get("token") != token:
                    continue
                bound = str(rt.get("service_connection_id") or "").lower()
                if bound == (service_connection_id or "").lower():
                    return issuer, str(rt["subject"])
        return None

    def issue(self, subject: str, audience: str = EXCHANGE_AUDIENCE, issuer: str | None = None,
              lifetime_s: int = 600, now: float | None = None, extra: dict[str, Any] | None = None) -> str:
        """Mint a workload-identity JWT (RS256, kid = issuer key id)."""
        issuer = issuer or self.default_issuer()
        if issuer not in self.issuers:
            raise ValueError(f"issuer {issuer!r} is not a test OIDC issuer of this seed; known: {sorted(self.issuers)}")
        t = int(time.time() if now is None else now)
        claims: dict[str, Any] = {"jti": str(uuid.uuid4()), "sub": subject, "aud": audience, "iss": issuer,
                                  "iat": t, "nbf": t - 5, "exp": t + int(lifetime_s)}
        if issuer == GITHUB_ISSUER and subject.startswith("repo:"):
            repo = subject.split(":")[1]
            claims.update({"repository": repo, "repository_owner": repo.split("/")[0], "runner_environment": "github-hosted"})
            if ":environment:" in subject:
                claims["environment"] = subject.rsplit(":", 1)[1]
        claims.update(extra or {})
        return jwt.encode(claims, self.key.private_key, algorithm="RS256", headers={"kid": self.key.kid, "typ": "JWT"})

    def verify(self, token: str, now: float) -> dict[str, Any]:
        """Verify signature and lifetime of a federated token; returns its claims."""
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise OidcError("malformed", "The assertion is not a well-formed JWT.") from None
        issuer = unverified.get("iss")
        if issuer not in self.issuers:
            raise OidcError("unknown_issuer", f"Issuer {issuer!r} has no signing keys known to this tenant.")
        try:
            claims = jwt.decode(token, self.key.public_key, algorithms=["RS256"],
                                options={"verify_aud": False, "verify_exp": False, "verify_nbf": False,
                                         "verify_iat": False, "require": ["iss", "sub", "aud", "exp"]})
        except jwt.InvalidSignatureError:
            raise OidcError("bad_signature", f"The assertion's signature does not verify with issuer {issuer!r}'s keys.") from None
        except jwt.PyJWTError as exc:
            raise OidcError("malformed", f"The assertion is not valid ({type(exc).__name__}).") from None
        if claims["exp"] <= now or claims.get("nbf", 0) > now + 300:
            raise OidcError("expired", "The assertion is not within its valid time range.")
        return claims
