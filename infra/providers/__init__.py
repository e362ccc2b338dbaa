"""Pulumi dynamic providers for Dataverse (Sales) -- and one for Entra (UsageLocation): how each
resource is reconciled.

One module per resource keeps its provider class, Args and Resource (``deployer_check``,
``security_role``, ``solution_import``, ``solution_requirement``, ``user_role_assignment``,
``application_user``, ``usage_location``); stacks' state names the provider classes by these
module paths, so moving one breaks refresh and destroy of existing stacks.  ``preflight`` and
``user_access`` are where two of them lived before they were renamed (issue 14): kept only so the
pickles in older state still load.  Beside them: ``base`` (check/diff for all), ``runtime`` (clients,
progress, failures at operation time), ``deployer`` and ``administration_mode`` (what the DeployerCheck
checks), ``privileges``, ``role_reconcile``, ``role_lookup``, ``role_assignment`` and
``solution_install`` (the reconcile steps).

Import the resource classes from here or from their modules; the provider classes live in this
installed package so dill pickles them by reference into the state (no bytecode, no secrets).
"""

from infra.providers.application_user import ApplicationUser, ApplicationUserArgs
from infra.providers.deployer_check import DeployerCheck, DeployerCheckArgs
from infra.providers.security_role import SecurityRole, SecurityRoleArgs
from infra.providers.solution_import import SolutionImport, SolutionImportArgs
from infra.providers.solution_requirement import SolutionRequirement, SolutionRequirementArgs
from infra.providers.usage_location import UsageLocation, UsageLocationArgs
from infra.providers.user_role_assignment import UserRoleAssignment, UserRoleAssignmentArgs

__all__ = ["ApplicationUser", "ApplicationUserArgs", "DeployerCheck", "DeployerCheckArgs", "SecurityRole",
           "SecurityRoleArgs", "SolutionImport", "SolutionImportArgs", "SolutionRequirement",
           "SolutionRequirementArgs", "UsageLocation", "UsageLocationArgs", "UserRoleAssignment", "UserRoleAssignmentArgs"]
