"""Guardrail rules for the bc-sales stacks, as plain functions.

The rules live here, free of any pulumi-policy import, so that unit tests (and anyone reading the
pack) can call them with ordinary Python values. ``policies.py`` adapts them to pulumi-policy's
``ResourceValidationPolicy`` objects; ``__main__.py`` serves those to the Pulumi CLI.

Every rule returns a list of violation messages: empty means compliant. Messages name the resource
property, the offending value and what would be accepted, because they are what a reviewer reads in
the preview output. Values that are not known yet during a preview (outputs of resources that do not
exist yet) arrive as :data:`UNKNOWN` and are skipped: the same policies run again during
``pulumi up`` with every value resolved.

The pack runs in its own virtualenv (``policy/venv``) where the project's ``infra`` package is not
installed, so the few Dataverse facts it needs are repeated here; the tests check them against
``infra/facts.py``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

# --- resource type tokens ----------------------------------------------------------------------

USER_ROLE_ASSIGNMENT_TYPE: Final = "pulumi-python:dynamic/dataverse:UserRoleAssignment"
#: The type UserRoleAssignment had before it was renamed; a pack must also judge stacks and programs
#: that still record it (the program's alias keeps old stacks on the old URN until their next up).
USER_ROLE_ASSIGNMENT_TYPES: Final = (USER_ROLE_ASSIGNMENT_TYPE, "pulumi-python:dynamic/dataverse:UserAccess")
APPLICATION_USER_TYPE: Final = "pulumi-python:dynamic/dataverse:ApplicationUser"
SECURITY_ROLE_TYPE: Final = "pulumi-python:dynamic/dataverse:SecurityRole"
SOLUTION_IMPORT_TYPE: Final = "pulumi-python:dynamic/dataverse:SolutionImport"
#: solutionSource business-central: nothing is imported, the installed solution is required.
SOLUTION_REQUIREMENT_TYPE: Final = "pulumi-python:dynamic/dataverse:SolutionRequirement"
APPLICATION_PASSWORD_TYPE: Final = "azuread:index/applicationPassword:ApplicationPassword"
SERVICE_PRINCIPAL_PASSWORD_TYPE: Final = "azuread:index/servicePrincipalPassword:ServicePrincipalPassword"
APPLICATION_TYPE: Final = "azuread:index/application:Application"

# --- Dataverse facts (mirrors of infra/facts.py; tests keep them in step) ----------------------

SYSTEM_ADMINISTRATOR_ROLE_NAME: Final = "System Administrator"
#: The System Administrator role *template* id: the same in every environment, unlike role ids.
SYSTEM_ADMINISTRATOR_TEMPLATE_ID: Final = "627090ff-40a3-4053-8790-584edc5be201"

#: Core Sales tables whose records a role must not delete organisation-wide, with the privilege
#: stem of each (``prvDelete<stem>``). Stems compare case-insensitively.
DEFAULT_CORE_TABLE_STEMS: Final[dict[str, str]] = {
    "account": "Account",
    "contact": "Contact",
    "lead": "Lead",
    "opportunity": "Opportunity",
    "salesorder": "Order",
    "invoice": "Invoice",
    "quote": "Quote",
    "product": "Product",
    "pricelevel": "PriceLevel",
    "systemuser": "User",
    "team": "Team",
    "businessunit": "BusinessUnit",
    "role": "Role",
    "transactioncurrency": "TransactionCurrency",
}

#: Depth names that mean "the whole organisation" (the Dataverse UI calls Global "Organization").
GLOBAL_DEPTHS: Final = frozenset({"global", "organization"})

DEFAULT_MAX_SECRET_LIFETIME_DAYS: Final = 180
DEFAULT_MANAGED_ONLY_STACKS: Final = ("prod",)

# Its own GUID pattern: the pack runs in its own virtualenv (policy/requirements.txt) without
# this project installed, so infra.model.terms.guid is not importable there.
_GUID_RE = re.compile(r"^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$")
_DURATION_PART_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|h|m|s)")
_DURATION_UNITS: Final[dict[str, float]] = {
    "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9,
}


class _Unknown:
    """Marker for a value Pulumi does not know yet (preview of a resource not created yet)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()


class GuardrailConfigError(ValueError):
    """Policy configuration that cannot be used; the message names the policy, key and value."""


# --- configuration -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AllowedGlobalDelete:
    """One allowlist entry: ``role`` may delete ``table`` at Global depth (``role`` ``*`` = any)."""

    role: str
    table: str

    def matches(self, role_name: str, table: str) -> bool:
        role_ok = self.role == "*" or _norm_name(self.role) == _norm_name(role_name)
        return role_ok and self.table.strip().lower() == table


@dataclass(frozen=True)
class GlobalDeleteConfig:
    """Configuration of :func:`global_delete_violations`."""

    core_tables: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CORE_TABLE_STEMS))
    allowlist: tuple[AllowedGlobalDelete, ...] = ()


def _expect(policy: str, key: str, value: Any, kind: type, allowed: str) -> Any:
    # bool is an int in Python; a JSON true must not pass for a number of days.
    wrong_bool = isinstance(value, bool) and kind is int
    if wrong_bool or not isinstance(value, kind):
        raise GuardrailConfigError(f"policy {policy}: config key {key!r} has value {value!r}; allowed: {allowed}")
    return value


def _string_list(policy: str, key: str, value: Any) -> tuple[str, ...]:
    _expect(policy, key, value, list, "a list of strings")
    for item in value:
        _expect(policy, key, item, str, "a list of strings")
    return tuple(value)


def max_secret_lifetime_days(config: Mapping[str, Any], policy: str = "client-secrets-expire") -> int:
    """``maxLifetimeDays`` from the policy config (default 180), validated."""
    value = config.get("maxLifetimeDays", DEFAULT_MAX_SECRET_LIFETIME_DAYS)
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON numbers may arrive as floats through protobuf Structs
    _expect(policy, "maxLifetimeDays", value, int, "a whole number of days from 1 to 3650")
    if not 1 <= value <= 3650:
        raise GuardrailConfigError(
            f"policy {policy}: config key 'maxLifetimeDays' has value {value!r}; allowed: 1 to 3650"
        )
    return int(value)


def managed_only_stacks(config: Mapping[str, Any], policy: str = "prod-imports-managed-solutions-only") -> tuple[str, ...]:
    """``managedOnlyStacks`` from the policy config (default ``["prod"]``)."""
    return _string_list(policy, "managedOnlyStacks", config.get("managedOnlyStacks", list(DEFAULT_MANAGED_ONLY_STACKS)))


def require_managed_everywhere(config: Mapping[str, Any], policy: str = "prod-imports-managed-solutions-only") -> bool:
    """``requireManaged``: when true, every stack must import managed solutions."""
    return bool(_expect(policy, "requireManaged", config.get("requireManaged", False), bool, "true or false"))


def forbidden_roles(config: Mapping[str, Any], policy: str = "integration-user-not-system-administrator") -> tuple[frozenset[str], frozenset[str]]:
    """(role ids, role names) the integration user must never hold.

    Always includes the System Administrator name and template id; ``systemAdministratorRoleIds``
    adds the environment-specific role ids (root and child business unit copies), and
    ``systemAdministratorRoleNames`` adds names (for example a localised display name).
    """
    ids = {SYSTEM_ADMINISTRATOR_TEMPLATE_ID}
    for raw in _string_list(policy, "systemAdministratorRoleIds", config.get("systemAdministratorRoleIds", [])):
        guid = _norm_guid(raw)
        if guid is None:
            raise GuardrailConfigError(
                f"policy {policy}: config key 'systemAdministratorRoleIds' has value {raw!r}; allowed: role ids (GUIDs)"
            )
        ids.add(guid)
    names = {_norm_name(SYSTEM_ADMINISTRATOR_ROLE_NAME)}
    names.update(_norm_name(n) for n in _string_list(policy, "systemAdministratorRoleNames", config.get("systemAdministratorRoleNames", [])))
    return frozenset(ids), frozenset(names)


def global_delete_config(config: Mapping[str, Any], policy: str = "no-global-delete-on-core-tables") -> GlobalDeleteConfig:
    """Core tables (``coreTables``, default :data:`DEFAULT_CORE_TABLE_STEMS`) and ``allowlist``."""
    tables: dict[str, str] = dict(DEFAULT_CORE_TABLE_STEMS)
    if "coreTables" in config:
        tables = {}
        for table in _string_list(policy, "coreTables", config["coreTables"]):
            key = table.strip().lower()
            tables[key] = DEFAULT_CORE_TABLE_STEMS.get(key, key)
    stems = config.get("privilegeStems", {})
    _expect(policy, "privilegeStems", stems, dict, "an object mapping table logical names to privilege stems")
    for table, stem in stems.items():
        _expect(policy, f"privilegeStems.{table}", stem, str, "a privilege stem such as 'Order'")
        if table.strip().lower() in tables:
            tables[table.strip().lower()] = stem
    entries = []
    raw_allow = config.get("allowlist", [])
    _expect(policy, "allowlist", raw_allow, list, 'a list of {"role": "<role name or *>", "table": "<logical name>"}')
    for index, item in enumerate(raw_allow):
        if not isinstance(item, dict) or not isinstance(item.get("role"), str) or not isinstance(item.get("table"), str):
            raise GuardrailConfigError(
                f"policy {policy}: config key 'allowlist[{index}]' has value {item!r}; "
                'allowed: {"role": "<role name or *>", "table": "<table logical name>"}'
            )
        entries.append(AllowedGlobalDelete(role=item["role"], table=item["table"]))
    return GlobalDeleteConfig(core_tables=tables, allowlist=tuple(entries))


# --- helpers -----------------------------------------------------------------------------------


def _norm_name(name: str) -> str:
    return " ".join(name.split()).casefold()


def _norm_guid(value: str) -> str | None:
    match = _GUID_RE.match(value.strip())
    return match.group(1).lower() if match else None


def stack_from_urn(urn: str) -> str | None:
    """The stack name in a resource URN (``urn:pulumi:<stack>::<project>::<type>::<name>``)."""
    if not urn.startswith("urn:pulumi:"):
        return None
    head = urn[len("urn:pulumi:"):].split("::", 1)[0]
    return head or None


def parse_go_duration(text: str) -> dt.timedelta:
    """Parse a Go-style duration such as ``4320h`` or ``2400h30m`` (the ``end_date_relative`` format)."""
    stripped = text.strip()
    pos, seconds = 0, 0.0
    for match in _DURATION_PART_RE.finditer(stripped):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if not stripped or pos != len(stripped):
        raise ValueError(f"{text!r} is not a duration like '4320h' or '2400h30m'")
    return dt.timedelta(seconds=seconds)


def parse_rfc3339(text: str) -> dt.datetime:
    """Parse an RFC 3339 timestamp (``2026-05-01T00:00:00Z``); naive values are taken as UTC."""
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


# --- rules -------------------------------------------------------------------------------------


def integration_role_violations(
    roles: Sequence[Any] | Any,
    *,
    forbidden_ids: Iterable[str] = (SYSTEM_ADMINISTRATOR_TEMPLATE_ID,),
    forbidden_names: Iterable[str] = (SYSTEM_ADMINISTRATOR_ROLE_NAME,),
) -> list[str]:
    """The integration user (or application user) must never hold System Administrator.

    ``roles`` is what UserRoleAssignment/ApplicationUser take: role ids (GUIDs, braces allowed) or role
    names. A role is forbidden when its id is the System Administrator template id or one of the
    configured System Administrator role ids, or its name equals a forbidden name ignoring case and
    repeated spaces.
    """
    if roles is UNKNOWN or roles is None:
        return []
    if isinstance(roles, str) or not isinstance(roles, Sequence):
        return [f"roles: expected a list of role ids or names, got {roles!r}"]
    ids = {(_norm_guid(i) or i.lower()) for i in forbidden_ids}
    names = {_norm_name(n) for n in forbidden_names}
    messages = []
    for index, role in enumerate(roles):
        if role is UNKNOWN or not isinstance(role, str):
            continue
        guid = _norm_guid(role)
        if (guid is not None and guid in ids) or (guid is None and _norm_name(role) in names):
            messages.append(
                f"roles[{index}] = {role!r} is the System Administrator role; the integration user must "
                "never hold it (Business Central refuses such a user). Grant Integration Administrator "
                "and Integration User instead."
            )
    return messages


def held_role_violations(held: Any, *, who: str = "the integration user") -> list[str]:
    """The roles a refresh found on the integration user (or application user) that it must never
    hold -- the ``forbidden_roles_held`` output of UserRoleAssignment / ApplicationUser, e.g.
    ``["System Administrator (627090ff-...)"]``.  Someone gave them by hand: the program's inputs
    never ask for them, so only the recorded outputs show it."""
    if held is UNKNOWN or held is None:
        return []
    if isinstance(held, str) or not isinstance(held, Sequence):
        return [f"forbidden_roles_held: expected a list of role names, got {held!r}"]
    return [
        f"forbidden_roles_held[{index}] = {role!r}: {who} holds the System Administrator role in the "
        "environment (found by pulumi refresh). Business Central refuses an administrator as integration "
        "user; remove the role from the user (Power Platform admin center > Environments > the environment "
        "> Settings > Users > the user > Manage security roles)."
        for index, role in enumerate(held) if isinstance(role, str) and role
    ]


def solution_import_violations(
    managed: Any,
    *,
    stack: str | None,
    managed_only: Iterable[str] = DEFAULT_MANAGED_ONLY_STACKS,
    require_managed: bool = False,
) -> list[str]:
    """Production (the stacks in ``managed_only``, or every stack when ``require_managed``) imports
    managed solutions only: an unmanaged import there lets anyone customise the integration's
    components in place, and it cannot be uninstalled cleanly."""
    applies = require_managed or (stack is not None and stack in set(managed_only))
    if not applies or managed is UNKNOWN:
        return []
    if managed is True:
        return []
    where = f"stack {stack!r}" if stack else "this stack"
    return [
        f"managed = {managed!r}: {where} may import managed solutions only; build or obtain the "
        "managed package (solution/ managed zip) for this environment."
    ]


def solution_requirement_violations(
    require_managed: Any,
    *,
    stack: str | None,
    managed_only: Iterable[str] = DEFAULT_MANAGED_ONLY_STACKS,
    require_managed_everywhere: bool = False,
) -> list[str]:
    """``solutionSource: business-central`` imports nothing, so the managed-only rule cannot look at
    an import: in the same stacks the requirement must refuse an unmanaged installed solution
    (``require_managed`` true, which the program sets from ``allowUnmanagedSolution: false``)."""
    applies = require_managed_everywhere or (stack is not None and stack in set(managed_only))
    if not applies or require_managed is UNKNOWN or require_managed is True:
        return []
    where = f"stack {stack!r}" if stack else "this stack"
    return [
        f"require_managed = {require_managed!r}: {where} may use managed solutions only, and with "
        "solutionSource business-central the installed solution is the one to check; set "
        "allowUnmanagedSolution: false in the stack config."
    ]


def secret_lifetime_violations(
    end_date: Any,
    end_date_relative: Any,
    *,
    now: dt.datetime,
    max_days: int = DEFAULT_MAX_SECRET_LIFETIME_DAYS,
) -> list[str]:
    """A client secret must expire within ``max_days`` of now.

    Either ``end_date`` (RFC 3339) or ``end_date_relative`` (Go duration) must be set: without
    them Entra ID gives the secret a two-year lifetime.
    """
    limit = dt.timedelta(days=max_days)
    if end_date is UNKNOWN or end_date_relative is UNKNOWN:
        return []
    if not end_date and not end_date_relative:
        return [
            f"neither end_date nor end_date_relative is set, so the secret would live for Entra ID's "
            f"default of two years; set an expiry at most {max_days} days ahead."
        ]
    messages = []
    if end_date:
        try:
            expires = parse_rfc3339(str(end_date))
        except ValueError:
            messages.append(f"end_date = {end_date!r} is not an RFC 3339 timestamp such as 2026-05-01T00:00:00Z.")
        else:
            if expires - now > limit:
                messages.append(
                    f"end_date = {end_date!r} is {(expires - now).days} days away; the limit is {max_days} days."
                )
    if end_date_relative:
        try:
            lifetime = parse_go_duration(str(end_date_relative))
        except ValueError as err:
            messages.append(f"end_date_relative: {err}.")
        else:
            if lifetime > limit:
                messages.append(
                    f"end_date_relative = {end_date_relative!r} is {lifetime.days} days; the limit is "
                    f"{max_days} days ({max_days * 24}h)."
                )
    return messages


def global_delete_violations(
    role_name: Any,
    privileges: Mapping[str, Any] | Any,
    *,
    config: GlobalDeleteConfig | None = None,
) -> list[str]:
    """No role may delete core Sales records organisation-wide unless the allowlist says so.

    ``privileges`` maps Dataverse privilege names to depths, as SecurityRole takes them
    (``{"prvDeleteAccount": "Global"}``). Names and depths compare case-insensitively.
    """
    cfg = config or GlobalDeleteConfig()
    if privileges is UNKNOWN or privileges is None:
        return []
    if not isinstance(privileges, Mapping):
        return [f"privileges: expected a mapping of privilege name to depth, got {privileges!r}"]
    name = role_name if isinstance(role_name, str) else ""
    by_privilege = {f"prvdelete{stem}".lower(): table for table, stem in cfg.core_tables.items()}
    messages = []
    for privilege, depth in privileges.items():
        table = by_privilege.get(str(privilege).lower())
        if table is None or depth is UNKNOWN or not isinstance(depth, str):
            continue
        if depth.strip().lower() not in GLOBAL_DEPTHS:
            continue
        if any(entry.matches(name, table) for entry in cfg.allowlist):
            continue
        messages.append(
            f"privileges.{privilege} = {depth!r}: role {name or '(unnamed)'!r} would delete every "
            f"{table} record in the organisation. Use a narrower depth (Basic, Local or Deep), or add "
            f'{{"role": "{name or "*"}", "table": "{table}"}} to the allowlist of policy '
            "no-global-delete-on-core-tables."
        )
    return messages
