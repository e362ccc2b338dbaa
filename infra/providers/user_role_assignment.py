"""UserRoleAssignment: a person's (or the integration user's) roles in Sales.

One resource per user carries all of that user's roles, so a change shows as one line per role
and a user needs one provider operation, not one per role.  The user is identified by the Entra
object id; Dataverse creates the systemuser only after the licence propagates, so create waits
with a bound and then names the likely causes.  The integration user is switched to
non-interactive access mode with ``isintegrationuser`` and may never hold System Administrator.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckFailure, CreateResult, ReadResult, UpdateResult

from infra import facts
from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.dataverse import DataverseApi, Role, SystemUser
from infra.clients.errors import ClientError, NotFoundError
from infra.model.terms import guid, is_guid
from infra.providers.administration_mode import (
    administration_mode_message, refuse_in_administration_mode, report_administration_mode,
)
from infra.providers.base import (
    DataverseProvider, FieldRule, ProviderFailure, formerly, client_for, credentials_available, is_unknown,
    progress, resource_props, strip_internal, user_errors, warn,
)
from infra.providers.deployer import DeployerCheckError, checked_client, ensure_deployer_check
from infra.providers.role_assignment import (
    assign_roles, canonical_roles, forbidden_roles_held, held_admin_message, held_system_administrator,
    live_assignment, refuse_held_system_administrator, resolve_declared_roles, roles_failures, user_for_update,
    wait_for_user_with_roles,
)
from infra.providers.runtime import dataverse_client

__all__ = ["UserRoleAssignment", "UserRoleAssignmentArgs", "UserRoleAssignmentProvider", "ensure_integration_mode", "is_integration_mode"]


def is_integration_mode(user: SystemUser) -> bool:
    """Non-interactive access mode (``accessmode`` 4) and ``isintegrationuser`` set."""
    return (int(user.access_mode or 0) == facts.ACCESS_MODE_NON_INTERACTIVE
            and bool(user.is_integration_user))


def ensure_integration_mode(client: DataverseApi, user: SystemUser, label: str) -> None:
    """PATCH accessmode 4 + isintegrationuser only when not already so (no needless write)."""
    if is_integration_mode(user):
        return
    progress(f"{label}: setting non-interactive access mode and isintegrationuser")
    client.update_user(user.systemuser_id, {"accessmode": facts.ACCESS_MODE_NON_INTERACTIVE,
                                            "isintegrationuser": True})


def _refuse_disabled(user: SystemUser, label: str) -> None:
    if user.is_disabled:
        raise ProviderFailure(
            f"{label}: systemuser {user.systemuser_id} is disabled in the environment (blocked sign-in, "
            "removed licence or removed from the environment's security group); enable it and run again")


class UserRoleAssignmentProvider(DataverseProvider):
    """Gives one Entra user's systemuser its declared roles (and the integration user its access mode)."""

    resource_label = "UserRoleAssignment"
    fields = (FieldRule("object_id", replace=True), FieldRule("roles"), FieldRule("integration_user"),
              FieldRule("wait_timeout_seconds"))

    def validate(self, news: Mapping[str, Any]) -> list[CheckFailure]:
        """object_id a GUID, roles a non-empty list, wait_timeout_seconds 0-86400."""
        failures: list[CheckFailure] = []
        oid = news.get("object_id")
        if not is_unknown(oid) and not is_guid(oid):
            failures.append(CheckFailure("object_id", f"object_id must be the user's Entra object id (a GUID), got {oid!r}"))
        failures += roles_failures(news.get("roles"))
        timeout = news.get("wait_timeout_seconds", 600)
        if not is_unknown(timeout) and (not isinstance(timeout, (int, float)) or timeout < 0 or timeout > 86400):
            failures.append(CheckFailure("wait_timeout_seconds", f"must be 0-86400 seconds, got {timeout!r}"))
        return failures

    def canonical(self, news: dict[str, Any]) -> dict[str, Any]:
        """Object id lower-cased, roles as a sorted set, defaults filled in."""
        out = dict(news)
        out["object_id"] = guid(news["object_id"]) if is_guid(news.get("object_id")) else news.get("object_id")
        out["roles"] = canonical_roles(news.get("roles") or [])
        out["integration_user"] = bool(news.get("integration_user", False))
        out["wait_timeout_seconds"] = news.get("wait_timeout_seconds", 600)
        return out

    def equal(self, name: str, old: Any, new: Any) -> bool:
        """The timeout compares as a number (default 600), roles as a set."""
        if name == "wait_timeout_seconds":
            return float(old if old is not None else 600) == float(new if new is not None else 600)
        if name == "roles":
            return sorted(old or []) == sorted(new or [])
        return old == new

    def check_live(self, olds: Mapping[str, Any], inputs: dict[str, Any],
                   connection: EnvironmentEndpoints | None) -> list[CheckFailure]:
        """The integration user must not already hold System Administrator, nor the environment
        be in administration mode: looked up at preview when credentials are present (one
        request; the mode was read once per process), so the refusal comes before any write."""
        if connection is None or not inputs.get("integration_user") or not is_guid(inputs.get("object_id")):
            return []
        label = f"user access for {inputs['object_id']}"
        try:
            if not credentials_available(connection):
                return []
            client = dataverse_client(connection)
            ensure_deployer_check(connection, client, brief_repeat=True)  # cached
            if report_administration_mode(connection, client):  # read once per process
                return [CheckFailure("connection", administration_mode_message(
                    connection, label, "the integration user"))]
            found = client.find_user_with_roles_by_object_id(inputs["object_id"])
        except DeployerCheckError:
            return []  # the base check reported it
        except (ClientError, ProviderFailure) as exc:
            warn(f"{label}: roles not checked in preview: {exc}")
            return []
        if found is not None:
            user, held = found
            admin = held_system_administrator(held)
            if admin:
                return [CheckFailure("roles", held_admin_message(
                    user, admin, label, "the integration user", connection.environment_url))]
        return []

    def _apply(self, client: DataverseApi, user: SystemUser, held: Sequence[Role], props: Mapping[str, Any],
               managed: Sequence[str], label: str, resolved: Mapping[str, Role] | None = None,
               preexisting: Sequence[str] | None = None) -> dict[str, Any]:
        _refuse_disabled(user, label)
        integration = bool(props.get("integration_user"))
        if integration:
            refuse_held_system_administrator(user, held, label, "the integration user",
                                             client.connection.environment_url)
        outcome = assign_roles(client, user, props["roles"], managed, label, refuse_admin=integration,
                               current_roles=held, resolved=resolved, preexisting=preexisting)
        if integration:
            ensure_integration_mode(client, user, label)
        return {**strip_internal(props), "systemuser_id": user.systemuser_id,
                "business_unit_id": user.business_unit_id,
                "forbidden_roles_held": [], **outcome.outputs()}

    @user_errors("UserRoleAssignment")
    def create(self, props: dict[str, Any]) -> CreateResult:
        """Resolve the roles and find the user (waiting for it, bounded), then assign the roles
        and, for the integration user, set non-interactive access mode."""
        label = f"user access for {props['object_id']}"
        client = checked_client(props)
        if props.get("integration_user"):
            refuse_in_administration_mode(client.connection, client, label, "the integration user")
        # Two independent reads, one round trip: the user with its roles, and the declared roles
        # (usually cached in this host already).  Nothing is written before both succeed.
        # Only the first look runs alongside; waiting for a user that is not there yet starts
        # after the roles resolved, so a typo in a role name fails at once.
        with ThreadPoolExecutor(max_workers=2) as pool:
            roles = pool.submit(resolve_declared_roles, client, props["roles"], label,
                                refuse_admin=bool(props.get("integration_user")))
            first_look = pool.submit(client.find_user_with_roles_by_object_id, props["object_id"])
            resolved = roles.result()
            found = first_look.result()
        user, held = found if found is not None else wait_for_user_with_roles(
            client, props["object_id"], float(props.get("wait_timeout_seconds", 600)), label,
            first_look_missed=True)
        outs = self._apply(client, user, held, props, [], label, resolved)
        return CreateResult(outs["systemuser_id"], outs)

    @user_errors("UserRoleAssignment")
    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Assign the declared roles and remove managed ones no longer declared; no request when
        only the time-out or connection details changed."""
        label = f"user access for {news['object_id']}"
        same = (sorted(olds.get("roles") or []) == news["roles"]
                and bool(olds.get("integration_user")) == news["integration_user"])
        if same:  # only wait_timeout_seconds / connection details changed
            return UpdateResult({**olds, **strip_internal(news)})
        client = checked_client(news)
        if news.get("integration_user"):
            refuse_in_administration_mode(client.connection, client, label, "the integration user")
        user, held = user_for_update(client, id_, label)
        return UpdateResult(self._apply(client, user, held, news, olds.get("managed_role_ids") or [], label,
                                        preexisting=olds.get("preexisting_role_ids")))

    @user_errors("UserRoleAssignment")
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """The user's live roles (one request); System Administrator held is recorded as drift."""
        client = client_for(props)
        try:
            user, held = client.get_user_with_roles(id_)  # one request
        except NotFoundError:
            return ReadResult("", {})
        refs, ids, managed = live_assignment(client, id_, props.get("role_map") or {},
                                             props.get("managed_role_ids") or [], held)
        integration = bool(props.get("integration_user")) and is_integration_mode(user)
        forbidden: list[str] = []
        if props.get("integration_user"):
            # System Administrator given by hand is drift: it shows in the refreshed roles, and in
            # forbidden_roles_held (the policy pack's stack rule reads it).
            admin = held_system_administrator(held)
            forbidden = forbidden_roles_held(admin)
            if admin:
                warn(f"user access for {props.get('object_id')}: drift -- the integration user holds "
                     f"{', '.join(forbidden)}; the next deployment refuses to go on until it is removed")
                refs = sorted(set(refs) | {str(r.name) for r in admin})
        outs = {**strip_internal(props), "roles": refs, "role_ids": ids, "managed_role_ids": managed,
                "integration_user": integration, "forbidden_roles_held": forbidden,
                "business_unit_id": user.business_unit_id}
        inputs = {"connection": props["connection"], "object_id": props["object_id"], "roles": refs,
                  "integration_user": integration,
                  "wait_timeout_seconds": props.get("wait_timeout_seconds", 600)}
        return ReadResult(id_, outs, inputs)

    @user_errors("UserRoleAssignment")
    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Removes the roles this resource manages; the systemuser itself belongs to Entra."""
        label = f"user access for {props.get('object_id')}"
        managed = props.get("managed_role_ids") or []
        if not managed:
            return
        client = checked_client(props)
        try:
            current = {r.role_id for r in client.user_roles(id_)}
        except NotFoundError:
            progress(f"{label}: systemuser {id_} is gone; nothing to remove")
            return
        remove = sorted(set(managed) & current)
        if remove:
            progress(f"{label}: removing {len(remove)} role(s) from systemuser {id_}")
            try:
                client.batch_disassociate(id_, remove)  # one $batch change set
            except NotFoundError:
                pass


@dataclass
class UserRoleAssignmentArgs:
    """``roles``: role ids (usually SecurityRole outputs) or role names (root business unit)."""

    connection: Mapping[str, Any]
    object_id: Any
    roles: Sequence[Any]
    integration_user: bool = False
    wait_timeout_seconds: float = 600


class UserRoleAssignment(pulumi.dynamic.Resource, module="dataverse", name="UserRoleAssignment"):
    """The declared Sales roles of one Entra user (and integration-user settings)."""

    systemuser_id: pulumi.Output[str]
    role_ids: pulumi.Output[list]
    managed_role_ids: pulumi.Output[list]
    provider_class = UserRoleAssignmentProvider

    def __init__(self, name: str, args: UserRoleAssignmentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        """Register the resource (outputs: systemuser_id, role_ids, role_map, managed_role_ids, ...)."""
        props = resource_props(args, ("systemuser_id", "role_ids", "managed_role_ids", "role_map",
                                      "business_unit_id", "forbidden_roles_held"))
        # Recorded as ``dataverse:UserAccess`` before the rename; the alias keeps such stacks unchanged.
        super().__init__(UserRoleAssignmentProvider(), name, props, formerly("UserAccess", opts))
