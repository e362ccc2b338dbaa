"""The single place that scrubs secrets out of text, mappings and exceptions.

Everything that leaves the clients layer as text -- log records, exception messages, reprs --
goes through here.  Two complementary techniques:

* patterns: bearer tokens, JWTs (``eyJ...``), ``key=value`` / ``"key": "value"`` pairs whose
  key names a secret (client_secret, password, assertion, ...), ``Authorization`` headers;
* known values: credentials register the secrets they hold (:func:`register_secret`), and any
  occurrence of such a value is replaced even when no pattern would spot it (e.g. a client
  secret echoed inside a free-text error description).
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any, Mapping

__all__ = [
    "REDACTED",
    "redact",
    "redact_headers",
    "redact_value",
    "redact_exception",
    "register_secret",
    "RedactingFilter",
    "install_log_redaction",
]

REDACTED = "***"

#: Header names whose value is always secret.
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-ms-client-secret"})

#: Key names (in dicts, JSON, form bodies, query strings) whose value is secret.
_SENSITIVE_KEY_WORDS = (
    "client_secret",
    "clientsecret",
    "secret",
    "password",
    "passphrase",
    "client_assertion",
    "assertion",
    "access_token",
    "accesstoken",
    "refresh_token",
    "id_token",
    "token",
    "private_key",
    "authorization",
    "oidctoken",
)
_SENSITIVE_KEY_RE = re.compile(
    r"(?i)^(?:.*[_-])?(?:" + "|".join(re.escape(w) for w in _SENSITIVE_KEY_WORDS) + r")$"
)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # JWTs: header.payload.signature, each base64url; header always starts with eyJ ("{"").
    (re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*\.?[A-Za-z0-9_\-]*"), REDACTED),
    # "Authorization: Bearer xyz", "Bearer xyz", "Basic xyz"
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/=]+"), r"\1 " + REDACTED),
    # JSON-ish "client_secret": "value"
    (
        re.compile(
            r"""(?i)(["']?(?:[a-z0-9_\-]*[_-])?(?:"""
            + "|".join(re.escape(w) for w in _SENSITIVE_KEY_WORDS)
            + r""")["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s&,;}\]]+)"""
        ),
        r"\1" + REDACTED,
    ),
)

_known_lock = threading.Lock()
_known_secrets: set[str] = set()


def register_secret(value: str | bytes | None) -> None:
    """Remember a secret value so that :func:`redact` removes it wherever it appears.

    Very short values are ignored: replacing "ab" everywhere would mangle messages and such a
    value is no meaningful secret anyway.
    """
    if value is None:
        return
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return
    value = value.strip()
    if len(value) >= 6:
        with _known_lock:
            _known_secrets.add(value)


def redact(text: Any) -> str:
    """Return ``str(text)`` with every secret replaced by ``***``."""
    if text is None:
        return ""
    s = text if isinstance(text, str) else str(text)
    if not s:
        return s
    with _known_lock:
        known = sorted(_known_secrets, key=len, reverse=True)
    for secret in known:
        if secret in s:
            s = s.replace(secret, REDACTED)
    for pattern, repl in _PATTERNS:
        s = pattern.sub(repl, s)
    return s


def _is_sensitive_key(key: Any) -> bool:
    return isinstance(key, str) and bool(_SENSITIVE_KEY_RE.match(key.strip()))


def redact_headers(headers: Mapping[str, Any] | Any) -> dict[str, str]:
    """Copy of ``headers`` (any mapping, httpx.Headers included) safe to log."""
    out: dict[str, str] = {}
    for key, value in dict(headers).items():
        if str(key).lower() in SENSITIVE_HEADERS or _is_sensitive_key(str(key)):
            out[str(key)] = REDACTED
        else:
            out[str(key)] = redact(value)
    return out


def redact_value(value: Any) -> Any:
    """Deep copy of dicts / lists / tuples / strings with secret values replaced."""
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if _is_sensitive_key(k) or str(k).lower() in SENSITIVE_HEADERS else redact_value(v))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(redact_value(v) for v in value)
    if isinstance(value, (str, bytes)):
        return redact(value if isinstance(value, str) else value.decode("utf-8", "replace"))
    return value


def redact_exception(exc: BaseException) -> str:
    """``"TypeName: message"`` for an exception, scrubbed."""
    return redact(f"{type(exc).__name__}: {exc}")


class RedactingFilter(logging.Filter):
    """Logging filter that renders a record's message and scrubs it before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: A003 - logging API name
        """Scrub the record in place; always keep it (True)."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not break logging
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, scrubbed, so formatters print the safe text.
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        return True


_installed: set[str] = set()
_install_lock = threading.Lock()


def install_log_redaction(*prefixes: str) -> None:
    """Attach :class:`RedactingFilter` to the named loggers and their existing children (idempotent).

    Filters on a logger only see records logged *to that logger* (not records propagated from
    children), so every module of the clients layer logs to the one logger ``infra.clients``, and
    for azure-identity / azure-core / msal / httpx / httpcore / urllib3 every already-created child logger gets the filter too.
    Call again after importing a library that creates loggers lazily.
    """
    with _install_lock:
        names = set(prefixes)
        for existing in list(logging.root.manager.loggerDict):
            if any(existing.startswith(p + ".") for p in prefixes):
                names.add(existing)
        for name in names:
            if name in _installed:
                continue
            logging.getLogger(name).addFilter(RedactingFilter())
            _installed.add(name)


THIRD_PARTY_LOGGERS = ("azure", "msal", "httpx", "httpcore", "urllib3", "requests")
LOGGER_NAME = "infra.clients"
install_log_redaction(LOGGER_NAME, *THIRD_PARTY_LOGGERS)
logger = logging.getLogger(LOGGER_NAME)
