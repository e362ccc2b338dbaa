"""The provider -> client boundary: what the providers may ask of Dataverse, as a ``typing.Protocol``.

:class:`~infra.clients.dataverse.client.DataverseClient` satisfies it (a test in
tests/clients/test_dataverse_unit.py checks that every member exists with the same parameters); a
test fake implements it without HTTP.  Providers type their ``client`` parameters with
:class:`DataverseApi`, so a reader sees exactly which calls a reconcile step can make, and a
type checker sees a misspelt one.  Semantics, errors and the Microsoft documents followed are in
the topic modules' docstrings (:mod:`.users`, :mod:`.roles`, :mod:`.solutions`).
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Iterable, Mapping, Protocol, runtime_checkable

from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.dataverse.dto import (
    AsyncJob,
    AsyncOperation,
    BusinessUnit,
    ImportResult,
    Privilege,
    Role,
    RolePrivilege,
    Solution,
    StageResult,
    SystemUser,
    WhoAmI,
)

__all__ = ["DataverseApi"]


@runtime_checkable
class DataverseApi(Protocol):
    """One Dataverse environment as one identity, as the providers use it."""

    #: The environment (and tenant) this client talks to; also the key of per-process caches.
    connection: EnvironmentEndpoints

    @property
    def identity(self) -> str:
        """Who calls, for messages (no secret)."""
        ...

    # --- identity and users ---------------------------------------------------------------------

    def whoami(self) -> WhoAmI:
        """The calling user (``WhoAmI``)."""
        ...

    def root_business_unit(self) -> BusinessUnit:
        """The root business unit."""
        ...

    def user_roles(self, user_id: str) -> list[Role]:
        """The roles a systemuser holds."""
        ...

    def get_user_with_roles(self, user_id: str) -> tuple[SystemUser, list[Role]]:
        """A systemuser and its roles (NotFoundError if gone)."""
        ...

    def find_user_with_roles_by_object_id(self, object_id: str) -> tuple[SystemUser, list[Role]] | None:
        """The systemuser of an Entra object id and its roles, or None."""
        ...

    def find_users_with_roles_by_application_id(self, app_id: str) -> list[tuple[SystemUser, list[Role]]]:
        """The application users of a client id, with their roles."""
        ...

    def update_user(self, user_id: str, fields: Mapping[str, object]) -> None:
        """PATCH a systemuser (update only)."""
        ...

    def create_application_user(self, app_id: str, business_unit_id: str) -> SystemUser:
        """Create the application user (non-idempotent)."""
        ...

    # --- role assignment ------------------------------------------------------------------------

    def batch_associate(self, user_id: str, role_ids: Iterable[str]) -> None:
        """Give a user roles (one change set; already held is success)."""
        ...

    def batch_disassociate(self, user_id: str, role_ids: Iterable[str]) -> None:
        """Take roles away (one change set; already gone is success)."""
        ...

    def batch_change_roles(self, user_id: str, add: Iterable[str], remove: Iterable[str]) -> None:
        """Add and remove roles in one change set."""
        ...

    # --- roles and privileges -------------------------------------------------------------------

    def get_role(self, role_id: str) -> Role | None:
        """A role by id, or None."""
        ...

    def find_roles(self, name: str | None = None, business_unit_id: str | None = None) -> list[Role]:
        """Roles by exact name and/or business unit."""
        ...

    def roles_by_ids_or_names(self, role_ids: Iterable[str] = (), names: Iterable[str] = (),
                              business_unit_id: str | None = None) -> list[Role]:
        """Roles by id, or by name in a business unit, in one request."""
        ...

    def get_role_with_privileges(self, role_id: str) -> tuple[Role, list[RolePrivilege]] | None:
        """A role and its privileges in one round trip, or None."""
        ...

    def find_role_copy(self, root_role_id: str, business_unit_id: str) -> Role | None:
        """A root role's copy in a business unit, or None."""
        ...

    def create_role(self, role_id: str, name: str, business_unit_id: str, *,
                    solution_unique_name: str | None = None, description: str | None = None) -> Role:
        """Create a role with a fixed id."""
        ...

    def rename_role(self, role_id: str, name: str) -> None:
        """Rename a role."""
        ...

    def delete_role(self, role_id: str) -> bool:
        """Delete a role; False when already gone."""
        ...

    def privileges_by_name(self, names: Iterable[str]) -> dict[str, Privilege]:
        """Catalog entries by name (absent names left out)."""
        ...

    def replace_role_privileges(self, role_id: str, privileges: Iterable[RolePrivilege] | Mapping[str, str],
                                *, business_unit_id: str | None = None) -> None:
        """Make a role hold exactly these privileges."""
        ...

    # --- solutions and async operations ---------------------------------------------------------

    def find_solution(self, unique_name: str) -> Solution | None:
        """A solution row by unique name, or None."""
        ...

    def stage_solution(self, package: BinaryIO | Path | str, *, timeout_s: float = 900.0) -> StageResult:
        """Upload and validate a package."""
        ...

    def import_solution_async(self, upload_id: str, *, overwrite_unmanaged: bool = True,
                              publish_workflows: bool = True) -> AsyncJob:
        """Start an import (non-idempotent)."""
        ...

    def stage_and_upgrade_async(self, upload_id: str, *, overwrite_unmanaged: bool = True,
                                publish_workflows: bool = True) -> AsyncJob:
        """Start a managed upgrade (non-idempotent)."""
        ...

    def uninstall_solution_async(self, unique_name: str) -> AsyncJob:
        """Start an uninstall (non-idempotent)."""
        ...

    def publish_all(self) -> None:
        """Publish all customizations."""
        ...

    def get_async_operation(self, operation_id: str) -> AsyncOperation:
        """An async operation's current row."""
        ...

    def find_running_solution_operations(self) -> list[AsyncOperation]:
        """Solution operations not completed yet."""
        ...

    def solution_import_result(self, import_job_key: str) -> ImportResult:
        """The result (errors, warnings) of an import."""
        ...

    def import_job_progress(self, import_job_id: str) -> float | None:
        """An import job's progress in percent."""
        ...
