"""The Sales side: deployer check -> solution -> the three roles -> user access -> application user.

The solution step depends on ``solutionSource``: ``package`` imports the package
(:class:`SolutionImport`); ``business-central`` imports nothing and only requires the solution
Business Central imported (:class:`SolutionRequirement`).  Either way the roles wait for it.

:func:`plan_sales` turns the stack settings, the package manifest and the role files into plain
provider inputs (a :class:`SalesPlan`).  The :class:`SalesIntegration` component registers those
inputs as resources with explicit ``depends_on`` (roles after the solution; access after licences
and roles); the end-to-end test feeds the *same* plan to the providers through the harness, so the
program and the test cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from infra import facts
from infra.clients.endpoints import EnvironmentEndpoints
from infra.model.roles import RoleSpec
from infra.model.solution_package import PackageInfo
from infra.program.config import PROJECT_ROOT, StackSettings
from infra.program.endpoints import endpoints_for
from infra.program.identity import resource_slug
from infra.providers.application_user import ApplicationUser, ApplicationUserArgs
from infra.providers.base import formerly
from infra.providers.deployer_check import DeployerCheck, DeployerCheckArgs
from infra.providers.security_role import SecurityRole, SecurityRoleArgs
from infra.providers.solution_import import SolutionImport, SolutionImportArgs
from infra.providers.solution_requirement import SolutionRequirement, SolutionRequirementArgs
from infra.providers.user_role_assignment import UserRoleAssignment, UserRoleAssignmentArgs

__all__ = [
    "ROLE_KEYS",
    "INTEGRATION_USER_ROLES",
    "SALESPERSON_EXTRA_ROLES",
    "APPLICATION_USER_ROLES",
    "RoleRef",
    "RolePlan",
    "AccessPlan",
    "ApplicationUserPlan",
    "SalesPlan",
    "SalesIntegration",
    "SalesIntegrationArgs",
    "endpoints_for",
    "plan_sales",
    "resolve_roles",
    "deployer_check_args",
    "solution_args",
    "solution_requirement_args",
    "role_args",
    "role_solution",
    "access_args",
    "application_user_args",
]

#: Our three roles: plan key -> role name in roles/*.yaml.
ROLE_KEYS: dict[str, str] = facts.MANAGED_ROLES
INTEGRATION_USER_ROLES = ("integration-administrator", "integration-user")
SALESPERSON_EXTRA_ROLES = ("product-availability-user",)
#: Business Central's server-to-server application user works like the integration user.
APPLICATION_USER_ROLES = ("integration-administrator", "integration-user")


@dataclass(frozen=True)
class RoleRef:
    """A reference to one of our roles by plan key; resolved to its SecurityRole's ``role_id``."""

    key: str


@dataclass(frozen=True)
class RolePlan:
    """One of our three roles as the SecurityRole provider gets it.

    ``key`` is the plan key (``integration-user``), ``resource_name`` the Pulumi resource name
    (part of the URN: never change it for an existing stack), ``role_id`` the fixed or derived id,
    ``privileges`` privilege name -> depth (``Basic`` .. ``Global``).
    """

    key: str
    resource_name: str
    name: str
    role_id: str | None
    privileges: Mapping[str, str]
    delete_on_destroy: bool


@dataclass(frozen=True)
class AccessPlan:
    """The roles one user gets in Dataverse (the integration user or a salesperson).

    ``object_id`` is the Entra object id (a string, or an Output in identityMode create); ``roles``
    are our roles by :class:`RoleRef` and Sales roles by name.
    """

    resource_name: str
    user_principal_name: str
    object_id: Any  # str, or pulumi.Output[str] in identityMode create
    roles: tuple[RoleRef | str, ...]  # our roles by reference, Sales roles by name
    integration_user: bool


@dataclass(frozen=True)
class ApplicationUserPlan:
    """Business Central's server-to-server application user: the app registration's client id
    (``application_id``, a string or an Output) and the roles it gets."""

    resource_name: str
    application_id: Any  # str or pulumi.Output[str]
    roles: tuple[RoleRef | str, ...]
    delete_on_destroy: bool


@dataclass(frozen=True)
class SalesPlan:
    """Every provider input of the Sales side, as plain values (object ids may be Outputs).

    The program registers it (:class:`SalesIntegration`); the end-to-end test feeds the same plan
    to the providers through the harness.
    """

    connection: EnvironmentEndpoints
    solution: dict[str, Any]  # SolutionImportArgs / SolutionRequirementArgs keywords except connection
    roles: tuple[RolePlan, ...]
    accesses: tuple[AccessPlan, ...]  # integration user first, then salespeople
    application_user: ApplicationUserPlan | None = None
    solution_source: str = "package"  # or "business-central"

    @property
    def connection_input(self) -> dict[str, Any]:
        """The environment endpoints as the providers' ``connection`` input (a plain dict, no secret)."""
        return self.connection.to_dict()


def project_relative(path: Path) -> str:
    """The package path as recorded in state: relative to the project when inside it.

    An absolute path would differ between a laptop and a CI runner and show as a change in every
    preview; the provider resolves a relative path against the folder holding ``Pulumi.yaml``.
    """
    try:
        return Path(path).resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


def _role_spec(specs: Sequence[RoleSpec], name: str) -> RoleSpec:
    for spec in specs:
        if spec.name == name:
            return spec
    raise ValueError(
        f"roles/: no role file declares {name!r} (found: {', '.join(s.name for s in specs) or 'none'})"
    )


def plan_sales(
    settings: StackSettings,
    package: PackageInfo | None,
    roles: Sequence[RoleSpec],
    *,
    integration_user_object_id: Any,
    salespeople_object_ids: Mapping[str, Any],
    application_client_id: Any | None,
) -> SalesPlan:
    """Provider inputs for the whole Sales side (object ids may be Outputs or plain strings).

    ``package`` is the manifest to import with solutionSource package and ``None`` with
    business-central (then the solution Business Central installed is required instead).
    """
    connection = endpoints_for(settings)
    if settings.solution_source == "business-central":
        solution: dict[str, Any] = {
            "unique_name": facts.SALES_INTEGRATION_SOLUTION,
            "minimum_version": settings.solution_minimum_version or "",
            "require_managed": not settings.allow_unmanaged_solution,
        }
    else:
        if package is None:
            raise ValueError("solutionSource package needs the package manifest")
        solution = {
            "package_path": project_relative(package.path),
            "unique_name": package.unique_name,
            "version": package.version,
            "managed": package.managed,
            "sha256": package.sha256,
            "overwrite_unmanaged_customizations": settings.solution_overwrite_unmanaged,
            "publish_workflows": settings.solution_publish_workflows,
            "uninstall_on_delete": settings.solution_uninstall_on_delete,
            "timeout_seconds": settings.solution_import_timeout_seconds,
        }
    role_plans = tuple(
        RolePlan(
            key=key,
            resource_name=f"role-{key}",
            name=spec.name,
            role_id=spec.role_id,
            privileges=dict(spec.privileges),
            delete_on_destroy=settings.delete_roles_on_destroy,
        )
        for key, spec in ((k, _role_spec(roles, n)) for k, n in ROLE_KEYS.items())
    )
    accesses = [
        AccessPlan(
            resource_name="access-integration-user",
            user_principal_name=settings.integration_user.user_principal_name,
            object_id=integration_user_object_id,
            roles=tuple(RoleRef(k) for k in INTEGRATION_USER_ROLES),
            integration_user=True,
        )
    ]
    for person in settings.salespeople:
        names = tuple(dict.fromkeys(person.roles))  # keep order, drop repeats
        accesses.append(
            AccessPlan(
                resource_name=f"access-{resource_slug(person.user_principal_name)}",
                user_principal_name=person.user_principal_name,
                object_id=salespeople_object_ids[person.user_principal_name],
                roles=names + tuple(RoleRef(k) for k in SALESPERSON_EXTRA_ROLES),
                integration_user=False,
            )
        )
    app_user = None
    if settings.application_user and application_client_id is not None:
        app_user = ApplicationUserPlan(
            resource_name="application-user",
            application_id=application_client_id,
            roles=tuple(RoleRef(k) for k in APPLICATION_USER_ROLES),
            delete_on_destroy=settings.delete_application_user_on_destroy,
        )
    return SalesPlan(connection, solution, role_plans, tuple(accesses), app_user, settings.solution_source)


def resolve_roles(refs: Sequence[RoleRef | str], role_ids: Mapping[str, Any]) -> list[Any]:
    """Our roles -> their ids (Outputs in the program, strings in tests); Sales role names stay names."""
    return [role_ids[r.key] if isinstance(r, RoleRef) else r for r in refs]


@dataclass
class SalesIntegrationArgs:
    """Inputs of :class:`SalesIntegration`.

    ``licenses`` maps a user's UPN to the resource that licenses it (empty in identityMode
    existing); ``application_dependencies`` are what the application user waits for (the service
    principal of the app registration).
    """

    plan: SalesPlan
    licenses: Mapping[str, pulumi.Resource] = field(default_factory=dict)
    application_dependencies: Sequence[pulumi.Resource] = ()


# --- provider arguments: shared by the component and the end-to-end test -------------------------


def deployer_check_args(plan: SalesPlan) -> DeployerCheckArgs:
    """Inputs of the DeployerCheck resource (the deployer's admin roles are checked first)."""
    return DeployerCheckArgs(connection=plan.connection_input)


def solution_args(plan: SalesPlan) -> SolutionImportArgs:
    """Inputs of the SolutionImport resource (``solutionSource: package``)."""
    return SolutionImportArgs(connection=plan.connection_input, **plan.solution)


def solution_requirement_args(plan: SalesPlan) -> SolutionRequirementArgs:
    """Inputs of the SolutionRequirement resource (``solutionSource: business-central``)."""
    return SolutionRequirementArgs(connection=plan.connection_input, **plan.solution)


def role_solution(plan: SalesPlan, installed_version: Any = None) -> dict[str, Any]:
    """What the roles know of the solution: a new version or new bytes make every role re-apply
    its file after the import (an upgrade resets roles the package ships), and the package path
    lets the role's check() validate privileges the import is about to add.

    With solutionSource business-central there is no package: the roles take the version
    Business Central installed (``installed_version``, the SolutionRequirement's output), so its
    *Redeploy Integration Solution* is noticed the same way."""
    if plan.solution_source == "business-central":
        return {"unique_name": plan.solution["unique_name"], "version": installed_version, "sha256": ""}
    return {k: plan.solution[k] for k in ("unique_name", "version", "sha256", "package_path")}


def role_args(plan: SalesPlan, role: RolePlan, installed_version: Any = None) -> SecurityRoleArgs:
    """Inputs of one SecurityRole resource.

    ``installed_version`` is the SolutionRequirement's output (business-central source only), so
    the role re-applies its file when Business Central installs another version.
    """
    return SecurityRoleArgs(
        connection=plan.connection_input,
        name=role.name,
        role_id=role.role_id,
        privileges=dict(role.privileges),
        delete_on_destroy=role.delete_on_destroy,
        solution=role_solution(plan, installed_version),
    )


def access_args(plan: SalesPlan, access: AccessPlan, role_ids: Mapping[str, Any]) -> UserRoleAssignmentArgs:
    """Inputs of one UserRoleAssignment resource; ``role_ids`` is plan key -> role id (Outputs or strings)."""
    return UserRoleAssignmentArgs(
        connection=plan.connection_input,
        object_id=access.object_id,
        roles=resolve_roles(access.roles, role_ids),
        integration_user=access.integration_user,
    )


def application_user_args(plan: SalesPlan, role_ids: Mapping[str, Any]) -> ApplicationUserArgs:
    """Inputs of the ApplicationUser resource; raises ``ValueError`` when the plan has none."""
    app = plan.application_user
    if app is None:
        raise ValueError("the plan has no application user")
    return ApplicationUserArgs(
        connection=plan.connection_input,
        application_id=app.application_id,
        roles=resolve_roles(app.roles, role_ids),
        delete_on_destroy=app.delete_on_destroy,
    )


class SalesIntegration(pulumi.ComponentResource):
    """Dataverse resources, registered in the order the integration needs them (a Pulumi
    ComponentResource, type ``bc-sales:sales:SalesIntegration``).

    Order by ``depends_on``: the deployer check, then the solution, the three roles, the integration
    user's access, the salespeople's access (after their licences), the application user.  Outputs:
    ``role_ids`` (role name -> id), ``installed_version``, ``solution_id``, ``systemuser_ids``
    (UPN -> systemuserid), ``integration_user_systemuser_id``, ``application_user_id``.
    """

    role_ids: dict[str, pulumi.Output[str]]
    installed_version: pulumi.Output[str]
    solution_id: pulumi.Output[str]
    integration_user_systemuser_id: pulumi.Output[str]
    #: UPN -> Dataverse systemuserid of every user given access (salespeople and the integration user)
    systemuser_ids: dict[str, pulumi.Output[str]]
    application_user_id: pulumi.Output[str] | None

    def __init__(self, name: str, args: SalesIntegrationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("bc-sales:sales:SalesIntegration", name, None, opts)
        plan = args.plan
        # Named "preflight" (type Preflight) before the rename; the alias keeps such stacks unchanged.
        deployer_check = DeployerCheck("deployer-check", deployer_check_args(plan), formerly(
            "Preflight", pulumi.ResourceOptions(parent=self), name="preflight"))
        solution: SolutionImport | SolutionRequirement
        if plan.solution_source == "business-central":
            solution = SolutionRequirement(
                "solution", solution_requirement_args(plan),
                pulumi.ResourceOptions(parent=self, depends_on=[deployer_check]),
            )
        else:
            solution = SolutionImport(
                "solution", solution_args(plan), pulumi.ResourceOptions(parent=self, depends_on=[deployer_check])
            )
        roles: dict[str, Any] = {
            role.key: SecurityRole(
                role.resource_name, role_args(plan, role, solution.installed_version),
                pulumi.ResourceOptions(parent=self, depends_on=[solution])
            )
            for role in plan.roles
        }
        self.role_ids = {role.name: roles[role.key].role_id for role in plan.roles}
        role_ids_by_key = {key: r.role_id for key, r in roles.items()}

        integration_access = None
        self.systemuser_ids = {}
        for access in plan.accesses:
            waits: list[pulumi.Resource] = [roles[r.key] for r in access.roles if isinstance(r, RoleRef)]
            if access.user_principal_name in args.licenses:
                waits.append(args.licenses[access.user_principal_name])
            if not access.integration_user and integration_access is not None:
                # Salespeople come after the integration user: the connection works first.
                waits.append(integration_access)
            resource = UserRoleAssignment(
                access.resource_name,
                access_args(plan, access, role_ids_by_key),
                pulumi.ResourceOptions(parent=self, depends_on=waits),
            )
            self.systemuser_ids[access.user_principal_name] = resource.systemuser_id
            if access.integration_user:
                integration_access = resource
                self.integration_user_systemuser_id = resource.systemuser_id

        self.application_user_id = None
        if plan.application_user is not None:
            waits = [roles[r.key] for r in plan.application_user.roles if isinstance(r, RoleRef)]
            waits += list(args.application_dependencies)
            app_user = ApplicationUser(
                plan.application_user.resource_name,
                application_user_args(plan, role_ids_by_key),
                pulumi.ResourceOptions(parent=self, depends_on=waits),
            )
            self.application_user_id = app_user.systemuser_id

        self.installed_version = solution.installed_version
        self.solution_id = solution.solution_id
        outputs: dict[str, Any] = {
            "roleIds": self.role_ids,
            "installedVersion": self.installed_version,
            "integrationUserSystemUserId": self.integration_user_systemuser_id,
        }
        if self.application_user_id is not None:
            outputs["applicationUserId"] = self.application_user_id
        self.register_outputs(outputs)
