"""The Dataverse transport: OData headers, paging, ``$batch``, absolute URLs -- no table knowledge.

The topic classes (:mod:`.users`, :mod:`.roles`, :mod:`.solutions`) extend :class:`DataverseCore`
and :class:`~infra.clients.dataverse.client.DataverseClient` joins them.  Retries, throttling, 401
refresh and concurrency live in :mod:`infra.clients.http`; error JSON is mapped by
:mod:`infra.clients.errors`.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.credentials import TokenCredential
from infra.clients.errors import ConfigurationError, NotFoundError, error_from_response
from infra.clients.http import DATAVERSE_MAX_CONCURRENCY, DEFAULT_MAX_CONCURRENCY, RetryPolicy, ServiceHttp, Timeouts
from infra.clients.odata import BatchRequest, BatchResponse, build_batch, parse_batch_response
from infra.clients.redact import logger
from infra.clients.service import ServiceClient

__all__ = ["DataverseCore", "ODATA_HEADERS", "DEFAULT_PAGE_SIZE", "BATCH_LIMIT", "raise_for_part"]

#: Sent with every request ("Compose HTTP requests and handle errors", Web API docs).
ODATA_HEADERS = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
#: Rows per page asked for with ``Prefer: odata.maxpagesize`` (Dataverse's maximum is 5000).
DEFAULT_PAGE_SIZE = 500
#: Requests per $batch (Dataverse allows 1000; smaller keeps one failure's blast radius small).
BATCH_LIMIT = 100


def raise_for_part(part: BatchResponse, method: str) -> None:
    """Raise the mapped :class:`~infra.clients.errors.ServiceError` for a failed ``$batch`` part."""
    if part.status >= 400:
        raise error_from_response(part.status, part.body if isinstance(part.body, (dict, str)) else None,
                                  service="dataverse", method=method, url="$batch")


class DataverseCore(ServiceClient):
    """One Dataverse environment's Web API (v9.2) as one identity: JSON requests, pages and ``$batch``."""

    service = "dataverse"
    default_headers = ODATA_HEADERS
    concurrency_limit = DATAVERSE_MAX_CONCURRENCY

    def __init__(
        self,
        connection: EnvironmentEndpoints,
        credential: TokenCredential | None = None,
        *,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        page_size: int = DEFAULT_PAGE_SIZE,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        http: ServiceHttp | None = None,
    ) -> None:
        """``page_size``: rows per page (1-5000, else :class:`ConfigurationError`); the rest as
        :class:`~infra.clients.service.ServiceClient`."""
        if not 1 <= page_size <= 5000:
            raise ConfigurationError(f"page_size must be between 1 and 5000, got {page_size}")
        super().__init__(connection, credential, max_concurrency=max_concurrency, retry=retry,
                         timeouts=timeouts, http=http)
        self.api_url = connection.dataverse_api_url
        self.page_size = page_size
        for key, value in ODATA_HEADERS.items():  # also when a ServiceHttp was passed in
            self.http.default_headers.setdefault(key, value)

    @classmethod
    def base_url(cls, connection: EnvironmentEndpoints) -> str:
        """``<environment URL>/api/data/v9.2``."""
        return connection.dataverse_api_url

    @classmethod
    def scope(cls, connection: EnvironmentEndpoints) -> str:
        """``<environment URL>/.default``."""
        return connection.dataverse_scope

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` (relative to the API root) and return its JSON; errors as mapped by the HTTP layer."""
        return self._json("GET", path, params=params)

    def get_all(self, path: str, params: Mapping[str, Any] | None = None, *,
                page_size: int | None = None) -> list[dict[str, Any]]:
        """All rows of a collection, following ``@odata.nextLink`` until it is absent
        ("Page results", Web API docs); ``page_size`` overrides the client's for this query."""
        headers = {"Prefer": f"odata.maxpagesize={page_size or self.page_size}"}
        rows: list[dict[str, Any]] = []
        pages = 0
        for data in self._pages(path, params, headers=headers):
            pages += 1
            rows.extend(data.get("value", []))
        if pages > 1:
            logger.debug("dataverse GET %s: %d rows in %d pages", path, len(rows), pages)
        return rows

    def batch(self, requests: Sequence[BatchRequest], *, atomic: bool = True, idempotent: bool = False,
              continue_on_error: bool = False) -> list[BatchResponse]:
        """Send requests in ``$batch`` (chunks of :data:`BATCH_LIMIT`); raise the first failure
        unless ``continue_on_error`` ("Execute batch operations using the Web API").

        With ``atomic`` every chunk is one change set: all of it happens or none.
        """
        results: list[BatchResponse] = []
        for start in range(0, len(requests), BATCH_LIMIT):
            chunk = list(requests[start:start + BATCH_LIMIT])
            content_type, body = build_batch(chunk, atomic=atomic)
            headers = {"Content-Type": content_type}
            if continue_on_error:
                headers["Prefer"] = "odata.continue-on-error"
            response = self.http.request("POST", "$batch", content=body, headers=headers, idempotent=idempotent)
            parts = parse_batch_response(response.headers.get("Content-Type", ""), response.content)
            if not continue_on_error:
                for part in parts:
                    raise_for_part(part, "POST")
            results.extend(parts)
        return results

    def get_many(self, paths: Sequence[str]) -> list[BatchResponse]:
        """Several GETs (reads or functions) in ONE ``$batch`` HTTP request, outside any change
        set, with ``odata.continue-on-error`` so a 404 in one part still answers the others.
        ``paths`` are relative to the API root, query string included (already encoded)."""
        reqs = [BatchRequest("GET", self._abs(p)) for p in paths]
        return self.batch(reqs, atomic=False, idempotent=True, continue_on_error=True)

    def _delete(self, path: str) -> bool:
        """DELETE ``path``; ``False`` when it was already gone (404 / Does Not Exist)."""
        try:
            self._json("DELETE", path)
        except NotFoundError:
            return False
        return True

    def _abs(self, path: str) -> str:
        return f"{self.api_url}/{path}"

