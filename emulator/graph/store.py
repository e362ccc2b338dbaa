"""In-memory Entra directory: users, groups, subscribed SKUs and licence assignments.

Groups and group-based licensing live in groups.py; this store keeps the users' direct
assignments and counts a seat once per user and SKU however the user holds it.

The Dataverse store reads ``licensed_users()`` to decide which users have become systemusers
(``now >= licensed_at + provisioning_delay_s``); seed licences count as assigned at time 0.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

from . import groups as graph_groups
from .errors import GraphError  # also imported from here (graph/app.py, tests)


@dataclass
class GraphUser:
    object_id: str
    upn: str
    display_name: str
    account_enabled: bool = True
    usage_location: str | None = None
    licensed_at: float | None = None     # when the first licence was assigned; None = unlicensed
    sku_ids: list[str] = field(default_factory=list)   # direct assignments
    disabled_plans: dict[str, list[str]] = field(default_factory=dict)
    #: group id -> {skuId: "Active" | error code} for licences inherited from groups (graph/groups.py)
    group_states: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def mail(self) -> str:
        return self.upn


@dataclass
class Sku:
    sku_id: str
    sku_part_number: str
    enabled: int
    service_plans: list[dict[str, Any]]


class GraphStore:
    """Users and licences of one tenant. Thread-safe: the test thread may read while the server writes."""

    def __init__(self, seed: dict[str, Any], clock: Callable[[], float],
                 on_change: Callable[[], None] = lambda: None) -> None:
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.RLock()
        self.tenant_id: str = seed["tenant"]["id"]
        self.skus: dict[str, Sku] = {}
        for s in seed.get("skus", []):
            self.skus[s["sku_id"]] = Sku(s["sku_id"], s["sku_part_number"], int(s["enabled"]),
                                         copy.deepcopy(s.get("service_plans") or []))
        by_part = {s.sku_part_number: s.sku_id for s in self.skus.values()}
        self.lock = self._lock
        self.users: dict[str, GraphUser] = {}
        for u in seed.get("users", []):
            sku_ids = [by_part[p] for p in u.get("licenses") or []]
            self.users[u["object_id"]] = GraphUser(
                object_id=u["object_id"], upn=u["upn"], display_name=u.get("display_name") or u["upn"],
                account_enabled=bool(u.get("account_enabled", True)), usage_location=u.get("usage_location"),
                licensed_at=0.0 if sku_ids else None, sku_ids=sku_ids)
        self.groups = graph_groups.load_groups(seed, by_part)
        for group in self.groups.values():  # seed memberships count as processed at time 0
            for member in group.members:
                if member in self.users:
                    graph_groups.process_member(self, group, self.users[member])
                    if self.users[member].licensed_at is not None:
                        self.users[member].licensed_at = 0.0

    # -- reads -----------------------------------------------------------------------------------
    def get_user(self, id_or_upn: str) -> GraphUser | None:
        """Look a user up by object id or user principal name (case-insensitive, like Graph)."""
        key = id_or_upn.lower()
        with self._lock:
            user = self.users.get(key)
            if user is None:
                user = next((u for u in self.users.values() if u.upn.lower() == key), None)
            return user

    def list_users(self) -> list[GraphUser]:
        with self._lock:
            return list(self.users.values())

    def licensed_users(self, sku_ids: Iterable[str] | None = None) -> list[GraphUser]:
        """Users holding at least one licence -- directly or through a group -- (of ``sku_ids``
        when given), with ``licensed_at``."""
        wanted = {s.lower() for s in sku_ids} if sku_ids is not None else None
        with self._lock:
            return [copy.deepcopy(u) for u in self.users.values()
                    if u.licensed_at is not None and self.active_sku_ids(u)
                    and (wanted is None or wanted.intersection(self.active_sku_ids(u)))]

    def active_sku_ids(self, user: GraphUser) -> set[str]:
        """SKUs the user holds now, direct or inherited (a seat each, however many ways)."""
        return graph_groups.active_sku_ids(user)

    def consumed(self, sku_id: str) -> int:
        with self._lock:
            return sum(1 for u in self.users.values() if sku_id in self.active_sku_ids(u))

    def mark_licensing(self, user: GraphUser) -> None:
        """Keep ``licensed_at`` in step: set when the first licence arrives, cleared with the last."""
        if self.active_sku_ids(user):
            if user.licensed_at is None:
                user.licensed_at = self._clock()
        else:
            user.licensed_at = None

    def changed(self) -> None:
        self._on_change()

    # -- writes ----------------------------------------------------------------------------------
    def update_user(self, user_id: str, fields: dict[str, Any]) -> GraphUser:
        """Apply a PATCH (only usageLocation, displayName and accountEnabled are writable here)."""
        with self._lock:
            user = self._require(user_id)
            for name, value in fields.items():
                if name == "usageLocation":
                    if value is not None and (not isinstance(value, str) or len(value) != 2 or not value.isalpha()):
                        # Real Graph rejects unknown country codes with Request_BadRequest.
                        raise GraphError(400, "Request_BadRequest",
                                         f"Invalid value specified for property 'usageLocation' of resource 'User'.")
                    user.usage_location = value.upper() if value else None
                elif name == "displayName" and isinstance(value, str) and value:
                    user.display_name = value
                elif name == "accountEnabled" and isinstance(value, bool):
                    user.account_enabled = value
                else:
                    raise GraphError(400, "Request_BadRequest",
                                     f"Property '{name}' is not writable in this emulator or has an invalid value.")
        self._on_change()
        return user

    def assign_license(self, user_id: str, add: list[dict[str, Any]], remove: list[str]) -> GraphUser:
        """Apply addLicenses/removeLicenses atomically, with Graph's refusals.

        Error texts: the usage-location message matches what Graph returns as far as we could
        determine; the seat-exhaustion and unknown-SKU messages are best guesses (marked GUESS).
        """
        with self._lock:
            user = self._require(user_id)
            add_ids: list[str] = []
            for entry in add:
                sku_id = str(entry.get("skuId") or "").lower()
                if sku_id not in self.skus:
                    # GUESS: wording of Graph's unknown-SKU error.
                    raise GraphError(400, "Request_BadRequest",
                                     f"License {sku_id or '<empty>'} does not correspond to a valid company License.")
                add_ids.append(sku_id)
            for sku_id in remove:
                if str(sku_id).lower() not in user.sku_ids:
                    if str(sku_id).lower() in self.active_sku_ids(user):
                        # Documented ("Direct licenses coexist with group licenses"); the text is the
                        # one reported publicly, the code a GUESS.
                        raise GraphError(400, "Request_BadRequest",
                                         "User license is inherited from a group membership and it cannot be "
                                         "removed directly from the user.")
                    # GUESS: wording when removing a licence the user does not hold.
                    raise GraphError(400, "Request_BadRequest",
                                     f"User does not have a corresponding license {sku_id}.")
            new_ids = [s for s in add_ids if s not in user.sku_ids]
            if new_ids and not user.usage_location:
                raise GraphError(400, "Request_BadRequest",
                                 "License assignment cannot be done for user with invalid usage location.")
            for sku_id in new_ids:
                if sku_id in self.active_sku_ids(user):
                    continue  # already held through a group: a direct assignment takes no new seat
                if self.consumed(sku_id) >= self.skus[sku_id].enabled:
                    # GUESS: Graph's text for an exhausted subscription.
                    raise GraphError(400, "Request_BadRequest",
                                     f"Subscription with SKU {sku_id} does not have any available licenses.")
            removed = {str(s).lower() for s in remove}
            user.sku_ids = [s for s in user.sku_ids if s not in removed]
            for entry, sku_id in zip(add, add_ids):
                if sku_id not in user.sku_ids:
                    user.sku_ids.append(sku_id)
                user.disabled_plans[sku_id] = [str(p).lower() for p in entry.get("disabledPlans") or []]
            self.mark_licensing(user)
        self._on_change()
        return user

    def _require(self, user_id: str) -> GraphUser:
        user = self.get_user(user_id)
        if user is None:
            raise GraphError(404, "Request_ResourceNotFound",
                             f"Resource '{user_id}' does not exist or one of its queried reference-property objects are not present.")
        return user

    # -- snapshot --------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"users": [asdict(u) for u in self.users.values()],
                    "groups": graph_groups.snapshot(self.groups)}

    def restore(self, state: dict[str, Any]) -> None:
        with self._lock:
            self.users = {u["object_id"]: GraphUser(**u) for u in state.get("users", [])}
            if "groups" in state:
                self.groups = graph_groups.restore(state["groups"])
