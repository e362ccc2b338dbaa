"""Pulumi dynamic providers for Dataverse (Sales) -- and one for Entra (UsageLocation): how each
resource is reconciled.

Import the resource classes from here or from their modules; the provider classes live in this
installed package so dill pickles them by reference into the state (no bytecode, no secrets).
"""

from infra.providers.application_user import ApplicationUser, ApplicationUserArgs
from infra.providers.preflight import Preflight, PreflightArgs
from infra.providers.security_role import SecurityRole, SecurityRoleArgs
from infra.providers.solution_import import SolutionImport, SolutionImportArgs
from infra.providers.solution_requirement import SolutionRequirement, SolutionRequirementArgs
from infra.providers.usage_location import UsageLocation, UsageLocationArgs
from infra.providers.user_access import UserAccess, UserAccessArgs

__all__ = ["ApplicationUser", "ApplicationUserArgs", "Preflight", "PreflightArgs", "SecurityRole",
           "SecurityRoleArgs", "SolutionImport", "SolutionImportArgs", "SolutionRequirement",
           "SolutionRequirementArgs", "UsageLocation", "UsageLocationArgs", "UserAccess", "UserAccessArgs"]
