"""Graph $batch: a throttled sub-request is re-sent on its own through the shared retry policy."""

from __future__ import annotations

import json

import httpx

from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.graph import GraphClient
from infra.clients.http import RetryPolicy, ServiceHttp

from .conftest import FakeCredential


def test_throttled_sub_request_is_resent_individually() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.url.path.endswith("$batch"):
            ids = [r["id"] for r in json.loads(request.content)["requests"]]
            return httpx.Response(200, json={"responses": [
                {"id": ids[0], "status": 200, "body": {"id": "u1", "userPrincipalName": "a@x"}},
                {"id": ids[1], "status": 429, "headers": {"Retry-After": "0"}, "body": {}}]})
        return httpx.Response(200, json={"id": "u2", "userPrincipalName": "b@x"})

    conn = EnvironmentEndpoints("https://org.example", "t", graph_url="https://graph.example")
    cred = FakeCredential()
    http = ServiceHttp("https://graph.example/v1.0", cred, conn.graph_scope, service="graph",
                       transport=httpx.MockTransport(handler), retry=RetryPolicy(backoff_initial_s=0.01))
    users = GraphClient(conn, cred, http=http).get_users(["a@x", "b@x"])
    assert users["a@x"].id == "u1" and users["b@x"].id == "u2"
    assert seen == ["POST /v1.0/$batch", "GET /v1.0/users/b@x"]
