"""Error JSON -> exception class mapping (Dataverse hex codes, Graph codes, HTTP statuses)."""

from __future__ import annotations

import pytest

from infra.clients.errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ServiceError,
    ThrottledError,
    ValidationError,
    error_from_response,
    parse_error_body,
)


def dv(code: str, message: str = "m") -> dict:
    return {"error": {"code": code, "message": message}}


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (404, dv("0x80040217", "role With Id = x Does Not Exist"), NotFoundError),
        (400, dv("0x80040217"), NotFoundError),
        (412, dv("0x80040237", "A record with matching key values already exists."), ConflictError),
        (400, dv("0x80040237"), ConflictError),
        (412, dv("0x80060892"), ConflictError),
        (409, None, ConflictError),
        (403, dv("0x80040220", "Principal user (Id=x) is missing prvCreateRole privilege"), PermissionDeniedError),
        (429, dv("0x80072322"), ThrottledError),
        (401, {"error": {"code": "InvalidAuthenticationToken", "message": "expired"}}, AuthenticationError),
        (400, dv("0x80048d19", "Error identified in Payload"), ValidationError),
        (400, {"error": {"code": "Request_BadRequest", "message": "License assignment failed because usage location"}}, ValidationError),
        (404, {"error": {"code": "Request_ResourceNotFound", "message": "no user"}}, NotFoundError),
        (403, {"error": {"code": "Authorization_RequestDenied", "message": "no"}}, PermissionDeniedError),
        (500, dv("0x80040216"), ServiceError),
    ],
)
def test_mapping(status: int, body: dict | None, cls: type) -> None:
    err = error_from_response(status, body, service="dataverse", method="GET", url="/x")
    assert type(err) is cls
    assert err.status == status


def test_missing_privilege_is_parsed() -> None:
    err = error_from_response(
        400, dv("0x80040220", "Principal user (Id=abc, type=8) is missing prvCreateWebResource privilege (Id=...)")
    )
    assert isinstance(err, PermissionDeniedError)
    assert err.missing_privilege == "prvCreateWebResource"
    assert err.code == "0x80040220"
    assert "prvCreateWebResource" in str(err)


def test_throttled_carries_retry_after() -> None:
    err = error_from_response(429, dv("0x80072326", "Number of concurrent requests exceeded"), retry_after=7.0)
    assert isinstance(err, ThrottledError) and err.retry_after == 7.0


def test_body_shapes() -> None:
    assert parse_error_body(b'{"error": {"code": "0x1", "message": "m"}}') == ("0x1", "m")
    assert parse_error_body('{"error": "invalid_client", "error_description": "AADSTS7000215"}') == ("invalid_client", "AADSTS7000215")
    assert parse_error_body(b"<html>bad gateway</html>") == (None, "<html>bad gateway</html>")
    assert parse_error_body(None) == (None, "")


def test_configuration_error_lists_names() -> None:
    err = ConfigurationError("nothing", looked_at=("AZURE_CLIENT_ID", "ARM_CLIENT_ID"))
    assert "AZURE_CLIENT_ID, ARM_CLIENT_ID" in str(err)
    assert err.looked_at == ("AZURE_CLIENT_ID", "ARM_CLIENT_ID")
