"""Exception hierarchy for everything in :mod:`infra.clients`.

Callers (the providers, the deployer check) branch on the *class* of an error -- "not found" means
"create it", "conflict" means "someone else has it", an ambiguous outcome means "go and look
before trying again" -- so the mapping from a service's error JSON to a class lives here, in
one place.  Every message is passed through :mod:`infra.clients.redact` so that a token or a
secret echoed back by a service never reaches a log or a Pulumi diagnostic.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

from infra.clients.redact import redact

__all__ = [
    "ClientError",
    "ConfigurationError",
    "ServiceError",
    "NotFoundError",
    "ConflictError",
    "ThrottledError",
    "PermissionDeniedError",
    "ValidationError",
    "AuthenticationError",
    "AmbiguousOutcomeError",
    "AdministrationModeError",
    "ADMINISTRATION_MODE_HINT",
    "error_from_response",
    "parse_error_body",
]

#: Dataverse error codes (hex strings in ``error.code``) with a meaning of their own.  The HTTP
#: status is a weaker signal: Dataverse answers many different failures with 400.
DATAVERSE_NOT_FOUND_CODES = frozenset({"0x80040217"})  # "Does Not Exist"
DATAVERSE_CONFLICT_CODES = frozenset({"0x80040237", "0x80048408"})  # duplicate record / duplicate key
DATAVERSE_PERMISSION_CODES = frozenset({"0x80040220", "0x8004140c"})  # missing privilege / no access
DATAVERSE_THROTTLE_CODES = frozenset({"0x80072322", "0x80072321", "0x80072326"})

_MISSING_PRIVILEGE = re.compile(r"missing\s+(prv[A-Za-z0-9_]+)\s+privilege", re.IGNORECASE)


class ClientError(Exception):
    """Root of every error raised by the clients layer."""

    def __init__(self, message: str) -> None:
        self.message = redact(message)
        super().__init__(self.message)


class ConfigurationError(ClientError):
    """Bad settings or no usable credentials: nothing was sent to any service.

    ``looked_at`` lists the setting / environment variable names that were considered, so the
    message can tell the user exactly what to set (never their values).
    """

    def __init__(self, message: str, *, looked_at: tuple[str, ...] = ()) -> None:
        self.looked_at = tuple(looked_at)
        if looked_at:
            message = f"{message} (looked at: {', '.join(looked_at)})"
        super().__init__(message)


class ServiceError(ClientError):
    """A service answered with an error.  ``code`` is the service's own code (Dataverse: hex)."""

    def __init__(
        self,
        status: int | None,
        code: str | None,
        message: str,
        *,
        service: str | None = None,
        method: str | None = None,
        url: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.service = service
        self.method = method
        self.url = redact(url) if url else url
        self.request_id = request_id
        super().__init__(message)
        self.service_message = self.message

    def __str__(self) -> str:
        where = f"{self.method} {self.url}: " if self.method and self.url else ""
        status = f"HTTP {self.status}" if self.status is not None else "error"
        code = f" {self.code}" if self.code else ""
        return f"{where}{status}{code}: {self.message}"


class NotFoundError(ServiceError):
    """The record / resource does not exist (404, Dataverse 0x80040217)."""


class ConflictError(ServiceError):
    """Duplicate record or failed precondition (409, 412, Dataverse 0x80040237)."""


class ThrottledError(ServiceError):
    """Still throttled (429) after the retry budget was spent.  ``retry_after`` in seconds."""

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class PermissionDeniedError(ServiceError):
    """The caller lacks a privilege (403, Dataverse 0x80040220).

    ``missing_privilege`` is the ``prv...`` name when the service's message names one, so a
    deployer check can tell the user precisely which privilege to grant.
    """

    def __init__(self, *args: Any, missing_privilege: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if missing_privilege is None:
            found = _MISSING_PRIVILEGE.search(self.message)
            missing_privilege = found.group(1) if found else None
        self.missing_privilege = missing_privilege


#: What to do when Dataverse answers "... to access the org when it is in Admin Only mode."
ADMINISTRATION_MODE_HINT = (
    "the environment is in administration mode: only users with System Administrator or System Customizer "
    "can sign in (Business Central's integration user and application user cannot). Turn it off in the "
    "Power Platform admin center (Environments > the environment > Edit > Administration mode: Disabled) "
    "or with `pac admin set-runtime-state --environment <url> --runtime-state Enabled`, then run again"
)


class AdministrationModeError(ServiceError):
    """Dataverse refused a caller because the environment is in administration mode (403)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.message = f"{self.message} -- {ADMINISTRATION_MODE_HINT}"


class ValidationError(ServiceError):
    """The service rejected the request as malformed or invalid (400)."""


class AuthenticationError(ServiceError):
    """Sign-in failed or the service refused the token (401 after one refresh)."""


class AmbiguousOutcomeError(ClientError):
    """A non-idempotent call may or may not have taken effect; it was NOT retried.

    The caller must reconcile (look for the running operation, re-read the record) before it
    decides to try again.  ``reason`` says what happened (timeout, reset, HTTP 5xx).
    """

    def __init__(
        self,
        method: str,
        url: str,
        reason: str,
        *,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        self.method = method
        self.url = redact(url)
        self.reason = redact(reason)
        self.status = status
        self.code = code
        super().__init__(
            f"{method} {self.url}: outcome unknown ({self.reason}); not retried because the call "
            "is not idempotent -- check the service state before trying again"
        )


def parse_error_body(body: bytes | str | Mapping[str, Any] | None) -> tuple[str | None, str]:
    """Return ``(code, message)`` from a Dataverse / Graph / OAuth error body (any shape)."""
    data: Any = body
    if isinstance(body, (bytes, str)):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            return None, text.strip()[:500]
    if not isinstance(data, Mapping):
        return None, ""
    err = data.get("error")
    if isinstance(err, Mapping):  # OData (Dataverse) and Graph
        code = err.get("code")
        message = err.get("message") or ""
        if isinstance(message, Mapping):  # very old OData shape {"message": {"value": ...}}
            message = message.get("value", "")
        return (str(code) if code is not None else None), str(message)
    if isinstance(err, str):  # OAuth token endpoint
        return err, str(data.get("error_description") or "")
    return None, str(data.get("message") or "")


def error_from_response(
    status: int,
    body: bytes | str | Mapping[str, Any] | None,
    *,
    service: str | None = None,
    method: str | None = None,
    url: str | None = None,
    retry_after: float | None = None,
    request_id: str | None = None,
) -> ServiceError:
    """Map an error response to the most specific :class:`ServiceError` subclass.

    The service code wins over the HTTP status because Dataverse reports e.g. a duplicate key
    as 400 (not 409) and a missing privilege as 403 *or* 400 depending on the operation.
    """
    code, message = parse_error_body(body)
    if not message:
        message = f"HTTP {status} with no error message"
    kwargs: dict[str, Any] = dict(service=service, method=method, url=url, request_id=request_id)
    lowered = (code or "").lower()
    cls: type[ServiceError]
    if lowered in DATAVERSE_THROTTLE_CODES or status == 429:
        return ThrottledError(status, code, message, retry_after=retry_after, **kwargs)
    if "admin only mode" in message.lower():  # the documented text of the administration-mode refusal
        return AdministrationModeError(status, code, message, **kwargs)
    if lowered in DATAVERSE_NOT_FOUND_CODES:
        cls = NotFoundError
    elif lowered in DATAVERSE_CONFLICT_CODES:
        cls = ConflictError
    elif lowered in DATAVERSE_PERMISSION_CODES or _MISSING_PRIVILEGE.search(message):
        cls = PermissionDeniedError
    elif status == 404 or lowered in {"request_resourcenotfound", "resourcenotfound"}:
        cls = NotFoundError
    elif status in (409, 412):
        cls = ConflictError
    elif status == 403 or lowered in {"authorization_requestdenied", "accessdenied"}:
        cls = PermissionDeniedError
    elif status == 401:
        cls = AuthenticationError
    elif status == 400:
        cls = ValidationError
    else:
        cls = ServiceError
    return cls(status, code, message, **kwargs)
