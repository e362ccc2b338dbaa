"""The seat preflight's view of Graph, on top of the clients' :class:`GraphClient`.

Two kinds of request whatever the number of users: one ``subscribedSkus`` and ``licenseDetails``
for all users in ``$batch`` requests of 20.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from infra.clients.connection import Connection
from infra.clients.credentials import TokenCredential
from infra.clients.graph import GraphClient
from infra.program.skus import SkuSeats

__all__ = ["GraphSeatSource"]


class GraphSeatSource:
    """Implements :class:`infra.program.skus.SeatSource` with Graph v1.0."""

    def __init__(self, connection: Connection, credential: TokenCredential | None = None,
                 client: GraphClient | None = None) -> None:
        self._client = client or GraphClient.for_connection(connection, credential)

    def subscribed_skus(self) -> list[SkuSeats]:
        return [SkuSeats(s.sku_part_number, s.sku_id, s.enabled, s.consumed) for s in self._client.subscribed_skus()]

    def assigned_sku_ids(self, users: Sequence[str]) -> Mapping[str, set[str] | None]:
        if not users:
            return {}
        details = self._client.license_details_many(users)
        return {u: (None if d is None else {x.sku_id.lower() for x in d}) for u, d in details.items()}
