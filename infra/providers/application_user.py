"""ApplicationUser: the server-to-server user Business Central signs in as, with its roles.

Business Central itself looks for exactly one ``systemuser`` whose ``applicationid`` is its app
registration's client id and refuses when there are two, so this resource adopts the single
active one or creates it (non-interactive, root business unit) and fails on duplicates.

"Clearing" a blocking user: a disabled application user for the same client id blocks creating a
new one.  When no active user exists but a disabled one does, we re-enable that row
(``isdisabled`` false, ``accessmode`` 4) and adopt it instead of creating a second row; its old
role assignments are left alone and only the declared roles are added (removal stays limited to
roles this resource manages).  A *soft-deleted* user is invisible to the Web API and cannot be
restored through it: creation then fails with a message that says where to restore or purge it.
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
from infra.clients.errors import AmbiguousOutcomeError, ClientError, ConflictError, NotFoundError
from infra.model.terms import guid, is_guid
from infra.providers.administration_mode import (
    administration_mode_message, refuse_in_administration_mode, report_administration_mode,
)
from infra.providers.base import (
    DataverseProvider, FieldRule, ProviderFailure, client_for, credentials_available, is_unknown, progress,
    resource_props, root_business_unit_id, strip_internal, user_errors, warn,
)
from infra.providers.deployer import DeployerCheckError, checked_client, ensure_deployer_check
from infra.providers.role_assignment import (
    RoleAssignment, assign_roles, canonical_roles, forbidden_roles_held, held_system_administrator, live_assignment,
    refuse_held_system_administrator, resolve_declared_roles, roles_failures, user_for_update,
)
from infra.providers.runtime import dataverse_client

__all__ = ["ApplicationUser", "ApplicationUserArgs", "ApplicationUserProvider", "find_or_create_app_user_with_roles"]


def find_or_create_app_user_with_roles(client: DataverseApi, app_id: str, label: str,
                                       found: list[tuple[SystemUser, list[Role]]] | None = None,
                                       ) -> tuple[SystemUser, bool, list[Role]]:
    """(systemuser, created, its roles): the lookup reads the users with their roles in one
    request (``$expand``; ``found`` when the caller just did it), and a user created this moment
    holds no role, so neither is read again.  Raises :class:`ProviderFailure` for two active
    users of the client id, or a soft-deleted one blocking the create; an ambiguous create is
    looked up, never retried blindly."""
    if found is None:
        found = client.find_users_with_roles_by_application_id(app_id)
    users = [u for u, _ in found]
    roles_of = {u.systemuser_id: roles for u, roles in found}
    active = [u for u in users if not u.is_disabled]
    if len(active) > 1:
        raise ProviderFailure(
            f"{label}: {len(active)} active application users exist for client id {app_id} "
            f"({', '.join(u.systemuser_id for u in active)}); Business Central refuses this too. "
            "Disable all but one in the Power Platform admin center and run again.")
    if active:
        progress(f"{label}: adopting application user {active[0].systemuser_id}")
        return active[0], False, roles_of[active[0].systemuser_id]
    if users:
        blocked = users[0]
        progress(f"{label}: re-enabling disabled application user {blocked.systemuser_id} that "
                 "would block creating a new one")
        client.update_user(blocked.systemuser_id, {"isdisabled": False,
                                                   "accessmode": facts.ACCESS_MODE_NON_INTERACTIVE})
        user, roles = client.get_user_with_roles(blocked.systemuser_id)
        return user, False, roles
    root_bu = root_business_unit_id(client)
    progress(f"{label}: creating application user in the root business unit")
    try:
        return client.create_application_user(app_id, root_bu), True, []
    except AmbiguousOutcomeError:
        # The create may have happened: look before anything else (never a blind retry).
        again = [(u, r) for u, r in client.find_users_with_roles_by_application_id(app_id) if not u.is_disabled]
        if len(again) == 1:
            progress(f"{label}: the create's answer was lost but the user exists; adopting it")
            return again[0][0], True, again[0][1]
        raise
    except ConflictError:
        # Created concurrently: adopt it.  Otherwise a soft-deleted user holds the client id; the
        # Web API cannot see or restore such a row, so say exactly what to do.
        again = [(u, r) for u, r in client.find_users_with_roles_by_application_id(app_id) if not u.is_disabled]
        if len(again) == 1:
            return again[0][0], False, again[0][1]
        raise ProviderFailure(
            f"{label}: Dataverse refuses a new application user for client id {app_id} although none "
            "is visible: a deleted (soft-deleted) application user still holds this client id. "
            "Restore it or delete it permanently in the Power Platform admin center "
            "(Environment > Settings > Users + permissions > Application users), then run again.") from None


class ApplicationUserProvider(DataverseProvider):
    """Adopts or creates the one application user of a client id and gives it its roles; the client id replaces."""

    resource_label = "ApplicationUser"
    fields = (FieldRule("application_id", replace=True), FieldRule("roles"),
              FieldRule("delete_on_destroy"))

    def validate(self, news: Mapping[str, Any]) -> list[CheckFailure]:
        """application_id a GUID, roles a non-empty list."""
        failures: list[CheckFailure] = []
        app_id = news.get("application_id")
        if not is_unknown(app_id) and not is_guid(app_id):
            failures.append(CheckFailure(
                "application_id", f"application_id must be the app registration's client id (a GUID), got {app_id!r}"))
        failures += roles_failures(news.get("roles"))
        return failures

    def check_live(self, olds: Mapping[str, Any], inputs: dict[str, Any],
                   connection: EnvironmentEndpoints | None) -> list[CheckFailure]:
        """With credentials at preview: refused while the environment is in administration mode
        (the deployer check started reading it; no request of its own)."""
        if connection is None:
            return []
        try:
            if credentials_available(connection):
                client = dataverse_client(connection)
                if ensure_deployer_check(connection, client, brief_repeat=True) and \
                        report_administration_mode(connection, client):
                    return [CheckFailure("connection", administration_mode_message(
                        connection, f"application user for {inputs.get('application_id')}", "the application user"))]
        except (DeployerCheckError, ClientError, ProviderFailure):
            pass  # the base check reported it, or the writing operations will
        return []

    def canonical(self, news: dict[str, Any]) -> dict[str, Any]:
        """Client id lower-cased, roles as a sorted set, delete_on_destroy a bool."""
        out = dict(news)
        if is_guid(news.get("application_id")):
            out["application_id"] = guid(news["application_id"])
        out["roles"] = canonical_roles(news.get("roles") or [])
        out["delete_on_destroy"] = bool(news.get("delete_on_destroy", False))
        return out

    def equal(self, name: str, old: Any, new: Any) -> bool:
        """Roles compare as a set."""
        if name == "roles":
            return sorted(old or []) == sorted(new or [])
        return old == new

    def _outs(self, props: Mapping[str, Any], user: SystemUser, created: bool,
              outcome: RoleAssignment) -> dict[str, Any]:
        return {**strip_internal(props), "systemuser_id": user.systemuser_id, "created": created,
                "forbidden_roles_held": [], **outcome.outputs()}

    @user_errors("ApplicationUser")
    def create(self, props: dict[str, Any]) -> CreateResult:
        """Resolve the roles, adopt or create the one application user, assign the roles."""
        label = f"application user for {props['application_id']}"
        client = checked_client(props)
        environment_url = client.connection.environment_url
        refuse_in_administration_mode(client.connection, client, label, "the application user")
        # The declared roles are resolved before the user may be created (a typo must not leave a
        # new user behind); the lookup of existing users is a read and runs alongside.
        with ThreadPoolExecutor(max_workers=2) as pool:
            resolving = pool.submit(resolve_declared_roles, client, props["roles"], label)
            finding = pool.submit(client.find_users_with_roles_by_application_id, props["application_id"])
            roles = resolving.result()
            found = finding.result()
        for existing, existing_roles in found:  # adopting an administrator: refused before any write
            if not existing.is_disabled:
                refuse_held_system_administrator(existing, existing_roles, label, "the application user",
                                                 environment_url)
        user, created, held = find_or_create_app_user_with_roles(client, props["application_id"], label,
                                                                 found=found)
        refuse_held_system_administrator(user, held, label, "the application user", environment_url)
        outcome = assign_roles(client, user, props["roles"], [], label, resolved=roles, current_roles=held)
        outs = self._outs(props, user, created, outcome)
        return CreateResult(outs["systemuser_id"], outs)

    @user_errors("ApplicationUser")
    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Assign the declared roles and remove managed ones no longer declared (no request when
        only connection details or delete_on_destroy changed)."""
        label = f"application user for {news['application_id']}"
        if sorted(olds.get("roles") or []) == news["roles"]:
            return UpdateResult({**olds, **strip_internal(news)})
        client = checked_client(news)
        refuse_in_administration_mode(client.connection, client, label, "the application user")
        user, held = user_for_update(client, id_, label)
        refuse_held_system_administrator(user, held, label, "the application user",
                                         client.connection.environment_url)
        outcome = assign_roles(client, user, news["roles"], olds.get("managed_role_ids") or [], label,
                               current_roles=held, preexisting=olds.get("preexisting_role_ids"))
        return UpdateResult(self._outs(news, user, bool(olds.get("created")), outcome))

    @user_errors("ApplicationUser")
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """The user's live roles (one request); gone or disabled reads as gone."""
        client = client_for(props)
        try:
            user, held = client.get_user_with_roles(id_)  # one request
        except NotFoundError:
            return ReadResult("", {})
        if user.is_disabled:
            return ReadResult("", {})
        refs, ids, managed = live_assignment(client, id_, props.get("role_map") or {},
                                             props.get("managed_role_ids") or [], held)
        admin = held_system_administrator(held)
        forbidden = forbidden_roles_held(admin)
        if admin:  # drift: shows in the refreshed roles and in forbidden_roles_held
            warn(f"application user for {props.get('application_id')}: drift -- it holds {', '.join(forbidden)}; "
                 "the next deployment refuses to go on until it is removed")
            refs = sorted(set(refs) | {str(r.name) for r in admin})
        outs = {**strip_internal(props), "roles": refs, "role_ids": ids, "managed_role_ids": managed,
                "forbidden_roles_held": forbidden}
        inputs = {"connection": props["connection"], "application_id": props["application_id"],
                  "roles": refs, "delete_on_destroy": bool(props.get("delete_on_destroy", False))}
        return ReadResult(id_, outs, inputs)

    @user_errors("ApplicationUser")
    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Keeps the user by default.  With delete_on_destroy, a user this stack created is
        disabled after its managed roles are removed (Dataverse does not hard-delete active
        application users); an adopted user is never touched."""
        label = f"application user for {props.get('application_id')}"
        if not props.get("delete_on_destroy"):
            progress(f"{label}: left in place with its roles (delete_on_destroy is false)")
            return
        if not props.get("created"):
            progress(f"{label}: left in place (adopted, not created by this stack)")
            return
        client = checked_client(props)
        try:
            current = {r.role_id for r in client.user_roles(id_)}
            client.batch_disassociate(id_, sorted(set(props.get("managed_role_ids") or []) & current))
            client.update_user(id_, {"isdisabled": True})
        except NotFoundError:
            progress(f"{label}: systemuser {id_} already gone")
            return
        progress(f"{label}: disabled systemuser {id_}")


@dataclass
class ApplicationUserArgs:
    """Inputs of an ApplicationUser.

    ``application_id``: the app registration's client id (GUID) Business Central signs in with;
    ``roles``: role ids or role names (root business unit) the user must hold;
    ``delete_on_destroy``: on destroy, take the managed roles away and disable the user -- only
    one this stack created.
    """

    connection: Mapping[str, Any]
    application_id: Any
    roles: Sequence[Any]
    delete_on_destroy: bool = False


class ApplicationUser(pulumi.dynamic.Resource, module="dataverse", name="ApplicationUser"):
    """The single application user for an app registration's client id, with its roles."""

    systemuser_id: pulumi.Output[str]
    role_ids: pulumi.Output[list]
    created: pulumi.Output[bool]
    provider_class = ApplicationUserProvider

    def __init__(self, name: str, args: ApplicationUserArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        """Register the resource (outputs: systemuser_id, role_ids, role_map, managed_role_ids, created, ...)."""
        props = resource_props(args, ("systemuser_id", "role_ids", "managed_role_ids", "role_map", "created",
                                      "forbidden_roles_held"))
        super().__init__(ApplicationUserProvider(), name, props, opts)
