"""The bc-sales-guardrails policies as pulumi-policy objects.

Each policy is a thin adapter: it turns the resource's inputs into plain Python values (with
:data:`guardrails.UNKNOWN` for values a preview does not know yet), reads its configuration, and
reports the messages of the matching rule in :mod:`guardrails`. Keeping the adapters this thin is
what lets the tests exercise the rules without the Pulumi CLI.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

import guardrails as g

PACK_NAME = "bc-sales-guardrails"

#: Tests replace this to pin "now" for the secret-lifetime rule.
clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)  # noqa: E731


def plain(value: Any) -> Any:
    """Copy pulumi-policy's unknown-checking proxies into plain dicts/lists.

    Accessing an unknown value through the proxy raises, which would abandon the whole policy for
    the resource; converting element by element keeps every known value checkable and marks the
    rest as :data:`guardrails.UNKNOWN`.
    """
    if isinstance(value, (str, bytes)) or value is None:
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in list(value.keys()):
            try:
                out[key] = plain(value[key])
            except UnknownValueError:
                out[key] = g.UNKNOWN
        return out
    if isinstance(value, Sequence):
        items = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(g.UNKNOWN)
        return items
    return value


def _props(args: ResourceValidationArgs) -> dict[str, Any]:
    return plain(args.props)


def _get(props: Mapping[str, Any], snake: str, camel: str | None = None, default: Any = None) -> Any:
    """Read an input by its Python name or its engine (camelCase) name."""
    if snake in props:
        return props[snake]
    if camel is not None and camel in props:
        return props[camel]
    return default


def _stack(args: ResourceValidationArgs) -> str | None:
    return g.stack_from_urn(args.urn) or os.environ.get("PULUMI_STACK") or None


# --- integration user never System Administrator -------------------------------------------------


def _validate_integration_roles(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in (*g.USER_ROLE_ASSIGNMENT_TYPES, g.APPLICATION_USER_TYPE):
        return
    config = args.get_config()
    props = _props(args)
    if args.resource_type in g.USER_ROLE_ASSIGNMENT_TYPES:
        if _get(props, "integration_user", "integrationUser", False) is not True:
            return
    elif not bool(config.get("includeApplicationUsers", True)):
        return
    ids, names = g.forbidden_roles(config)
    for message in g.integration_role_violations(_get(props, "roles", default=[]), forbidden_ids=ids, forbidden_names=names):
        report(message, args.urn)


integration_user_not_system_administrator = ResourceValidationPolicy(
    name="integration-user-not-system-administrator",
    description=(
        "The Business Central integration user (UserRoleAssignment with integration_user, and application "
        "users) never holds the System Administrator security role."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate_integration_roles,
    config_schema=PolicyConfigSchema(
        properties={
            "systemAdministratorRoleIds": {
                "type": "array",
                "items": {"type": "string"},
                "default": [],
                "description": "Role ids of System Administrator in this environment (root and child business units).",
            },
            "systemAdministratorRoleNames": {
                "type": "array",
                "items": {"type": "string"},
                "default": [],
                "description": "Extra names that mean System Administrator, e.g. a localised name.",
            },
            "includeApplicationUsers": {
                "type": "boolean",
                "default": True,
                "description": "Apply the rule to ApplicationUser resources (server-to-server integration) too.",
            },
        }
    ),
)


# --- ... nor holds it in the environment (stack rule: reads what refresh recorded) ----------------


def _validate_held_roles(args: StackValidationArgs, report: ReportViolation) -> None:
    config = args.get_config()
    include_app_users = bool(config.get("includeApplicationUsers", True))
    for resource in args.resources:
        if resource.resource_type in g.USER_ROLE_ASSIGNMENT_TYPES:
            who = "the integration user"
        elif resource.resource_type == g.APPLICATION_USER_TYPE and include_app_users:
            who = "the application user"
        else:
            continue
        props = plain(resource.props)
        if resource.resource_type in g.USER_ROLE_ASSIGNMENT_TYPES and \
                _get(props, "integration_user", "integrationUser", False) is not True:
            continue
        for message in g.held_role_violations(_get(props, "forbidden_roles_held", "forbiddenRolesHeld"), who=who):
            report(message, resource.urn)


integration_user_holds_no_system_administrator = StackValidationPolicy(
    name="integration-user-holds-no-system-administrator",
    description=(
        "The integration user (and application users) do not hold System Administrator in the environment: "
        "UserRoleAssignment / ApplicationUser outputs record what pulumi refresh found (forbidden_roles_held)."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate_held_roles,
    config_schema=PolicyConfigSchema(
        properties={
            "includeApplicationUsers": {
                "type": "boolean",
                "default": True,
                "description": "Apply the rule to ApplicationUser resources (server-to-server integration) too.",
            },
        }
    ),
)


# --- prod imports managed solutions only -------------------------------------------------------


def _validate_managed_import(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in (g.SOLUTION_IMPORT_TYPE, g.SOLUTION_REQUIREMENT_TYPE):
        return
    config = args.get_config()
    props = _props(args)
    if args.resource_type == g.SOLUTION_REQUIREMENT_TYPE:  # solutionSource business-central
        messages = g.solution_requirement_violations(
            _get(props, "require_managed", "requireManaged", default=False),
            stack=_stack(args),
            managed_only=g.managed_only_stacks(config),
            require_managed_everywhere=g.require_managed_everywhere(config),
        )
    else:
        messages = g.solution_import_violations(
            _get(props, "managed", default=None),
            stack=_stack(args),
            managed_only=g.managed_only_stacks(config),
            require_managed=g.require_managed_everywhere(config),
        )
    for message in messages:
        report(message, args.urn)


prod_imports_managed_solutions_only = ResourceValidationPolicy(
    name="prod-imports-managed-solutions-only",
    description="Production stacks use managed solutions only (SolutionImport.managed is true; with "
    "solutionSource business-central, SolutionRequirement.require_managed is true).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate_managed_import,
    config_schema=PolicyConfigSchema(
        properties={
            "managedOnlyStacks": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(g.DEFAULT_MANAGED_ONLY_STACKS),
                "description": "Stack names that may import managed solutions only.",
            },
            "requireManaged": {
                "type": "boolean",
                "default": False,
                "description": "Require managed solutions in every stack.",
            },
        }
    ),
)


# --- client secrets expire in time ----------------------------------------------------------------


def _validate_secret_lifetime(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = _props(args)
    if args.resource_type in (g.APPLICATION_PASSWORD_TYPE, g.SERVICE_PRINCIPAL_PASSWORD_TYPE):
        password: Any = props
    elif args.resource_type == g.APPLICATION_TYPE:
        password = props.get("password")  # the inline password block, when used
        if not password:
            return
        if password is g.UNKNOWN:
            return
    else:
        return
    max_days = g.max_secret_lifetime_days(args.get_config())
    messages = g.secret_lifetime_violations(
        _get(password, "end_date", "endDate"),
        _get(password, "end_date_relative", "endDateRelative"),
        now=clock(),
        max_days=max_days,
    )
    for message in messages:
        report(message, args.urn)


client_secrets_expire = ResourceValidationPolicy(
    name="client-secrets-expire",
    description="Client secrets (azuread ApplicationPassword and friends) expire within a configured number of days.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate_secret_lifetime,
    config_schema=PolicyConfigSchema(
        properties={
            "maxLifetimeDays": {
                "type": "integer",
                "minimum": 1,
                "maximum": 3650,
                "default": g.DEFAULT_MAX_SECRET_LIFETIME_DAYS,
                "description": "Longest allowed lifetime of a client secret, in days.",
            },
        }
    ),
)


# --- no Global Delete on core tables ----------------------------------------------------------


def _validate_global_delete(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != g.SECURITY_ROLE_TYPE:
        return
    props = _props(args)
    cfg = g.global_delete_config(args.get_config())
    for message in g.global_delete_violations(
        _get(props, "name", default=args.name), _get(props, "privileges", default={}), config=cfg
    ):
        report(message, args.urn)


no_global_delete_on_core_tables = ResourceValidationPolicy(
    name="no-global-delete-on-core-tables",
    description=(
        "No security role grants Delete at Global (organization) depth on core Sales tables "
        "unless the pair (role, table) is allowlisted."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate_global_delete,
    config_schema=PolicyConfigSchema(
        properties={
            "coreTables": {
                "type": "array",
                "items": {"type": "string"},
                "default": sorted(g.DEFAULT_CORE_TABLE_STEMS),
                "description": "Logical names of the tables the rule protects.",
            },
            "privilegeStems": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "default": {},
                "description": "Privilege stems for tables whose stem is not their schema name.",
            },
            "allowlist": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"role": {"type": "string"}, "table": {"type": "string"}},
                    "required": ["role", "table"],
                },
                "default": [],
                "description": 'Allowed pairs, e.g. {"role": "Data Steward", "table": "account"}; role "*" means any role.',
            },
        }
    ),
)


POLICIES: list[ResourceValidationPolicy] = [
    integration_user_not_system_administrator,
    prod_imports_managed_solutions_only,
    client_secrets_expire,
    no_global_delete_on_core_tables,
]

#: Rules over the whole stack's recorded outputs (what a refresh found in the environment).
STACK_POLICIES: list[StackValidationPolicy] = [
    integration_user_holds_no_system_administrator,
]

ALL_POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [*POLICIES, *STACK_POLICIES]
