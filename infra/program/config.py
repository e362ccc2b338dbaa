"""Stack configuration: one typed model, loaded and checked before any resource is registered.

Why a model of its own: a Dynamics administrator reviews ``Pulumi.<stack>.yaml`` in a pull request,
so every key has one documented meaning, one default (the same as in ``Pulumi.yaml``), and a
mistake is reported *all at once*, one line per problem (key, value, what is allowed), before the
program touches Entra or Dataverse.  :class:`ConfigError` carries those lines; the program raises
it as :class:`pulumi.RunError`, which the Pulumi language host prints without a traceback.

Values reach the program as strings (objects and lists as JSON text) -- exactly how the CLI passes
them -- so :func:`load_settings` works on any ``key -> str`` lookup and the tests need no runtime.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from infra import facts

__all__ = [
    "PROJECT",
    "PROJECT_ROOT",
    "ConfigError",
    "IntegrationUserSettings",
    "Salesperson",
    "StackSettings",
    "ENDPOINT_ENV_VARS",
    "config_keys",
    "load_settings",
    "load_from_pulumi",
    "resolve_sku_id",
]

#: The Pulumi project name: config keys are ``bc-sales:<key>``.
PROJECT = "bc-sales"
#: The folder holding ``Pulumi.yaml``; relative paths in config are relative to it (the CLI runs
#: the program with ``infra/`` as working directory, so the cwd is not a usable base).
PROJECT_ROOT = Path(__file__).resolve().parents[2]

#: Environment variables that replace the endpoint keys when ``endpointsFromEnvironment`` is true
#: (the local stack: the emulator listens on a new port each start; scripts/local-up.sh sets them).
ENDPOINT_ENV_VARS: dict[str, str] = {
    "environmentUrl": "BC_SALES_ENVIRONMENT_URL",
    "authorityHost": "BC_SALES_AUTHORITY_HOST",
    "graphUrl": "BC_SALES_GRAPH_URL",
    "caBundle": "BC_SALES_CA_BUNDLE",
    "powerPlatformUrl": "BC_SALES_POWER_PLATFORM_URL",
}

_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_UPN_RE = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_SKU_RE = re.compile(r"^[A-Z0-9][A-Z0-9_]*$")
_REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_GH_NAME_RE = re.compile(r"^[A-Za-z0-9_./-]+$")


def _fail(message: str) -> PydanticCustomError:
    return PydanticCustomError("bc_sales", message)


# --- value checks (Annotated validators, so each field can be validated on its own) -------------


def _guid(value: str) -> str:
    value = value.strip()
    if not _GUID_RE.match(value):
        raise _fail("expected a GUID such as 00000000-0000-0000-0000-000000000000")
    return value.lower()


def _https_url(value: str) -> str:
    from urllib.parse import urlsplit

    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise _fail("expected an absolute https:// URL (plain http and other schemes are refused)")
    if parts.query or parts.fragment:
        raise _fail("expected a URL without ?query or #fragment")
    return value


def _environment_url(value: str) -> str:
    from urllib.parse import urlsplit

    value = _https_url(value)
    if urlsplit(value).path not in ("", "/"):
        raise _fail("expected the environment's base URL without a path, e.g. https://contoso.crm.dynamics.com")
    return value


def _authority_host(value: str) -> str:
    key = value.strip().lower()
    if key in facts.AUTHORITY_HOSTS:
        return facts.AUTHORITY_HOSTS[key]
    try:
        return _https_url(value)
    except PydanticCustomError:
        raise _fail(
            "expected one of " + ", ".join(facts.AUTHORITY_HOSTS) + " or an https:// URL of the sign-in host"
        ) from None


def _upn(value: str) -> str:
    value = value.strip()
    if not _UPN_RE.match(value):
        raise _fail("expected a user principal name such as someone@contoso.onmicrosoft.com")
    return value


def _country(value: str) -> str:
    value = value.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", value):
        raise _fail("expected a two-letter ISO 3166 country code such as US, GB, DE")
    if value not in facts.ISO_3166_ALPHA2:
        hint = " (the United Kingdom is GB)" if value == "UK" else ""
        raise _fail(f"{value} is not an ISO 3166-1 alpha-2 country code{hint}; expected one such as US, GB, DE")
    return value


def _sku(value: str) -> str:
    value = value.strip()
    if not _SKU_RE.match(value):
        raise _fail("expected a licence SKU part number such as DYN365_ENTERPRISE_SALES (capitals, digits, _)")
    return value


def _salesperson_code(value: str) -> str:
    value = value.strip().upper()
    if not value or len(value) > 20:
        raise _fail("expected Business Central's salesperson code (1-20 characters, e.g. JR); "
                    "Business Central stores codes in capitals")
    return value


def _solution_version(value: str) -> str:
    value = value.strip()
    if value and not re.fullmatch(r"\d{1,10}(\.\d{1,10}){1,3}", value):
        raise _fail("expected a solution version such as 9.0.0.0 (major.minor[.build[.revision]], digits only) "
                    "or empty for any version")
    return value


def _non_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise _fail("must not be empty")
    return value


def _repository(value: str) -> str:
    value = value.strip()
    if not _REPO_RE.match(value):
        raise _fail("expected owner/repository, e.g. contoso/bc-sales")
    return value


def _gh_names(values: list[str]) -> list[str]:
    for v in values:
        if not _GH_NAME_RE.match(v):
            raise _fail(f"{v!r} is not a GitHub environment or branch name (letters, digits, . _ - /)")
    if len(set(values)) != len(values):
        raise _fail("lists a name twice")
    return values


Guid = Annotated[str, AfterValidator(_guid)]
Upn = Annotated[str, AfterValidator(_upn)]
SkuPartNumber = Annotated[str, AfterValidator(_sku)]
NonBlank = Annotated[str, AfterValidator(_non_blank)]


class _Model(BaseModel):
    """Nested config objects: camelCase keys as written in YAML, unknown keys refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class IntegrationUserSettings(_Model):
    """The dedicated account Business Central connects and synchronises with."""

    user_principal_name: Upn = Field(description="sign-in name of the integration user")
    display_name: NonBlank = Field(default="Business Central integration", description="display name in Entra")
    usage_location: Annotated[str, AfterValidator(_country)] = Field(
        description="two-letter ISO 3166 country code; Graph refuses licences without it"
    )
    license_sku: SkuPartNumber = Field(
        default="DYN365_ENTERPRISE_SALES", description="licence SKU part number assigned to the user"
    )
    object_id: Guid | None = Field(default=None, description="Entra object id (identityMode existing only)")


class Salesperson(_Model):
    """A Business Central user who works in Sales: licence plus Sales roles."""

    user_principal_name: Upn = Field(description="sign-in name")
    license_sku: SkuPartNumber | None = Field(
        default="DYN365_ENTERPRISE_SALES",
        description="licence SKU part number; null when licences come from a group",
    )
    roles: list[NonBlank] = Field(default_factory=lambda: ["Salesperson"], description="Sales security role names")
    object_id: Guid | None = Field(default=None, description="Entra object id (required in identityMode existing)")
    salesperson_code: Annotated[str, AfterValidator(_salesperson_code)] | None = Field(
        default=None,
        description="Business Central salesperson code this user is coupled to (connectionSetup output)",
    )
    usage_location: Annotated[str, AfterValidator(_country)] | None = Field(
        default=None,
        description="two-letter ISO 3166-1 country code set on the user before its licence (identityMode create); "
                    "Graph refuses a licence for a user without one",
    )


def _salespeople(values: list[Salesperson]) -> list[Salesperson]:
    seen: set[str] = set()
    codes: dict[str, str] = {}
    for person in values:
        key = person.user_principal_name.lower()
        if key in seen:
            raise _fail(f"{person.user_principal_name} is listed twice")
        seen.add(key)
        code = person.salesperson_code
        if code is not None:
            if code in codes:
                raise _fail(f"salespersonCode {code} is given to both {codes[code]} and {person.user_principal_name}; "
                            "Business Central couples one salesperson to one Sales user")
            codes[code] = person.user_principal_name
    return values


def _sku_ids(values: dict[str, str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for part, sku_id in values.items():
        try:
            result[_sku(part)] = _guid(sku_id)
        except PydanticCustomError as exc:
            raise _fail(f"{part}: {exc.message()}") from None
    return result


class StackSettings(BaseModel):
    """Everything one stack needs; field aliases are the ``bc-sales:`` config keys.

    ``Pulumi.yaml`` declares the same keys with the same defaults (a test keeps them in step).
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    # --- where -----------------------------------------------------------------------------
    tenant_id: Guid = Field(description="Entra tenant id (GUID) of the Dynamics 365 environment")
    environment_url: Annotated[str, AfterValidator(_environment_url)] = Field(
        description="Dataverse environment URL, https only, e.g. https://contoso.crm.dynamics.com"
    )
    authority_host: Annotated[str, AfterValidator(_authority_host)] = Field(
        default="public", description="sign-in host: public, usgov, china or an https:// URL"
    )
    graph_url: Annotated[str, AfterValidator(_https_url)] = Field(
        default="https://graph.microsoft.com", description="Microsoft Graph base URL (licence seat preflight)"
    )
    ca_bundle: str | None = Field(
        default="", description="PEM file of extra CAs to trust (local emulator only); empty for none"
    )
    power_platform_url: Annotated[str, AfterValidator(_https_url)] | None = Field(
        default="",
        description="Power Platform admin API URL (the preflight reads administration mode there); empty for "
                    "https://api.bap.microsoft.com",
    )
    endpoints_from_environment: bool = Field(
        default=False,
        description="read environmentUrl/authorityHost/graphUrl/caBundle/powerPlatformUrl from BC_SALES_* variables "
                    "(local stack)",
    )
    # --- identity --------------------------------------------------------------------------
    identity_mode: Literal["create", "existing"] = Field(
        default="create", description="create: manage the Entra side here; existing: take object ids from config"
    )
    integration_user: IntegrationUserSettings = Field(description="the integration user (object)")
    salespeople: Annotated[list[Salesperson], AfterValidator(_salespeople)] = Field(
        default_factory=list, description="salespeople: licence and Sales roles (list of objects)"
    )
    sku_ids: Annotated[dict[str, str], AfterValidator(_sku_ids)] = Field(
        default_factory=dict, description="licence SKU part number -> skuId overrides/additions (object)"
    )
    seat_check: Literal["auto", "required", "off"] = Field(
        default="auto",
        description="licence seat preflight against Graph: auto (when credentials are present), required, off",
    )
    license_assignment: Literal["direct", "group"] = Field(
        default="direct",
        description="how users get their licence: direct (assigned to each user) or group (membership of licensingGroupId)",
    )
    licensing_group_id: Guid | None = Field(
        default="", description="object id of the Entra security group that licenses its members (licenseAssignment group)"
    )
    application_display_name: NonBlank = Field(
        default="Business Central - Dynamics 365 Sales", description="display name of the app registration"
    )
    application_client_id: Guid | None = Field(
        default="", description="client id of an existing app registration (identityMode existing); empty otherwise"
    )
    application_client_secret: str = Field(
        default="", repr=False,
        description="client secret of the existing app registration, relayed to connectionSetup (identityMode "
                    "existing); set it with pulumi config set --secret, never in plain text",
    )
    application_user: bool = Field(
        default=True, description="create the Dataverse application user for server-to-server connections"
    )
    client_secret: bool = Field(default=False, description="create a client secret on the app registration")
    client_secret_rotation_days: int = Field(
        default=180, ge=7, le=730, description="days between client secret rotations (7-730)"
    )
    github_repository: Annotated[str, AfterValidator(_repository)] | None = Field(
        default="", description="owner/repo trusted through federated credentials; empty for none"
    )
    github_environments: Annotated[list[str], AfterValidator(_gh_names)] = Field(
        default_factory=list, description="GitHub environments given a federated credential"
    )
    github_branches: Annotated[list[str], AfterValidator(_gh_names)] = Field(
        default_factory=list, description="GitHub branches given a federated credential"
    )
    # --- solution --------------------------------------------------------------------------
    solution_source: Literal["package", "business-central"] = Field(
        default="package",
        description="package: import solutionPath; business-central: Business Central imports the solution, "
        "the stack only requires it installed",
    )
    solution_path: str | None = Field(
        default="",
        description="solution package: a .zip or an unpacked folder, relative to the project root "
        "(required with solutionSource package)",
    )
    solution_minimum_version: Annotated[str, AfterValidator(_solution_version)] | None = Field(
        default="",
        description="solutionSource business-central: lowest installed version accepted; empty for any",
    )
    allow_unmanaged_solution: bool = Field(
        default=True, description="accept an unmanaged package (set false in production)"
    )
    solution_overwrite_unmanaged: bool = Field(
        default=True, description="overwrite unmanaged customisations on import"
    )
    solution_publish_workflows: bool = Field(default=True, description="activate workflows after import")
    solution_uninstall_on_delete: bool = Field(
        default=False, description="uninstall the solution on pulumi destroy"
    )
    solution_import_timeout_seconds: int = Field(
        default=3600, ge=60, le=86400, description="give up waiting for an import after this many seconds"
    )
    # --- delete policies -------------------------------------------------------------------
    delete_roles_on_destroy: bool = Field(
        default=False, description="delete unmanaged security roles on destroy (managed roles are never deleted)"
    )
    delete_application_user_on_destroy: bool = Field(
        default=False, description="on destroy, remove its roles from the application user this stack created and disable it (Dataverse keeps application users); else leave it in place"
    )
    protect_identity: bool = Field(
        default=False, description="protect the Entra user and app registration from pulumi destroy"
    )
    retain_identity_on_delete: bool = Field(
        default=False, description="leave the Entra user and app registration in place when removed from the stack"
    )

    # --- derived ---------------------------------------------------------------------------
    @property
    def solution_file(self) -> Path | None:
        """The package to import; ``None`` with solutionSource business-central."""
        if self.solution_source != "package" or not self.solution_path:
            return None
        path = Path(self.solution_path)
        return path if path.is_absolute() else PROJECT_ROOT / path

    @property
    def ci_subjects(self) -> list[tuple[str, str]]:
        """(credential name, subject) for every GitHub environment and branch."""
        if not self.github_repository:
            return []
        repo = self.github_repository
        subjects = [(f"env-{e}", f"repo:{repo}:environment:{e}") for e in self.github_environments]
        subjects += [(f"branch-{b}", f"repo:{repo}:ref:refs/heads/{b}") for b in self.github_branches]
        return subjects

    def sku_table(self) -> dict[str, str]:
        return {**facts.SKU_IDS, **self.sku_ids}


def resolve_sku_id(part_number: str, table: Mapping[str, str]) -> str | None:
    return table.get(part_number)


# --- key metadata --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigKey:
    """One ``bc-sales:`` key as Pulumi.yaml declares it."""

    name: str
    field: str
    pulumi_type: str | None  # string | integer | boolean | array (items string) | None (object values)
    required: bool
    default: Any
    description: str

    @property
    def structured(self) -> bool:
        return self.pulumi_type in (None, "array")


def _pulumi_type(annotation: Any) -> str | None:
    """The Pulumi.yaml ``type`` of a field; ``None`` for objects (Pulumi.yaml cannot type them)."""
    options = [a for a in get_args(annotation) if a is not type(None)] if get_origin(annotation) in (
        Union, UnionType) else [annotation]
    base = options[0]
    if get_origin(base) is Annotated:
        base = get_args(base)[0]
    if base is bool:
        return "boolean"
    if base is int:
        return "integer"
    if base is str or get_origin(base) is Literal:
        return "string"
    if get_origin(base) is list and get_args(base) in ((str,),):
        return "array"
    return None


def config_keys() -> list[ConfigKey]:
    """Every key of the project, in declaration order (also drives the README table)."""
    keys: list[ConfigKey] = []
    for name, info in StackSettings.model_fields.items():
        required = info.is_required()
        if required:
            default: Any = None
        elif info.default_factory is not None:
            default = info.default_factory()  # type: ignore[call-arg]
        else:
            default = info.default
        keys.append(ConfigKey(
            name=info.alias or name,
            field=name,
            pulumi_type=_pulumi_type(info.annotation),
            required=required,
            default=default,
            description=info.description or "",
        ))
    return keys


_ADAPTERS: dict[str, TypeAdapter[Any]] = {}


def _adapter(field: str) -> TypeAdapter[Any]:
    if field not in _ADAPTERS:
        info = StackSettings.model_fields[field]
        annotation: Any = info.annotation
        if info.metadata:
            annotation = Annotated[(annotation, *info.metadata)]  # type: ignore[valid-type]
        _ADAPTERS[field] = TypeAdapter(annotation)
    return _ADAPTERS[field]


# --- errors --------------------------------------------------------------------------------------


class ConfigError(Exception):
    """Bad stack configuration: one line per problem."""

    def __init__(self, problems: Iterable[str], stack: str | None = None) -> None:
        self.problems = list(problems)
        self.stack = stack
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"stack {self.stack!r}" if self.stack else "the stack"
        count = len(self.problems)
        head = f"{count} configuration problem{'s' if count != 1 else ''} in {where} (nothing was changed):"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _path(key: str, loc: Iterable[Any]) -> str:
    out = f"{PROJECT}:{key}"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


_FRIENDLY: dict[str, str] = {
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "string_type": "expected a text value",
    "list_type": "expected a list",
    "dict_type": "expected a mapping of key: value",
    "model_type": "expected a mapping of key: value",
    "model_attributes_type": "expected a mapping of key: value",
}


#: Config keys whose values are (lists of) nested objects -> the model of one object.
_NESTED: dict[str, type[BaseModel]] = {"integrationUser": IntegrationUserSettings, "salespeople": Salesperson}


def _allowed_fields(key: str) -> list[str]:
    target = _NESTED.get(key)
    return [f.alias or n for n, f in target.model_fields.items()] if target else []


def _nested_description(key: str, loc: tuple[Any, ...]) -> str:
    target = _NESTED.get(key)
    if target is None or not loc:
        return ""
    for field_name, info in target.model_fields.items():
        if (info.alias or field_name) == str(loc[-1]):
            return info.description or ""
    return ""


def _field_of(key: str) -> str:
    for k in config_keys():
        if k.name == key:
            return k.field
    raise KeyError(key)


def _translate(key: str, exc: PydanticValidationError) -> list[str]:
    problems: list[str] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path = _path(key, loc)
        kind = err["type"]
        if kind == "missing":
            about = _nested_description(key, loc)
            problems.append(f"{path}: required, but not set" + (f" ({about})" if about else ""))
            continue
        if kind == "extra_forbidden":
            allowed = _allowed_fields(key)
            name = str(loc[-1]) if loc else key
            hint = difflib.get_close_matches(name, allowed, n=1)
            did_you_mean = f" (did you mean {hint[0]}?)" if hint else ""
            problems.append(f"{path}: unknown key{did_you_mean}; allowed: {', '.join(allowed)}")
            continue
        msg = _FRIENDLY.get(kind, err["msg"])
        problems.append(f"{path} = {_show(err.get('input'))}: {msg}")
    return problems


# --- loading -------------------------------------------------------------------------------------

Lookup = Callable[[str], Any]


def _decode(key: ConfigKey, raw: Any) -> tuple[Any, str | None]:
    """CLI values are strings; objects and lists arrive as JSON text."""
    if key.structured and isinstance(raw, str):
        try:
            return json.loads(raw), None
        except json.JSONDecodeError:
            kind = "a list" if key.pulumi_type == "array" or key.name == "salespeople" else "an object"
            return None, f"{PROJECT}:{key.name} = {_show(raw)}: expected {kind} (YAML mapping/list in the stack file)"
    if not key.structured and isinstance(raw, str) and raw == "" and key.default in ("", None):
        return None, None
    return raw, None


def load_settings(
    lookup: Lookup,
    *,
    all_keys: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    stack: str | None = None,
    check_files: bool = True,
    require_endpoint_env: bool = True,
) -> StackSettings:
    """Validate the stack's ``bc-sales:`` keys; raise :class:`ConfigError` listing every problem.

    ``lookup(key)`` returns the raw value of ``bc-sales:<key>`` or ``None``; ``all_keys`` are the
    full config keys present (to report unknown keys, typos included); ``env`` supplies the
    endpoint overrides of the local stack; ``require_endpoint_env=False`` (offline validation)
    accepts the stack file's own endpoint values when those variables are not set.
    """
    env = os.environ if env is None else env
    keys = config_keys()
    known = {k.name for k in keys}
    problems: list[str] = []
    for full in sorted(all_keys):
        ns, _, name = full.partition(":")
        if ns == PROJECT and name not in known:
            hint = difflib.get_close_matches(name, sorted(known), n=1)
            problems.append(
                f"{full}: unknown key" + (f" (did you mean {PROJECT}:{hint[0]}?)" if hint else "")
                + "; see the config reference in README.md"
            )

    raw_values: dict[str, Any] = {k.name: lookup(k.name) for k in keys}
    from_env = _truthy(raw_values.get("endpointsFromEnvironment"))
    if from_env:
        for name, var in ENDPOINT_ENV_VARS.items():
            if env.get(var):
                raw_values[name] = env[var]
            elif name == "environmentUrl" and require_endpoint_env:
                problems.append(
                    f"{PROJECT}:endpointsFromEnvironment is true but {var} is not set: start the emulator with "
                    "scripts/local-up.sh (it sets the BC_SALES_* variables) or set it yourself"
                )

    values: dict[str, Any] = {}
    for key in keys:
        raw = raw_values[key.name]
        if raw is None:
            if key.required:
                problems.append(f"{PROJECT}:{key.name}: required, but not set ({key.description})")
            continue
        decoded, problem = _decode(key, raw)
        if problem:
            problems.append(problem)
            continue
        if decoded is None:
            continue
        try:
            values[key.field] = _adapter(key.field).validate_python(decoded)
        except PydanticValidationError as exc:
            problems.extend(_translate(key.name, exc))

    problems.extend(_cross_checks(values, keys, check_files=check_files))
    if problems:
        raise ConfigError(problems, stack)
    return StackSettings.model_validate(values)


def _truthy(raw: Any) -> bool:
    return str(raw).strip().lower() in ("true", "1", "yes") if raw is not None else False


def _cross_checks(values: Mapping[str, Any], keys: list[ConfigKey], *, check_files: bool) -> list[str]:
    """Rules that involve more than one key; each runs only when the keys it reads are valid."""
    defaults = {k.field: k.default for k in keys if not k.required}
    have = lambda *names: all(n in values or n in defaults for n in names)  # noqa: E731
    get = lambda n: values.get(n, defaults.get(n))  # noqa: E731
    problems: list[str] = []

    if have("identity_mode") and "integration_user" in values and get("identity_mode") == "existing":
        if values["integration_user"].object_id is None:
            problems.append(
                f"{PROJECT}:integrationUser.objectId: required when identityMode is existing "
                "(the Entra object id of the integration user)"
            )
    if have("identity_mode") and "salespeople" in values and get("identity_mode") == "existing":
        for i, person in enumerate(values["salespeople"]):
            if person.object_id is None:
                problems.append(
                    f"{PROJECT}:salespeople[{i}].objectId: required when identityMode is existing "
                    f"({person.user_principal_name})"
                )
    if have("identity_mode", "application_user", "application_client_id"):
        if get("identity_mode") == "existing" and get("application_user") and not get("application_client_id"):
            problems.append(
                f"{PROJECT}:applicationClientId: required when identityMode is existing and applicationUser is "
                "true (the client id of Business Central's app registration)"
            )
        if get("identity_mode") == "create" and values.get("application_client_secret"):
            problems.append(
                f"{PROJECT}:applicationClientSecret: only used with identityMode existing (with identityMode create "
                "the stack makes its own secret: set clientSecret: true); remove it"
            )
        if get("identity_mode") == "existing" and get("client_secret"):
            problems.append(
                f"{PROJECT}:clientSecret = true: only possible with identityMode create "
                "(the secret belongs to the app registration this stack creates)"
            )
    if have("github_repository", "github_environments", "github_branches"):
        if not get("github_repository") and (get("github_environments") or get("github_branches")):
            problems.append(
                f"{PROJECT}:githubRepository: required when githubEnvironments or githubBranches are set "
                "(owner/repository of the pipeline)"
            )
        if get("github_repository") and get("identity_mode") == "existing":
            problems.append(
                f"{PROJECT}:githubRepository = {_show(get('github_repository'))}: federated credentials are only "
                "created with identityMode create"
            )
    if have("license_assignment", "licensing_group_id", "identity_mode"):
        group_mode = get("license_assignment") == "group"
        if group_mode and not get("licensing_group_id"):
            problems.append(
                f"{PROJECT}:licensingGroupId: required when licenseAssignment is group (the object id of the "
                "Entra security group whose licences its members get)"
            )
        if get("licensing_group_id") and not group_mode:
            problems.append(
                f"{PROJECT}:licensingGroupId = {_show(get('licensing_group_id'))}: only used with licenseAssignment "
                "group; remove it or set licenseAssignment: group"
            )
        if group_mode and get("identity_mode") == "existing":
            problems.append(
                f"{PROJECT}:licenseAssignment = 'group': only possible with identityMode create (identityMode "
                "existing assigns no licence)"
            )
    if have("identity_mode") and "salespeople" in values and get("identity_mode") == "existing":
        for i, person in enumerate(values["salespeople"]):
            if person.usage_location is not None:
                problems.append(
                    f"{PROJECT}:salespeople[{i}].usageLocation = {_show(person.usage_location)}: only applied with "
                    "identityMode create (identityMode existing changes nothing in Entra ID)"
                )
    if have("sku_ids", "identity_mode") and get("identity_mode") == "create":
        table = {**facts.SKU_IDS, **get("sku_ids")}
        wanted: list[tuple[str, str]] = []
        if "integration_user" in values:
            wanted.append((f"{PROJECT}:integrationUser.licenseSku", values["integration_user"].license_sku))
        for i, person in enumerate(values.get("salespeople", [])):
            if person.license_sku:
                wanted.append((f"{PROJECT}:salespeople[{i}].licenseSku", person.license_sku))
        for path, part in wanted:
            if part not in table:
                problems.append(
                    f"{path} = {_show(part)}: no SKU id known for this part number; known: "
                    f"{', '.join(sorted(table))}; add it as {PROJECT}:skuIds.{part}: <skuId GUID>"
                )
    if check_files and "ca_bundle" in values and values["ca_bundle"]:
        ca = Path(values["ca_bundle"])
        ca = ca if ca.is_absolute() else PROJECT_ROOT / ca
        if not ca.is_file():
            problems.append(f"{PROJECT}:caBundle = {_show(values['ca_bundle'])}: file not found")
    source = get("solution_source") if have("solution_source") else None
    if source == "package" and not values.get("solution_path"):
        problems.append(
            f"{PROJECT}:solutionPath: required when solutionSource is package (the integration solution's .zip or "
            "unpacked folder, relative to the project root); or set solutionSource: business-central when "
            "Business Central imports the solution"
        )
    if source == "business-central" and values.get("solution_path"):
        problems.append(
            f"{PROJECT}:solutionPath = {_show(values['solution_path'])}: not used with solutionSource "
            "business-central (Business Central imports the solution); remove it, or set solutionSource: package"
        )
    if source == "package" and values.get("solution_minimum_version"):
        problems.append(
            f"{PROJECT}:solutionMinimumVersion = {_show(values['solution_minimum_version'])}: only used with "
            "solutionSource business-central (with a package, the package's version is installed); remove it"
        )
    if check_files and source == "package" and values.get("solution_path"):
        problems.extend(_package_checks(values, get))
    return problems


def _package_checks(values: Mapping[str, Any], get: Callable[[str], Any]) -> list[str]:
    from infra.model.solution_package import PackageError, assert_importable, read_package

    settings_path = Path(values["solution_path"])
    path = settings_path if settings_path.is_absolute() else PROJECT_ROOT / settings_path
    key = f"{PROJECT}:solutionPath = {_show(values['solution_path'])}"
    try:
        info = read_package(path)
    except PackageError as exc:
        hint = ""
        if not path.exists():
            hint = ("; put the integration solution there (solution/README.md says where it comes from), or set "
                    "solutionSource: business-central when Business Central imports it")
        return [f"{key}: {exc.message if exc.element is None else f'{exc.element}: {exc.message}'}{hint}"]
    problems: list[str] = []
    if not info.managed and not get("allow_unmanaged_solution"):
        problems.append(
            f"{key}: {info.unique_name} {info.version} is unmanaged, but allowUnmanagedSolution is false "
            "(production takes the managed vendor package)"
        )
    if "environment_url" in values:
        try:
            assert_importable(info, values["environment_url"])
        except PackageError as exc:
            problems.append(f"{key}: {exc.message}")
    return problems


def load_from_pulumi(stack: str | None = None) -> StackSettings:
    """Read ``bc-sales:`` config through the Pulumi runtime; bad config -> :class:`pulumi.RunError`."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    cfg = pulumi.Config(PROJECT)
    present = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    stack = stack or pulumi.get_stack()
    try:
        settings = load_settings(cfg.get, all_keys=present, stack=stack)
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from None
    for key in SECRET_KEYS:
        full = f"{PROJECT}:{key}"
        if getattr(settings, _field_of(key)) and not runtime_config.is_config_secret(full):
            raise pulumi.RunError(str(ConfigError([
                f"{full}: stored in plain text in Pulumi.{stack}.yaml; store it encrypted with "
                f"`pulumi config set --secret {full} <value>` (and rotate it: it has been in the file)"], stack)))
    return settings


#: Keys whose value must be a Pulumi secret (``secure:`` in the stack file).
SECRET_KEYS = ("applicationClientSecret",)


def _field_of(key: str) -> str:
    return next(k.field for k in config_keys() if k.name == key)
