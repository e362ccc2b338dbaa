"""The stack's settings: :class:`StackSettings` and its nested objects, one field per config key.

Field aliases are the ``bc-sales:`` keys (camelCase as written in YAML); each field's default and
description are the ones ``Pulumi.yaml`` declares and the README's config table shows (tests keep
the three equal).  Rules that involve more than one key are in :mod:`.checks`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from infra import facts
from infra.program.config.project import PROJECT_ROOT
from infra.program.config.values import (
    AuthorityHost,
    Country,
    EnvironmentUrl,
    GitHubNames,
    Guid,
    HttpsUrl,
    NonBlank,
    Repository,
    SalespersonCode,
    SkuPartNumber,
    SolutionVersion,
    Upn,
    fail,
    guid_value,
    sku_part_number,
)

__all__ = ["IntegrationUserSettings", "Salesperson", "StackSettings"]


class _Model(BaseModel):
    """Nested config objects: camelCase keys as written in YAML, unknown keys refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class IntegrationUserSettings(_Model):
    """The dedicated account Business Central connects and synchronises with."""

    user_principal_name: Upn = Field(description="sign-in name of the integration user")
    display_name: NonBlank = Field(default="Business Central integration", description="display name in Entra")
    usage_location: Country = Field(
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
    salesperson_code: SalespersonCode | None = Field(
        default=None,
        description="Business Central salesperson code this user is coupled to (connectionSetup output)",
    )
    usage_location: Country | None = Field(
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
            raise fail(f"{person.user_principal_name} is listed twice")
        seen.add(key)
        code = person.salesperson_code
        if code is not None:
            if code in codes:
                raise fail(f"salespersonCode {code} is given to both {codes[code]} and {person.user_principal_name}; "
                           "Business Central couples one salesperson to one Sales user")
            codes[code] = person.user_principal_name
    return values


def _sku_ids(values: dict[str, str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for part, sku_id in values.items():
        try:
            result[sku_part_number(part)] = guid_value(sku_id)
        except PydanticCustomError as exc:
            raise fail(f"{part}: {exc.message()}") from None
    return result


class StackSettings(BaseModel):
    """Everything one stack needs; field aliases are the ``bc-sales:`` config keys.

    ``Pulumi.yaml`` declares the same keys with the same defaults (a test keeps them in step).
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    # --- where -----------------------------------------------------------------------------
    tenant_id: Guid = Field(description="Entra tenant id (GUID) of the Dynamics 365 environment")
    environment_url: EnvironmentUrl = Field(
        description="Dataverse environment URL, https only, e.g. https://contoso.crm.dynamics.com"
    )
    authority_host: AuthorityHost = Field(
        default="public", description="sign-in host: public, usgov, china or an https:// URL"
    )
    graph_url: HttpsUrl = Field(
        default="https://graph.microsoft.com", description="Microsoft Graph base URL (licence seat check)"
    )
    ca_bundle: str | None = Field(
        default="", description="PEM file of extra CAs to trust (local emulator only); empty for none"
    )
    power_platform_url: HttpsUrl | None = Field(
        default="",
        description="Power Platform admin API URL (the deployer check reads administration mode there); empty for "
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
        description="licence seat check against Graph: auto (when credentials are present), required, off",
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
    github_repository: Repository | None = Field(
        default="", description="owner/repo trusted through federated credentials; empty for none"
    )
    github_environments: GitHubNames = Field(
        default_factory=list, description="GitHub environments given a federated credential"
    )
    github_branches: GitHubNames = Field(
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
    solution_minimum_version: SolutionVersion | None = Field(
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
        """(credential name, subject) for every GitHub environment and branch.

        Subjects follow GitHub's OIDC claim format (``repo:<owner>/<repo>:environment:<name>``,
        ``repo:<owner>/<repo>:ref:refs/heads/<branch>``), which Entra's federated identity
        credential matches exactly ("Configuring OpenID Connect in Azure", GitHub docs).
        """
        if not self.github_repository:
            return []
        repo = self.github_repository
        subjects = [(f"env-{e}", f"repo:{repo}:environment:{e}") for e in self.github_environments]
        subjects += [(f"branch-{b}", f"repo:{repo}:ref:refs/heads/{b}") for b in self.github_branches]
        return subjects

    def sku_table(self) -> dict[str, str]:
        """SKU part number -> skuId: :data:`infra.facts.SKU_IDS` with the stack's ``skuIds`` over it."""
        return {**facts.SKU_IDS, **self.sku_ids}
