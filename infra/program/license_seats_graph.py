"""The licence seat check's view of Graph, on top of the clients' :class:`GraphClient`.

Two kinds of request whatever the number of users: one ``subscribedSkus`` and the users' usage
location and licence assignment states in ``$batch`` requests of 20 (plus one for the licensing
group with ``licenseAssignment: group``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.credentials import TokenCredential
from infra.clients.graph import GraphClient, UserLicences
from infra.program.license_seats import SkuSeats

__all__ = ["GraphSeatSource"]


class GraphSeatSource:
    """Implements :class:`infra.program.license_seats.SeatSource` with Graph v1.0.

    ``client`` replaces the Graph client made from ``connection`` and ``credential`` (tests).
    """

    def __init__(self, connection: EnvironmentEndpoints, credential: TokenCredential | None = None,
                 client: GraphClient | None = None) -> None:
        self._client = client or GraphClient.for_connection(connection, credential)

    def subscribed_skus(self) -> list[SkuSeats]:
        """The tenant's SKUs with their seats (``GET /subscribedSkus``)."""
        return [SkuSeats(s.sku_part_number, s.sku_id, s.enabled, s.consumed) for s in self._client.subscribed_skus()]

    def license_states(self, users: Sequence[str]) -> Mapping[str, UserLicences | None]:
        """UPN -> usage location and licence assignment states; None when the user does not exist."""
        return self._client.licence_states_many(users) if users else {}

    def assigned_sku_ids(self, users: Sequence[str]) -> Mapping[str, set[str] | None]:
        """UPN -> the skuIds the user holds now, however assigned; None when the user does not exist."""
        return {u: (None if s is None else s.held_sku_ids()) for u, s in self.license_states(users).items()}

    def group_sku_ids(self, group_id: str) -> set[str] | None:
        """The skuIds a group assigns to its members; None when there is no such group."""
        group = self._client.get_group(group_id)
        return None if group is None else set(group.assigned_sku_ids)
