"""Failing scenarios with every log level on: no secret, request token, assertion or access token
may appear in captured logs, exception texts or reprs."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from emulator import FaultRule
from emulator.seed import ids
from infra.clients import credentials as credmod
from infra.clients.credentials import CredentialSettings, resolve_credential
from infra.clients.dataverse import DataverseClient
from infra.clients.errors import AmbiguousOutcomeError, AuthenticationError, ClientError, ThrottledError
from infra.clients.graph import GraphClient
from infra.clients.http import RetryPolicy

from .conftest import DEPLOYER_ID, DEPLOYER_SECRET, GITHUB_SUBJECT, LIMITED_SECRET, endpoints_for, secret_env

FAST = RetryPolicy(max_attempts=2, backoff_initial_s=0.01, backoff_max_s=0.02)
JWT = re.compile(r"eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}")


def test_no_secret_or_token_in_logs_or_errors(emulator_factory, caplog, tmp_path: Path, monkeypatch) -> None:
    emu = emulator_factory(token_lifetime_s=2)
    conn = endpoints_for(emu)
    texts: list[str] = []
    issued: list[str] = []
    get_token = credmod.TokenCredential.get_token

    def recording(self, scope: str, **kwargs):  # every token handed out must stay out of the texts
        token = get_token(self, scope, **kwargs)
        issued.append(token.token)
        return token

    monkeypatch.setattr(credmod.TokenCredential, "get_token", recording)
    request_token = emu.oidc_request_token(GITHUB_SUBJECT)
    assertion = emu.issue_federated_token(GITHUB_SUBJECT)
    caplog.set_level(logging.DEBUG)

    def record(exc: BaseException) -> None:
        texts.extend([str(exc), repr(exc), " ".join(map(str, exc.args))])

    # 1. wrong secret, wrong request token, wrong assertion file
    for env in (secret_env(DEPLOYER_ID, "totally-wrong-secret-77"),
                {"AZURE_CLIENT_ID": DEPLOYER_ID, "ACTIONS_ID_TOKEN_REQUEST_URL": emu.oidc_request_url,
                 "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "bad-request-token-88"}):
        with pytest.raises(AuthenticationError) as err:
            DataverseClient.for_connection(conn, env=env).whoami()
        record(err.value)
    bad_file = tmp_path / "token"
    bad_file.write_text(emu.issue_federated_token("repo:evil/repo:ref:refs/heads/main"))
    with pytest.raises(AuthenticationError) as err:
        resolve_credential(conn, env={"AZURE_CLIENT_ID": DEPLOYER_ID, "AZURE_FEDERATED_TOKEN_FILE": str(bad_file)}).get_token(conn.dataverse_scope)
    record(err.value)

    # 2. good identities, then throttling until the budget is spent, and an ambiguous create
    gh_env = {"AZURE_CLIENT_ID": DEPLOYER_ID, "ACTIONS_ID_TOKEN_REQUEST_URL": emu.oidc_request_url,
              "ACTIONS_ID_TOKEN_REQUEST_TOKEN": request_token}
    dv = DataverseClient.for_connection(conn, env=gh_env, retry=FAST)
    dv.whoami()
    texts += [repr(dv), repr(dv.credential), repr(dv.http), dv.credential.identity,
              repr(CredentialSettings(client_secret=DEPLOYER_SECRET, oidc_request_token=request_token))]
    emu.faults.add(FaultRule(kind="429", path_regex="WhoAmI", retry_after=0))
    with pytest.raises(ThrottledError) as err:
        dv.whoami()
    record(err.value)
    emu.faults.clear()
    emu.faults.add(FaultRule(kind="reset", phase="after", method="POST", path_regex="systemusers"))
    with pytest.raises(AmbiguousOutcomeError) as amb:
        dv.create_application_user(ids.BUSINESS_CENTRAL_APP_ID, dv.whoami().business_unit_id)
    record(amb.value)
    emu.faults.clear()

    # 3. a secret identity whose token expires mid-run (refresh path) and a Graph failure
    sec = DataverseClient.for_connection(conn, env=secret_env(), retry=FAST)
    sec.whoami()
    import time
    time.sleep(2.1)
    sec.whoami()
    g = GraphClient.for_connection(conn, env=secret_env(), retry=FAST)
    emu.faults.add(FaultRule(kind="503", path_regex="subscribedSkus"))
    with pytest.raises(ClientError) as gerr:
        g.subscribed_skus()
    record(gerr.value)
    for name in ("ClientSecretCredential",):
        texts.append(repr(sec.credential))

    assert len(set(issued)) > 2, "the scenario should have produced access tokens (and renewed them)"
    secrets = [DEPLOYER_SECRET, LIMITED_SECRET, "totally-wrong-secret-77", "bad-request-token-88",
               request_token, assertion, bad_file.read_text(), *issued]
    haystack = caplog.text + "\n".join(texts)
    assert len(caplog.records) > 10  # the scenario really logged
    for secret in secrets:
        assert secret not in haystack, f"leaked: {secret[:6]}..."
    assert not JWT.search(haystack)
    assert "Authorization: Bearer e" not in haystack


def test_services_echoing_secrets_are_scrubbed(caplog) -> None:
    """Adversarial: the service echoes our bearer token and Entra echoes the secret back."""
    import httpx

    from azure.core.exceptions import ClientAuthenticationError

    from infra.clients.http import ServiceHttp

    from .conftest import FakeCredential

    def handler(request: httpx.Request) -> httpx.Response:
        auth = request.headers["Authorization"]
        status = 503 if request.method == "GET" else 400
        return httpx.Response(status, json={"error": {"code": "0x1", "message": f"bad header {auth} / {auth[7:]}"}})

    caplog.set_level(logging.DEBUG)
    cred = FakeCredential()
    http = ServiceHttp("https://svc.example", cred, "s/.default", service="t",
                       transport=httpx.MockTransport(handler), retry=FAST)
    errors = []
    for method in ("GET", "POST"):
        with pytest.raises(ClientError) as err:
            http.request(method, "x", json={}, idempotent=True)
        errors.append(err.value)
    credmod.register_secret("entra-echoed-secret-123")

    class EchoingEntra:  # what azure-identity raises when Entra's description echoes what we sent
        def get_token(self, scope: str) -> None:
            raise ClientAuthenticationError(
                message="Authentication failed: AADSTS7000215: client_secret=entra-echoed-secret-123 "
                        "assertion eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl")

        def close(self) -> None:
            pass

    echoing = credmod.TokenCredential(cred.connection, "secret", "app", EchoingEntra, "echo")
    with pytest.raises(AuthenticationError) as auth_err:
        echoing.get_token("s/.default")
    errors.append(auth_err.value)
    # azure-identity logs failures itself (WARNING, with Entra's description): its loggers are filtered too
    for name in ("azure.identity._internal.get_token_mixin", "azure.identity._internal.decorators",
                 "azure.core.pipeline.policies.http_logging_policy"):
        logging.getLogger(name).warning("get_token failed: client_secret=%s", "entra-echoed-secret-123")
    text = caplog.text + "\n".join(f"{e}\n{e!r}" for e in errors)
    assert cred.issued and all(tok not in text for tok in cred.issued)
    assert "entra-echoed-secret-123" not in text and not JWT.search(text)
    assert "AADSTS7000215" in text  # the useful part of the message survives
