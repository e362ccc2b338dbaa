"""Microsoft's own Python clients, unmodified, pointed at an emulator.

Only public configuration is used, the way a new user would point them at a sovereign cloud or a
private CA: an authority host, a CA bundle, a base URL and the allowed hosts. Nothing is patched.

- azure-identity credentials: ``authority=<authority host>``, ``connection_verify=<CA bundle>``,
  ``disable_instance_discovery=True`` (instance discovery only knows Microsoft's hosts).
- msgraph-sdk: ``GraphServiceClient(request_adapter=GraphRequestAdapter(auth, client))`` where
  ``client`` is Microsoft's ``GraphClientFactory`` client (its default middleware) over an
  ``httpx.AsyncClient`` that trusts the CA, with ``base_url = <graph_url>/v1.0``; the auth provider
  gets the Graph scope and the Graph host as its only allowed host.
- PowerPlatform-Dataverse-Client: ``DataverseClient(<environment URL>, credential)``; it talks through
  ``requests``, which reads the CA bundle from ``REQUESTS_CA_BUNDLE`` (set by the fixture below).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, Awaitable, Iterator, TypeVar
from urllib.parse import urlsplit

import httpx
import pytest
from azure.identity import CertificateCredential, ClientAssertionCredential, ClientSecretCredential
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph_core import GraphClientFactory
from PowerPlatform.Dataverse.client import DataverseClient

from emulator import Emulator

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
FEDERATED_SUBJECT = "repo:contoso/bc-sales:environment:dev"
T = TypeVar("T")


def identity_options(emu: Emulator) -> dict[str, Any]:
    """azure-identity keyword arguments for a non-Microsoft authority host with a private CA."""
    return {"authority": emu.urls.authority_host, "connection_verify": emu.urls.ca_bundle,
            "disable_instance_discovery": True}


def secret_credential(emu: Emulator, app: str = "deployer") -> ClientSecretCredential:
    a = emu.app(app)
    return ClientSecretCredential(emu.urls.tenant_id, a["client_id"], a["secrets"][0], **identity_options(emu))


def certificate_credential(emu: Emulator, app: str = "deployer") -> CertificateCredential:
    path, _ = emu.app_certificate(app)
    return CertificateCredential(emu.urls.tenant_id, emu.app(app)["client_id"], certificate_path=str(path),
                                 **identity_options(emu))


def assertion_credential(emu: Emulator, app: str = "deployer") -> ClientAssertionCredential:
    """Workload identity federation: the assertion is the test OIDC issuer's token for the dev subject."""
    return ClientAssertionCredential(emu.urls.tenant_id, emu.app(app)["client_id"],
                                     func=lambda: emu.issue_federated_token(FEDERATED_SUBJECT),
                                     **identity_options(emu))


def graph_client(emu: Emulator, credential: Any) -> GraphServiceClient:
    """msgraph-sdk's GraphServiceClient against the emulator's Graph origin."""
    verify = ssl.create_default_context(cafile=emu.urls.ca_bundle)
    http = GraphClientFactory.create_with_default_middleware(client=httpx.AsyncClient(verify=verify))
    http.base_url = f"{emu.urls.graph_url}/v1.0"
    auth = AzureIdentityAuthenticationProvider(credential, scopes=[GRAPH_SCOPE],
                                               allowed_hosts=[urlsplit(emu.urls.graph_url).hostname or ""])
    return GraphServiceClient(request_adapter=GraphRequestAdapter(auth, client=http))


def run(awaitable: Awaitable[T]) -> T:
    """Run one msgraph-sdk call (the SDK is async-only)."""
    async def main() -> T:
        return await awaitable
    return asyncio.run(main())


@pytest.fixture
def trust_emulator(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """``requests`` (and so the Dataverse client) trusts the emulator's CA for this test only."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.urls.ca_bundle)
    return emulator


@pytest.fixture
def dataverse(trust_emulator: Emulator) -> Iterator[DataverseClient]:
    """PowerPlatform-Dataverse-Client on the emulator's environment URL, as the deployer app."""
    with DataverseClient(trust_emulator.urls.environment_url, secret_credential(trust_emulator)) as client:
        yield client
