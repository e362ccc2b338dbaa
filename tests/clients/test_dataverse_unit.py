"""Dataverse client pieces that need no service: streamed StageSolution body, $batch wire format."""

from __future__ import annotations

import base64
import hashlib
import os
import tracemalloc
from pathlib import Path

import httpx
import pytest

from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.dataverse import DataverseClient, stage_body_length, wire_depth
from infra.clients.errors import ConfigurationError
from infra.clients.http import ServiceHttp
from infra.clients.odata import BatchRequest, build_batch, url_guid, parse_batch_response, quote

from .conftest import FakeCredential

CONN = EnvironmentEndpoints("https://org.crm.dynamics.com", "tenant")


class StreamingTransport(httpx.BaseTransport):
    """Like httpx.MockTransport, but it does not read the request body into memory first."""

    def __init__(self, handler) -> None:
        self.handler = handler

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.handler(request)


def client_over(handler) -> DataverseClient:
    cred = FakeCredential()
    http = ServiceHttp(CONN.dataverse_api_url, cred, CONN.dataverse_scope, service="dataverse",
                       transport=StreamingTransport(handler))
    return DataverseClient(CONN, cred, http=http)


def test_stage_solution_streams_with_bounded_memory(tmp_path: Path) -> None:
    package = tmp_path / "pkg.zip"
    size = 20 * 1024 * 1024 + 1  # not a multiple of 3: exercises the padding at the end
    with package.open("wb") as f:
        for _ in range(20):
            f.write(os.urandom(1024 * 1024))
        f.write(b"x")
    expected = hashlib.sha256(package.read_bytes()).hexdigest()
    seen: dict[str, object] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["length"] = int(request.headers["Content-Length"])
        digest, carry, total, head = hashlib.sha256(), b"", 0, b""
        for chunk in request.stream:
            total += len(chunk)
            if len(head) < 22:
                head += chunk[: 22 - len(head)]
            data = carry + chunk
            if not seen.get("started"):
                assert data.startswith(b'{"CustomizationFile":"')
                data = data[len(b'{"CustomizationFile":"'):]
                seen["started"] = True
            data = data.replace(b'"}', b"")
            cut = len(data) - len(data) % 4
            digest.update(base64.b64decode(data[:cut]))
            carry = data[cut:]
        digest.update(base64.b64decode(carry))
        seen["sha"] = digest.hexdigest()
        seen["total"] = total
        return httpx.Response(200, json={"StageSolutionResults": {
            "StageSolutionUploadId": "up-1", "StageSolutionStatus": "Passed",
            "SolutionDetails": {"SolutionUniqueName": "bcbi", "SolutionVersion": "1.0.0.0", "IsManaged": True}}})

    dv = client_over(handler)
    tracemalloc.start()
    try:
        result = dv.stage_solution(package)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.passed and result.upload_id == "up-1" and result.unique_name == "bcbi"
    assert seen["sha"] == expected
    assert seen["length"] == seen["total"] == stage_body_length(size)
    assert peak < 4 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB package"


def test_batch_round_trip_with_change_set() -> None:
    reqs = [BatchRequest("POST", "https://o/api/data/v9.2/systemusers(1)/systemuserroles_association/$ref",
                         {"@odata.id": "https://o/api/data/v9.2/roles(2)"}) for _ in range(3)]
    content_type, body = build_batch(reqs, atomic=True)
    text = body.decode()
    assert content_type.startswith("multipart/mixed; boundary=batch_")
    assert text.count("Content-Type: application/http") == 3 and "boundary=changeset_" in text
    assert "\r\n" in text and "Content-ID: 3" in text
    with pytest.raises(ConfigurationError):
        build_batch([BatchRequest("GET", "roles")], atomic=True)
    response = (
        "--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n"
        "--changesetresponse_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n"
        "HTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\n\r\n\r\n"
        "--changesetresponse_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 2\r\n\r\n"
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n\r\n{\"error\":{\"code\":\"0x80040237\",\"message\":\"dup\"}}\r\n"
        "--changesetresponse_2--\r\n--batchresponse_1\r\nContent-Type: application/http\r\n\r\n"
        "HTTP/1.1 200 OK\r\n\r\n{\"value\":[]}\r\n--batchresponse_1--\r\n"
    )
    parts = parse_batch_response("multipart/mixed; boundary=batchresponse_1", response.encode())
    assert [p.status for p in parts] == [204, 400, 200]
    assert parts[1].body["error"]["code"] == "0x80040237" and parts[1].content_id == "2"
    assert parts[2].body == {"value": []}


def test_ids_and_literals_are_validated() -> None:
    assert url_guid("{6B1C2D3E-0000-4000-8000-00000000D001}") == "6b1c2d3e-0000-4000-8000-00000000d001"
    with pytest.raises(ConfigurationError):
        url_guid("1) or (1 eq 1")
    assert quote("O'Brien") == "'O''Brien'"
    assert wire_depth("global") == "Global" and wire_depth(1) == "Local"
    with pytest.raises(ConfigurationError, match="allowed: Basic"):
        wire_depth("Organization")


def test_privileges_by_name_is_one_request_with_in_function() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"value": [
            {"privilegeid": "11111111-1111-1111-1111-111111111111", "name": "prvReadAccount", "canbebasic": True,
             "canbelocal": True, "canbedeep": True, "canbeglobal": True}]})

    found = client_over(handler).privileges_by_name(["prvReadAccount", "prvWriteAccount", "prvReadAccount"])
    assert len(seen) == 1
    flt = seen[0].url.params["$filter"]
    assert flt == "Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['prvReadAccount','prvWriteAccount'])"
    assert list(found) == ["prvReadAccount"] and found["prvReadAccount"].allowed_depths[-1] == "Global"
    assert seen[0].headers["OData-Version"] == "4.0" and seen[0].headers["Accept"] == "application/json"


def test_stage_solution_from_an_open_stream_is_resent_whole_on_retry() -> None:
    import io

    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(b"".join(request.stream))
        if len(bodies) == 1:
            return httpx.Response(503)
        return httpx.Response(200, json={"StageSolutionResults": {"StageSolutionUploadId": "u",
                                                                  "StageSolutionStatus": "Passed"}})

    from infra.clients.http import RetryPolicy

    cred = FakeCredential()
    http = ServiceHttp(CONN.dataverse_api_url, cred, CONN.dataverse_scope, service="dataverse",
                       transport=StreamingTransport(handler), retry=RetryPolicy(backoff_initial_s=0.01))
    stream = io.BytesIO(b"PK\x03\x04 zip bytes")
    DataverseClient(CONN, cred, http=http).stage_solution(stream)
    expected = b'{"CustomizationFile":"' + base64.b64encode(b"PK\x03\x04 zip bytes") + b'"}'
    assert bodies == [expected, expected]


def test_the_client_satisfies_the_protocol_providers_are_typed_with() -> None:
    """Every member of DataverseApi exists on DataverseClient with the same parameters (names,
    kinds, defaults), so a provider typed against the Protocol runs against the real client."""
    import inspect

    from infra.clients.dataverse import DataverseApi

    members = [name for name, value in vars(DataverseApi).items()
               if not name.startswith("_") and (callable(value) or isinstance(value, property))]
    assert len(members) > 25
    for name in members:
        declared, actual = getattr(DataverseApi, name), getattr(DataverseClient, name, None)
        assert actual is not None, f"DataverseClient has no {name}"
        if isinstance(declared, property):
            assert isinstance(actual, property), name
            continue
        want = [(p.name, p.kind, p.default) for p in inspect.signature(declared).parameters.values()]
        have = [(p.name, p.kind, p.default) for p in inspect.signature(actual).parameters.values()]
        assert have == want, name
    assert "connection" in DataverseApi.__annotations__
    assert isinstance(client_over(lambda request: httpx.Response(204)), DataverseApi)
