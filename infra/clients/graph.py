"""Microsoft Graph client: licences (subscribedSkus, licenseDetails) and users, with ``$batch``.

Graph's ``$batch`` is JSON with at most 20 requests; larger lists are chunked.  A sub-request
that comes back throttled (429) is re-sent on its own through :class:`ServiceHttp`, so there is
still exactly one retry loop in the clients layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import quote as urlquote

from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.errors import NotFoundError, ServiceError, error_from_response
from infra.clients.redact import logger
from infra.clients.service import ServiceClient

__all__ = ["GraphClient", "SubscribedSku", "GraphUser", "LicenseDetail", "GraphBatchResponse", "GRAPH_BATCH_LIMIT",
           "LicenceAssignment", "UserLicences", "GraphGroup"]

GRAPH_BATCH_LIMIT = 20
_USER_SELECT = "id,userPrincipalName,displayName,mail,usageLocation,accountEnabled"


@dataclass(frozen=True)
class SubscribedSku:
    """A licence the tenant subscribes to (Graph ``subscribedSku``): seats bought and used."""

    sku_id: str
    sku_part_number: str
    enabled: int
    consumed: int
    capability_status: str | None = None
    service_plan_ids: tuple[str, ...] = ()

    @property
    def free(self) -> int:
        """Seats not yet assigned: ``prepaidUnits.enabled - consumedUnits``."""
        return self.enabled - self.consumed


@dataclass(frozen=True)
class GraphUser:
    """An Entra user (Graph ``user``), the properties we select."""

    id: str
    user_principal_name: str
    display_name: str | None = None
    mail: str | None = None
    usage_location: str | None = None
    account_enabled: bool | None = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "GraphUser":
        """From a user object selected with ``id,userPrincipalName,displayName,mail,usageLocation,accountEnabled``."""
        return cls(str(d.get("id", "")).lower(), str(d.get("userPrincipalName", "")), d.get("displayName"),
                   d.get("mail"), d.get("usageLocation"), d.get("accountEnabled"))


@dataclass(frozen=True)
class LicenseDetail:
    """One licence a user holds (Graph ``licenseDetails``) and its service plans."""

    id: str
    sku_id: str
    sku_part_number: str
    service_plan_ids: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "LicenseDetail":
        """From a ``licenseDetails`` object."""
        return cls(str(d.get("id", "")), str(d.get("skuId", "")).lower(), str(d.get("skuPartNumber", "")),
                   tuple(str(p.get("servicePlanId", "")).lower() for p in d.get("servicePlans") or ()))


@dataclass(frozen=True)
class LicenceAssignment:
    """One entry of a user's ``licenseAssignmentStates`` (Graph ``licenseAssignmentState``)."""

    sku_id: str
    assigned_by_group: str | None  # None = assigned directly
    state: str                     # Active, ActiveWithError, Disabled, Error
    error: str | None              # CountViolation, MutuallyExclusiveViolation, ..., None

    @property
    def active(self) -> bool:
        """Whether the licence is in effect (Active, or ActiveWithError)."""
        return self.state.lower() in ("active", "activewitherror")


@dataclass(frozen=True)
class UserLicences:
    """A user's usage location and how it holds each licence (direct and/or through groups)."""

    id: str
    user_principal_name: str
    usage_location: str | None
    assignments: tuple[LicenceAssignment, ...] = ()

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "UserLicences":
        """From a user selected with ``id,userPrincipalName,usageLocation,licenseAssignmentStates``."""
        states = tuple(
            LicenceAssignment(str(a.get("skuId", "")).lower(), (str(a["assignedByGroup"]).lower()
                                                                if a.get("assignedByGroup") else None),
                              str(a.get("state") or "Active"),
                              None if a.get("error") in (None, "", "None") else str(a.get("error")))
            for a in d.get("licenseAssignmentStates") or ())
        return cls(str(d.get("id", "")).lower(), str(d.get("userPrincipalName", "")), d.get("usageLocation"), states)

    def held_sku_ids(self) -> set[str]:
        """SKUs the user holds now, however assigned."""
        return {a.sku_id for a in self.assignments if a.active}

    def direct_sku_ids(self) -> set[str]:
        """SKUs assigned to the user directly (not through a group), whatever their state."""
        return {a.sku_id for a in self.assignments if a.assigned_by_group is None}

    def groups_of(self, sku_id: str) -> list[str]:
        """Groups the user inherits ``sku_id`` from (active or in error)."""
        return sorted({a.assigned_by_group for a in self.assignments
                       if a.assigned_by_group and a.sku_id == sku_id.lower()})


@dataclass(frozen=True)
class GraphGroup:
    """A group and the licences it assigns to its members (group-based licensing)."""

    id: str
    display_name: str | None
    security_enabled: bool | None
    assigned_sku_ids: tuple[str, ...]


@dataclass(frozen=True)
class GraphBatchResponse:
    """One answer of a JSON ``$batch`` ("Combine multiple requests in one HTTP call", Graph docs)."""

    id: str
    status: int
    headers: Mapping[str, str]
    body: Any




class GraphClient(ServiceClient):
    """Graph v1.0 as one identity.  Thread-safe; get it with :meth:`for_connection`."""

    service = "graph"

    @classmethod
    def base_url(cls, connection: EnvironmentEndpoints) -> str:
        """``<graph URL>/v1.0``."""
        return f"{connection.graph_url}/v1.0"

    @classmethod
    def scope(cls, connection: EnvironmentEndpoints) -> str:
        """``<graph resource>/.default``."""
        return connection.graph_scope

    # --- low level --------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` (relative to ``/v1.0``) and return its JSON (None when empty)."""
        return self._json("GET", path, params=params)

    def get_all(self, path: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """All rows of a collection, following ``@odata.nextLink`` ("Paging Microsoft Graph data")."""
        return [row for page in self._pages(path, params) for row in page.get("value", [])]

    def batch(self, requests: Sequence[Mapping[str, Any]]) -> list[GraphBatchResponse]:
        """Run requests (``{"method", "url", ["body"], ["headers"]}``) through ``$batch``, 20 at a time.

        Results come back in request order.  Throttled sub-requests are re-sent individually
        (with the normal retry policy); other failures are returned as they are, for the
        caller to interpret per item.
        """
        out: list[GraphBatchResponse] = []
        for start in range(0, len(requests), GRAPH_BATCH_LIMIT):
            chunk = list(requests[start:start + GRAPH_BATCH_LIMIT])
            payload = {"requests": [
                {"id": str(i), "method": r.get("method", "GET").upper(), "url": r["url"],
                 **({"body": r["body"], "headers": {"Content-Type": "application/json", **r.get("headers", {})}}
                    if r.get("body") is not None else ({"headers": r["headers"]} if r.get("headers") else {}))}
                for i, r in enumerate(chunk)
            ]}
            only_reads = all(r.get("method", "GET").upper() == "GET" for r in chunk)
            response = self.http.request("POST", "$batch", json=payload, idempotent=only_reads)
            by_id = {str(r.get("id")): r for r in (response.json() or {}).get("responses", [])}
            for i, r in enumerate(chunk):
                item = by_id.get(str(i))
                if item is None:
                    raise ServiceError(response.status_code, "batch_incomplete",
                                       f"$batch answer has no response for request {i}", service="graph")
                status = int(item.get("status", 0))
                if status == 429:
                    logger.info("graph $batch: sub-request %s throttled; re-sending it on its own", r["url"])
                    single = self.http.request(r.get("method", "GET").upper(), r["url"].lstrip("/"),
                                               json=r.get("body"), ok_statuses=range(400, 600),
                                               idempotent=r.get("method", "GET").upper() == "GET")
                    body = single.json() if single.content else None
                    out.append(GraphBatchResponse(str(i), single.status_code, dict(single.headers), body))
                    continue
                out.append(GraphBatchResponse(str(i), status, item.get("headers") or {}, item.get("body")))
        return out

    # --- licences ---------------------------------------------------------------------------

    def subscribed_skus(self) -> list[SubscribedSku]:
        """The tenant's licences with seat counts (``GET subscribedSkus``)."""
        rows = self.get_all("subscribedSkus")
        return [
            SubscribedSku(
                sku_id=str(r.get("skuId", "")).lower(),
                sku_part_number=str(r.get("skuPartNumber", "")),
                enabled=int((r.get("prepaidUnits") or {}).get("enabled") or 0),
                consumed=int(r.get("consumedUnits") or 0),
                capability_status=r.get("capabilityStatus"),
                service_plan_ids=tuple(str(p.get("servicePlanId", "")).lower() for p in r.get("servicePlans") or ()),
            )
            for r in rows
        ]

    def sku_ids(self) -> dict[str, str]:
        """SKU part number -> skuId for the tenant."""
        return {s.sku_part_number: s.sku_id for s in self.subscribed_skus()}

    def free_seats(self) -> dict[str, int]:
        """SKU part number -> seats still free."""
        return {s.sku_part_number: s.free for s in self.subscribed_skus()}

    def license_details(self, user: str) -> list[LicenseDetail]:
        """The licences one user (object id or UPN) holds."""
        return [LicenseDetail.from_json(r) for r in self.get_all(f"users/{_user_key(user)}/licenseDetails")]

    def license_details_many(self, users: Iterable[str]) -> dict[str, list[LicenseDetail] | None]:
        """licenseDetails for many users in ``$batch`` requests; ``None`` for users that do not exist."""
        keys = list(dict.fromkeys(users))
        results = self.batch([{"method": "GET", "url": f"/users/{_user_key(u)}/licenseDetails"} for u in keys])
        out: dict[str, list[LicenseDetail] | None] = {}
        for user, res in zip(keys, results):
            out[user] = _batch_value(res, lambda b: [LicenseDetail.from_json(x) for x in b.get("value", [])])
        return out

    # --- users ------------------------------------------------------------------------------

    def get_user(self, user: str) -> GraphUser | None:
        """A user by object id or UPN; ``None`` if there is no such user."""
        try:
            return GraphUser.from_json(self.get(f"users/{_user_key(user)}", {"$select": _USER_SELECT}))
        except NotFoundError:
            return None

    def update_user(self, user: str, fields: Mapping[str, Any]) -> None:
        """PATCH a user (e.g. ``{"usageLocation": "GB"}``); setting a value twice is harmless."""
        self.http.request("PATCH", f"users/{_user_key(user)}", json=dict(fields), idempotent=True)

    def licence_states_many(self, users: Iterable[str]) -> dict[str, UserLicences | None]:
        """Usage location and licence assignment states of many users (ids or UPNs) in ``$batch``
        requests of 20; ``None`` for users that do not exist."""
        keys = list(dict.fromkeys(users))
        select = "id,userPrincipalName,usageLocation,assignedLicenses,licenseAssignmentStates"
        results = self.batch([{"method": "GET", "url": f"/users/{_user_key(u)}?$select={select}"} for u in keys])
        return {u: _batch_value(r, UserLicences.from_json) for u, r in zip(keys, results)}

    def get_group(self, group_id: str) -> GraphGroup | None:
        """A group with the licences it assigns (``assignedLicenses`` needs ``$select``), or None."""
        try:
            d = self.get(f"groups/{_user_key(group_id)}",
                         {"$select": "id,displayName,securityEnabled,assignedLicenses"}) or {}
        except NotFoundError:
            return None
        return GraphGroup(str(d.get("id", "")).lower(), d.get("displayName"), d.get("securityEnabled"),
                          tuple(str(a.get("skuId", "")).lower() for a in d.get("assignedLicenses") or ()))

    def get_users(self, users: Iterable[str]) -> dict[str, GraphUser | None]:
        """Many users (ids or UPNs) in ``$batch`` requests of 20."""
        keys = list(dict.fromkeys(users))
        results = self.batch([{"method": "GET", "url": f"/users/{_user_key(u)}?$select={_USER_SELECT}"} for u in keys])
        return {u: _batch_value(r, GraphUser.from_json) for u, r in zip(keys, results)}


def _user_key(user: str) -> str:
    user = str(user).strip()
    if not user:
        raise ValueError("user id / UPN is empty")
    return urlquote(user, safe="@.-_")


def _batch_value(res: GraphBatchResponse, convert: Any) -> Any:
    if res.status == 404:
        return None
    if res.status >= 400:
        raise error_from_response(res.status, res.body if isinstance(res.body, (dict, str)) else None,
                                  service="graph", method="POST", url="$batch")
    return convert(res.body or {})
