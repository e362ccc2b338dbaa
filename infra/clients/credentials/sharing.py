"""Token sharing and refresh: one azure-identity credential per identity and process.

A :class:`TokenCredential` is a cheap handle: building a second one for the same identity (every
provider operation resolves its credential again) finds the azure-identity credential, and its
token cache, that the first one built.  That is what keeps a deployment at one sign-in per
identity instead of one per resource.  A 401 from a service (the HTTP layer asks with
``force_refresh``) replaces the shared credential, so no cached token can come back.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from azure.core.exceptions import AzureError

from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.errors import AuthenticationError, ConfigurationError
from infra.clients.redact import THIRD_PARTY_LOGGERS, install_log_redaction, logger, register_secret

__all__ = ["AccessToken", "TokenCredential", "clear_token_cache", "digest"]


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and its absolute expiry (epoch seconds).  The repr never shows the token."""

    token: str = field(repr=False)
    expires_on: float

    def __repr__(self) -> str:
        return f"AccessToken(token=***, expires_on={self.expires_on:.0f})"


@dataclass
class _Shared:
    lock: threading.Lock = field(default_factory=threading.Lock)  # one sign-in at a time per identity
    credential: Any = None


_REGISTRY: dict[tuple[str, ...], _Shared] = {}
_REGISTRY_LOCK = threading.Lock()


def _shared(key: tuple[str, ...]) -> _Shared:
    with _REGISTRY_LOCK:
        return _REGISTRY.setdefault(key, _Shared())


def clear_token_cache() -> None:
    """Forget every credential and its tokens (tests, benchmarks; a long-lived process after rotation)."""
    with _REGISTRY_LOCK:
        entries = list(_REGISTRY.values())
        _REGISTRY.clear()
    for entry in entries:
        _close(entry.credential)


def _close(credential: Any) -> None:
    try:
        if credential is not None:
            credential.close()
    except Exception:  # closing a session must never hide the real outcome
        logger.debug("closing a credential failed", exc_info=True)


def digest(*parts: Any) -> str:
    """A short SHA-256 of ``parts``: tells two secrets (or files) apart in a cache key without holding them."""
    h = hashlib.sha256()
    for p in parts:
        h.update(repr(p).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


class TokenCredential:
    """One identity: a handle on the azure-identity credential shared by this process.

    ``build`` makes the azure-identity credential (called once per process and identity, and
    again after a forced refresh); ``material`` is a digest of what tells this identity's secret
    apart (a rotated secret is another identity).  ``get_token(scope)`` returns the cached token
    while azure-identity deems it fresh and a new one otherwise.  Errors raised:
    :class:`AuthenticationError` (sign-in refused or impossible), :class:`ConfigurationError`
    (settings azure-identity refuses, raised on construction).  Refuses to be pickled.
    """

    def __init__(self, connection: EnvironmentEndpoints, kind: str, client_id: str | None, build: Callable[[], Any],
                 material: str, description: str | None = None) -> None:
        self.connection = connection
        self.kind = kind
        self.client_id = client_id
        self._build = build
        self._description = description
        self.cache_key = (connection.authority_host, connection.tenant_id, client_id or "-", kind, material)
        entry = _shared(self.cache_key)
        with entry.lock:
            if entry.credential is None:
                entry.credential = self._new_credential()  # settings errors surface here, before any request

    @property
    def identity(self) -> str:
        """Non-secret description used in logs, errors and pool keys."""
        who = f"app {self.client_id}" if self.client_id else "signed-in user"
        extra = f" ({self._description})" if self._description else ""
        return f"{self.kind.replace('_', ' ')} for {who} in tenant {self.connection.tenant_id}{extra}"

    @property
    def azure_credential(self) -> Any:
        """The azure-identity credential currently behind this identity (shared per process)."""
        return _shared(self.cache_key).credential

    def get_token(self, scope: str, *, force_refresh: bool = False) -> AccessToken:
        """A token for ``scope`` (``<resource>/.default``), valid at least a little longer.

        ``force_refresh=True`` (the HTTP layer's answer to a 401) first replaces the shared
        credential with a new one, so nothing cached can be returned.
        """
        entry = _shared(self.cache_key)
        with entry.lock:
            if entry.credential is None or force_refresh:
                old, entry.credential = entry.credential, self._new_credential()
                _close(old)
            try:
                result = entry.credential.get_token(scope)
            except (AuthenticationError, ConfigurationError):
                raise
            except (AzureError, ValueError, OSError) as exc:
                raise _sign_in_error(exc, self, scope) from None
        register_secret(result.token)
        return AccessToken(result.token, float(result.expires_on))

    def _new_credential(self) -> Any:
        try:
            credential = self._build()
        except (AuthenticationError, ConfigurationError):
            raise
        except (ValueError, TypeError, OSError) as exc:  # azure-identity's answer to bad settings / files
            reason = getattr(exc, "strerror", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
            raise ConfigurationError(f"cannot set up {self.identity}: {reason}") from None
        install_log_redaction(*THIRD_PARTY_LOGGERS)  # loggers created while building get the filter too
        return credential

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.identity!r})"

    def __reduce__(self) -> Any:
        raise TypeError("credentials hold secrets and must not be pickled (resolve them at operation time)")


def _sign_in_error(exc: BaseException, cred: TokenCredential, scope: str) -> AuthenticationError:
    """azure-identity's error as ours: Entra's AADSTS code (or OAuth error) and first line, redacted."""
    text = str(getattr(exc, "message", None) or exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    first = first.removeprefix("Authentication failed: ")
    response = getattr(exc, "response", None)
    oauth_error = None
    try:
        oauth_error = response.json().get("error") if response is not None else None
    except Exception:  # not JSON: the message alone has to do
        pass
    aadsts = next((w.rstrip(":,.'") for w in first.split() if w.startswith("AADSTS")), None)
    code = aadsts or oauth_error or type(exc).__name__
    hint = f"; run `az login --tenant {cred.connection.tenant_id}`" if cred.kind == "azure_cli" else ""
    return AuthenticationError(getattr(response, "status_code", None), code,
                               f"sign-in failed for {cred.identity} (scope {scope}): {first}{hint}",
                               service="azure_cli" if cred.kind == "azure_cli" else "entra")
