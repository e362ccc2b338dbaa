"""The fewest Dataverse requests each operation needs, derived from the Web API contract.

Why a model and not our implementation: a benchmark that compares the providers with themselves
cannot show waste. Each figure below is what *any* client following
``shared/reference/dataverse-web-api.md`` must send; docs/benchmark.md explains every line.

Two numbers per operation:

* ``requests`` -- Dataverse requests (HTTP requests to ``/api/data/v9.2``; an operation inside a
  ``$batch`` would count as one, as the service-protection limits count it);
* ``round_trips`` -- how many of them must be sequential (a request that needs an earlier
  response, or must not be sent when an earlier response says so). This feeds the wall-time
  lower bound.

Shared per provider-host process (cached): caller identity and roles (the deployer check) and the root
business unit. They are charged to the DeployerCheck resource.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class OpCost:
    requests: int
    round_trips: int
    steps: tuple[str, ...] = field(default=())


#: Notice target of issue 7: the provider must see the end of an import within 1 s.
NOTICE_TARGET_S = 1.0
#: Entra round trips before the first Dataverse request of a process (msal without instance
#: discovery: GET openid-configuration, POST token). Not Dataverse requests; only in the bound.
TOKEN_ROUND_TRIPS = 2


def deployer_check_create() -> OpCost:
    """WhoAmI -> the caller's roles (needs UserId); root business unit in parallel."""
    return OpCost(3, 2, ("GET WhoAmI", "GET systemusers(<caller>)/systemuserroles_association",
                         "GET businessunits?$filter=parentbusinessunitid eq null (parallel)"))


def solution_create(import_seconds: float, *, managed: bool, installed_same: bool = False) -> OpCost:
    """find -> stage -> import -> polls -> find installed (+ publish when unmanaged).

    Polls: without an oracle for the import's length, a client that must notice the end within
    ``NOTICE_TARGET_S`` has to ask at least once per that interval: ceil(T / 1 s) polls.
    """
    if installed_same:
        return OpCost(1, 1, ("GET solutions?$filter=uniquename eq ... (same version: adopt)",))
    polls = max(1, math.ceil(import_seconds / NOTICE_TARGET_S))
    steps = ["GET solutions?$filter=uniquename eq ...", "POST StageSolution",
             "POST ImportSolutionAsync", f"GET asyncoperations(<id>) x{polls}",
             "GET solutions?$filter=uniquename eq ... (solution id, installed version)"]
    requests = 4 + polls
    if not managed:
        steps.append("POST PublishAllXml (parallel with the last find)")
        requests += 1
    return OpCost(requests, 5, tuple(steps))


def security_role_create(*, adopted: bool) -> OpCost:
    """(lookup by id or name || privilege catalog) -> [create] -> ReplacePrivilegesRole."""
    steps = ["GET roles?$filter=roleid eq <id> or (name eq '<n>' and _businessunitid_value eq <root>)",
             "GET privileges?$filter=Microsoft.Dynamics.CRM.In(...) (parallel)"]
    if not adopted:
        steps.append("POST roles (fixed roleid)")
    steps.append("POST roles(<id>)/Microsoft.Dynamics.CRM.ReplacePrivilegesRole")
    return OpCost(len(steps), 2 if adopted else 3, tuple(steps))


def user_access_create(n_roles: int, *, patch_user: bool, child_business_unit: bool = False,
                       batch: bool = False) -> OpCost:
    """find user with its roles ($expand) -> associate each role (+ PATCH access mode) in parallel.

    ``batch``: the grants and the PATCH travel in one ``$batch`` change set (one HTTP request).
    """
    if batch:
        writes = n_roles + (1 if patch_user else 0)
        steps = ("GET systemusers?$filter=azureactivedirectoryobjectid eq <oid>&$expand=systemuserroles_association",
                 f"POST $batch ({writes} operations: $ref grants" + (" + PATCH" if patch_user else "") + ")")
        extra = 1 if child_business_unit else 0
        if writes == 0:
            return OpCost(1 + extra, 1 + extra, steps[:1])
        return OpCost(2 + extra, 2 + extra, steps)
    steps = ["GET systemusers?$filter=azureactivedirectoryobjectid eq <oid>"
             "&$expand=systemuserroles_association($select=roleid)"]
    rts = 2
    if child_business_unit:
        steps.append("GET roles?$filter=_parentrootroleid_value ... and _businessunitid_value eq <bu>")
        rts += 1
    steps += [f"POST systemusers(<id>)/systemuserroles_association/$ref x{n_roles}"]
    requests = len(steps) - 1 + n_roles
    if patch_user:
        steps.append("PATCH systemusers(<id>) {accessmode: 4, isintegrationuser: true} (parallel)")
        requests += 1
    return OpCost(requests, rts if n_roles or patch_user else 1, tuple(steps))


def application_user_create(n_roles: int, *, exists: bool = False, batch: bool = False) -> OpCost:
    """find by application id -> create -> associate each role in parallel.

    ``batch``: create (with a client-chosen systemuserid) and grants in one ``$batch`` change set.
    """
    if batch:
        return OpCost(2, 2, ("GET systemusers?$filter=applicationid eq <app>&$expand=systemuserroles_association",
                             f"POST $batch (create with a chosen systemuserid + {n_roles} $ref grants)"))
    steps = ["GET systemusers?$filter=applicationid eq <app>&$expand=systemuserroles_association"]
    if not exists:
        steps.append("POST systemusers {applicationid, accessmode: 4, businessunitid@odata.bind}")
    steps.append(f"POST systemusers(<id>)/systemuserroles_association/$ref x{n_roles}")
    return OpCost(len(steps) - 1 + n_roles, len(steps) if n_roles else len(steps) - 1, tuple(steps))


def read_cost(kind: str) -> OpCost:
    """Minimal refresh (Read) per resource kind that still detects the drift issue 4 asks for."""
    table = {
        "DeployerCheck": OpCost(0, 0, ("nothing to read: the check's outputs are re-derived on up",)),
        "SolutionImport": OpCost(1, 1, ("GET solutions?$filter=uniquename eq ...",)),
        "SecurityRole": OpCost(1, 1, ("$batch: GET roles(<id>) (name, business unit, managed) + "
                                      "GET RetrieveRolePrivilegesRole(RoleId=<id>); 2 without $batch",)),
        "UserRoleAssignment": OpCost(1, 1, ("GET systemusers(<id>)?$expand=systemuserroles_association",)),
        "ApplicationUser": OpCost(1, 1, ("GET systemusers(<id>)?$expand=systemuserroles_association",)),
    }
    return table[kind]


def critical_path_seconds(chain_round_trips: int, latency_s: float, import_seconds: float) -> float:
    """Issue 7's lower bound: unavoidable sequential round trips on the longest chain + import."""
    return chain_round_trips * latency_s + import_seconds


def capacity_round_trips(levels: list[list[int]], slots: int = 4) -> int:
    """Round trips when each level of the graph must also share ``slots`` operations at a time.

    ``levels`` lists, per dependency level, the sequential round trips of each operation. A level
    takes at least its longest operation and at least (sum of its round trips / slots).
    """
    return sum(max(max(level), math.ceil(sum(level) / slots)) for level in levels if level)
