"""UsageLocation: the usage location of an existing Entra user, set before its licence.

Why a resource of its own: Graph refuses a licence for a user without a usage location ("License
assignment cannot be done for user with invalid usage location", Graph ``assignLicense``), and
salespeople are users this stack does not own -- pulumi-azuread's ``User`` would take the whole
account over (and delete it on destroy).  This resource changes ONE property, with Graph
``PATCH /users/{id} {"usageLocation": "GB"}``, only when it differs; the licence (or licensing
group membership) depends on it.  Delete leaves the value in place: licences depend on it and
it belongs to the user's account.  Refresh reads it back, so a change made elsewhere is drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckFailure, CreateResult, ReadResult, UpdateResult

from infra import facts
from infra.clients.errors import ConfigurationError
from infra.clients.graph import GraphClient
from infra.model.terms import guid, is_guid
from infra.providers.base import (
    DataverseProvider, FieldRule, ProviderFailure, endpoints_of, is_unknown, progress, resource_props,
    strip_internal, user_errors,
)

__all__ = ["UsageLocation", "UsageLocationArgs", "UsageLocationProvider", "ensure_usage_location"]


def _graph(props: Mapping[str, Any]) -> GraphClient:
    try:
        return GraphClient.for_connection(endpoints_of(props))
    except ConfigurationError as exc:
        raise ProviderFailure(f"cannot reach Microsoft Graph: {exc}") from None


def ensure_usage_location(client: GraphClient, object_id: str, wanted: str, label: str) -> str | None:
    """Set the user's usage location (ISO 3166-1 alpha-2) when it differs; returns the value it had
    before.  :class:`ProviderFailure` when there is no such Entra user."""
    user = client.get_user(object_id)
    if user is None:
        raise ProviderFailure(f"{label}: there is no Entra user with object id {object_id}; nothing was changed")
    if (user.usage_location or "").upper() == wanted:
        return user.usage_location
    progress(f"{label}: setting usage location {user.usage_location or 'none'} -> {wanted}")
    client.update_user(object_id, {"usageLocation": wanted})
    return user.usage_location


class UsageLocationProvider(DataverseProvider):
    """Sets one property of an existing Entra user through Graph; the object id replaces."""

    resource_label = "UsageLocation"
    deployer_check_in_check = False  # Graph only: the Dataverse deployer check is not this resource's business
    fields = (FieldRule("object_id", replace=True), FieldRule("usage_location"))

    def validate(self, news: Mapping[str, Any]) -> list[CheckFailure]:
        """object_id a GUID, usage_location an ISO 3166-1 alpha-2 code."""
        failures: list[CheckFailure] = []
        oid = news.get("object_id")
        if not is_unknown(oid) and not is_guid(oid):
            failures.append(CheckFailure("object_id", f"object_id must be the user's Entra object id (a GUID), got {oid!r}"))
        loc = news.get("usage_location")
        if not is_unknown(loc) and (not isinstance(loc, str) or loc.strip().upper() not in facts.ISO_3166_ALPHA2):
            failures.append(CheckFailure(
                "usage_location", f"usage_location must be an ISO 3166-1 alpha-2 country code such as US, got {loc!r}"))
        return failures

    def canonical(self, news: dict[str, Any]) -> dict[str, Any]:
        """Object id lower-cased, country code upper-cased."""
        out = dict(news)
        if is_guid(news.get("object_id")):
            out["object_id"] = guid(news["object_id"])
        if isinstance(news.get("usage_location"), str):
            out["usage_location"] = news["usage_location"].strip().upper()
        return out

    def _set(self, props: Mapping[str, Any], previous: Any = None) -> dict[str, Any]:
        label = f"usage location of {props['object_id']}"
        before = ensure_usage_location(_graph(props), props["object_id"], props["usage_location"], label)
        return {**strip_internal(props), "previous_usage_location": before if previous is None else previous}

    @user_errors("UsageLocation")
    def create(self, props: dict[str, Any]) -> CreateResult:
        """Set the usage location when it differs; remember the one it had."""
        return CreateResult(props["object_id"], self._set(props))

    @user_errors("UsageLocation")
    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """As create; the value before the first create stays recorded."""
        return UpdateResult(self._set(news, olds.get("previous_usage_location")))

    @user_errors("UsageLocation")
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """The live usage location (one request); a missing user reads as gone."""
        user = _graph(props).get_user(id_)
        if user is None:
            return ReadResult("", {})
        live = (user.usage_location or "").upper() or None
        outs = {**strip_internal(props), "usage_location": live}
        inputs = {"connection": props["connection"], "object_id": props["object_id"], "usage_location": live}
        return ReadResult(id_, outs, inputs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Nothing: the value belongs to the user's account."""
        progress(f"usage location of {id_}: left at {props.get('usage_location')} "
                 "(it belongs to the user's account; licences depend on it)")


@dataclass
class UsageLocationArgs:
    """``usage_location``: ISO 3166-1 alpha-2 code; ``object_id``: the user's Entra object id."""

    connection: Mapping[str, Any]
    object_id: Any
    usage_location: Any


class UsageLocation(pulumi.dynamic.Resource, module="entra", name="UsageLocation"):
    """The usage location of an existing Entra user (nothing else about the account)."""

    previous_usage_location: pulumi.Output[str]
    provider_class = UsageLocationProvider

    def __init__(self, name: str, args: UsageLocationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        """Register the resource (output: previous_usage_location)."""
        props = resource_props(args, ("previous_usage_location",))
        super().__init__(UsageLocationProvider(), name, props, opts)
