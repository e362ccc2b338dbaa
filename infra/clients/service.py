"""What the Dataverse, Graph and Power Platform admin clients share: one service as one identity.

Each client is a thin layer over :class:`~infra.clients.http.ServiceHttp` (retries, throttling,
401 refresh) that turns JSON into typed results.  The parts that do not depend on the service live
here once: building the shared ``ServiceHttp``, the per-process cache (:meth:`ServiceClient.for_connection`),
the refusal to be pickled (providers are pickled into Pulumi state, a client holds a credential),
reading a JSON body, and following ``nextLink`` pages.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterator, Mapping, TypeVar

from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.credentials import CredentialSettings, TokenCredential, resolve_credential
from infra.clients.errors import ServiceError
from infra.clients.http import DEFAULT_MAX_CONCURRENCY, RetryPolicy, ServiceHttp, Timeouts, get_service_http
from infra.clients.shared import shared_client

__all__ = ["ServiceClient"]

S = TypeVar("S", bound="ServiceClient")


class ServiceClient:
    """Base of the service clients: ``connection``, ``credential`` and ``http`` for one service.

    Subclasses set :attr:`service` (the name in logs and errors) and :attr:`default_headers`, and
    implement :meth:`base_url` and :meth:`scope`.  Thread-safe; get one with :meth:`for_connection`.
    """

    #: The service's name in logs, errors and the HTTP layer's pools ("dataverse", "graph", ...).
    service: ClassVar[str] = ""
    #: Headers sent with every request (``Accept`` and the like).
    default_headers: ClassVar[Mapping[str, str]] = {"Accept": "application/json"}
    #: Upper bound the service puts on concurrent requests per identity, if it documents one.
    concurrency_limit: ClassVar[int | None] = None

    def __init__(self, connection: EnvironmentEndpoints, credential: TokenCredential | None = None, *,
                 max_concurrency: int = DEFAULT_MAX_CONCURRENCY, retry: RetryPolicy | None = None,
                 timeouts: Timeouts | None = None, http: ServiceHttp | None = None) -> None:
        """Build the client; ``credential`` defaults to :func:`resolve_credential` (settings errors
        raise :class:`~infra.clients.errors.ConfigurationError` here, before any request).  ``http``
        replaces the shared ``ServiceHttp`` (tests pass one over a fake transport)."""
        self.connection = connection
        self.credential = credential or resolve_credential(connection)
        self.http = http or get_service_http(
            self.base_url(connection), self.credential, self.scope(connection), service=self.service,
            ca_bundle=connection.ca_bundle, max_concurrency=max_concurrency,
            retry=retry, timeouts=timeouts, default_headers=dict(self.default_headers),
            **({"concurrency_limit": self.concurrency_limit} if self.concurrency_limit else {}),
        )

    @classmethod
    def base_url(cls, connection: EnvironmentEndpoints) -> str:
        """The https URL request paths are relative to."""
        raise NotImplementedError

    @classmethod
    def scope(cls, connection: EnvironmentEndpoints) -> str:
        """The token scope (``<resource>/.default``) for this service."""
        raise NotImplementedError

    @classmethod
    def for_connection(cls: type[S], connection: EnvironmentEndpoints | Mapping[str, Any],
                       credential: TokenCredential | None = None, *,
                       settings: CredentialSettings | None = None, env: Mapping[str, str] | None = None,
                       **kwargs: Any) -> S:
        """The per-process shared client for (connection, identity, options).

        Credentials are resolved now, from ``settings`` (which win) and ``env`` (default
        ``os.environ``), so a rotated secret gets a new client.  Raises
        :class:`~infra.clients.errors.ConfigurationError` for a bad connection or no usable credential.
        """
        return shared_client(cls, connection, credential, settings, env, kwargs)

    @property
    def identity(self) -> str:
        """Who calls: the credential's non-secret description (kind, client id, tenant)."""
        return self.credential.identity

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.http.base_url.rstrip('/')!r}, {self.credential.identity!r})"

    def __reduce__(self) -> Any:
        raise TypeError(f"{type(self).__name__} must not be pickled; create it at operation time with for_connection()")

    # --- JSON over ServiceHttp ----------------------------------------------------------------

    def _json(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None,
              headers: Mapping[str, str] | None = None, idempotent: bool | None = None) -> Any:
        """Send one request and return its parsed JSON body (None for 204 or an empty body).

        Errors are mapped by the HTTP layer; a 2xx body that is not JSON raises
        :class:`~infra.clients.errors.ServiceError` (code ``invalid_json``).
        """
        response = self.http.request(method, path, params=params, json=body, headers=headers, idempotent=idempotent)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ServiceError(response.status_code, "invalid_json", f"{method} {path}: response is not JSON",
                               service=self.service) from None

    def _pages(self, path: str, params: Mapping[str, Any] | None = None, *,
               headers: Mapping[str, str] | None = None,
               next_keys: tuple[str, ...] = ("@odata.nextLink",)) -> Iterator[Mapping[str, Any]]:
        """Every page of a collection: the first GET, then the next link (the first of
        ``next_keys`` present) until a page has none.  Next links are absolute URLs the HTTP layer
        only follows on the service's own origin."""
        data = self._json("GET", path, params=params, headers=headers) or {}
        while True:
            yield data
            next_link = next((data[k] for k in next_keys if data.get(k)), None)
            if not next_link:
                return
            data = self._json("GET", next_link, headers=headers) or {}
