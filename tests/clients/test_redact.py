"""Redaction: the one place that keeps secrets out of text."""

from __future__ import annotations

import logging

from infra.clients.errors import AuthenticationError, ServiceError
from infra.clients.redact import RedactingFilter, redact, redact_exception, redact_headers, redact_value, register_secret

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXBhcnQ"


def test_jwt_and_bearer_are_removed() -> None:
    text = f"sent Authorization: Bearer {JWT} and then token {JWT}"
    out = redact(text)
    assert JWT not in out and "eyJ" not in out
    assert out.count("***") >= 2


def test_opaque_bearer_token_is_removed() -> None:
    assert "abc.def-123" not in redact("Authorization: Bearer abc.def-123")


def test_key_value_pairs_in_forms_and_json() -> None:
    form = "client_id=app&client_secret=s3cr3t-value&grant_type=client_credentials&client_assertion=xyz123abc"
    out = redact(form)
    assert "s3cr3t-value" not in out and "xyz123abc" not in out and "client_id=app" in out
    js = '{"password": "hunter22-long", "name": "ok"}'
    out = redact(js)
    assert "hunter22-long" not in out and '"name": "ok"' in out


def test_registered_secret_is_removed_anywhere() -> None:
    register_secret("plain-words-secret-9931")
    assert "plain-words-secret-9931" not in redact("AADSTS7000215: Invalid secret plain-words-secret-9931 provided")


def test_headers_and_nested_values() -> None:
    headers = redact_headers({"Authorization": f"Bearer {JWT}", "Accept": "application/json"})
    assert headers == {"Authorization": "***", "Accept": "application/json"}
    nested = redact_value({"client_secret": "x" * 10, "inner": [{"token": "t" * 12}, f"Bearer {JWT}"], "n": 3})
    assert nested["client_secret"] == "***" and nested["inner"][0]["token"] == "***"
    assert JWT not in str(nested) and nested["n"] == 3


def test_exceptions_and_error_classes_scrub_messages() -> None:
    exc = ValueError(f"boom {JWT}")
    assert JWT not in redact_exception(exc)
    err = ServiceError(401, "x", f"token {JWT} rejected", url=f"https://h/p?access_token={JWT}")
    assert JWT not in str(err) and JWT not in (err.url or "")
    assert JWT not in str(AuthenticationError(401, None, f"Bearer {JWT}"))


def test_logging_filter_renders_and_scrubs_args(caplog) -> None:
    log = logging.getLogger("test.redact.filter")
    log.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="test.redact.filter"):
        log.info("calling with %s", f"Bearer {JWT}")
        try:
            raise RuntimeError(f"failed with {JWT}")
        except RuntimeError:
            log.exception("oops")
    assert JWT not in caplog.text
    assert "Bearer ***" in caplog.text


def test_harmless_text_is_unchanged() -> None:
    text = "GET /api/data/v9.2/roles(6b1c2d3e-0000-4000-8000-00000000d001) -> 404 missing prvReadAccount privilege"
    assert redact(text) == text
