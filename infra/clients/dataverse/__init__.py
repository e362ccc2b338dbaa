"""Typed Dataverse Web API (v9.2) client: the operations the providers need, nothing generic.

Modules, modelled on the Power Platform Terraform provider's split of a service (a thin API
client, its DTOs apart):

* :mod:`.dto` -- the wire shapes (WhoAmI, SystemUser, Role, Privilege, Solution, AsyncOperation,
  ...) and their JSON mapping;
* :mod:`.core` -- the transport: OData headers, paging, ``$batch``;
* :mod:`.users`, :mod:`.roles`, :mod:`.solutions` -- one topic each; :mod:`.staging` streams the
  StageSolution body;
* :mod:`.operations` -- the async-operation lifecycle: status codes, poll policy, waiting;
* :mod:`.client` -- :class:`DataverseClient`, joining the topics; :mod:`.api` -- the
  :class:`DataverseApi` Protocol providers are typed with (and test fakes implement).
"""

from infra.clients.dataverse.api import DataverseApi
from infra.clients.dataverse.client import DataverseClient
from infra.clients.dataverse.dto import (
    AsyncJob,
    AsyncOperation,
    BusinessUnit,
    ImportJob,
    ImportResult,
    Privilege,
    Role,
    RolePrivilege,
    Solution,
    StageResult,
    SystemUser,
    WhoAmI,
    wire_depth,
)
from infra.clients.dataverse.operations import AsyncOperationState, AsyncOperationStatus
from infra.clients.dataverse.solutions import SOLUTION_OPERATION_TYPES
from infra.clients.dataverse.staging import stage_body_length, stage_solution_body

__all__ = [
    "DataverseClient",
    "DataverseApi",
    "WhoAmI",
    "BusinessUnit",
    "SystemUser",
    "Role",
    "Privilege",
    "RolePrivilege",
    "Solution",
    "StageResult",
    "AsyncJob",
    "AsyncOperation",
    "AsyncOperationState",
    "AsyncOperationStatus",
    "ImportResult",
    "ImportJob",
    "SOLUTION_OPERATION_TYPES",
    "stage_solution_body",
    "stage_body_length",
    "wire_depth",
]
