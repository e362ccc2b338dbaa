"""The Entra side: integration user, licences, app registration, CI trust, optional client secret.

``identityMode: create`` manages all of it with pulumi-azuread; ``existing`` (another team owns
Entra, and the local stack) registers no azuread resource and takes the object ids / client id from
config, so the Sales side is the same graph either way.

Client secret rotation is deterministic: the secret belongs to a *rotation period* -- period
``k`` covers the days ``[EPOCH + k*N, EPOCH + (k+1)*N)`` with ``N = clientSecretRotationDays``.
The period label goes into ``rotate_when_changed`` and the secret expires ``2*N`` days after its
period starts.  So every run inside one period plans no change; the first ``pulumi up`` after a
boundary replaces the secret (create-before-delete) and the ``clientSecret`` output carries the new
value; if nobody runs ``up`` for a whole extra period the old secret still works until it expires.
No time provider plugin and no state outside Pulumi are involved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Mapping

import pulumi
import pulumi_azuread as azuread
import pulumi_random as random

from infra import facts
from infra.program.config import StackSettings
from infra.program.endpoints import endpoints_for
from infra.providers.usage_location import UsageLocation, UsageLocationArgs

__all__ = [
    "ROTATION_EPOCH",
    "IntegrationIdentity",
    "IntegrationIdentityArgs",
    "RotationPeriod",
    "rotation_period",
    "resource_slug",
]

#: Authority host -> the azuread provider's ``environment`` (other hosts: provider default).
AZUREAD_ENVIRONMENTS: dict[str, str] = {
    facts.AUTHORITY_HOSTS["public"]: "global",
    facts.AUTHORITY_HOSTS["usgov"]: "usgovernment",
    facts.AUTHORITY_HOSTS["china"]: "china",
}

#: Day 0 of the rotation calendar (a fixed date, so periods are the same on every machine).
ROTATION_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RotationPeriod:
    """One period of the client secret rotation calendar (see the module docstring).

    ``index`` counts periods from :data:`ROTATION_EPOCH`, ``start`` is the period's first day
    (UTC), ``end_date`` when a secret issued in this period expires (two periods later).
    """

    index: int
    start: datetime
    end_date: datetime  # when a secret issued in this period expires

    @property
    def label(self) -> str:
        """``2024-07-01/180d``: the period's start and length, the value that triggers a rotation."""
        return f"{self.start:%Y-%m-%d}/{(self.end_date - self.start).days // 2}d"

    @property
    def end_date_rfc3339(self) -> str:
        """The expiry as RFC 3339 UTC (``2025-06-28T00:00:00Z``), as azuread's ``end_date`` wants it."""
        return self.end_date.strftime("%Y-%m-%dT%H:%M:%SZ")


def rotation_period(now: datetime, days: int) -> RotationPeriod:
    """The rotation period ``now`` (any time zone) falls in, for a rotation every ``days`` days.

    Raises ``ValueError`` when ``days`` is below 1.
    """
    if days < 1:
        raise ValueError("rotation days must be positive")
    elapsed = (now.astimezone(UTC) - ROTATION_EPOCH).days
    index = elapsed // days
    start = ROTATION_EPOCH + timedelta(days=index * days)
    return RotationPeriod(index=index, start=start, end_date=start + timedelta(days=2 * days))


def resource_slug(upn: str) -> str:
    """A readable, stable resource name part for a user: ``sales01@contoso.example`` -> ``sales01-contoso-example``."""
    return re.sub(r"[^a-z0-9]+", "-", upn.lower()).strip("-")


@dataclass
class IntegrationIdentityArgs:
    """Inputs of :class:`IntegrationIdentity`.

    ``sku_ids`` is the SKU table after the licence seat check (tenant ids win); ``now`` fixes the
    rotation period (the program passes the current time, tests a fixed one).
    """

    settings: StackSettings
    sku_ids: Mapping[str, str]
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


class IntegrationIdentity(pulumi.ComponentResource):
    """Entra identities Business Central's connection to Sales relies on (a Pulumi
    ComponentResource, type ``bc-sales:identity:IntegrationIdentity``).

    identityMode create registers the integration user with its password and licence, the
    salespeople's licences (direct, or membership of the licensing group), the app registration
    with its service principal, federated credentials for CI and an optional rotating client
    secret (pulumi-azuread).  identityMode existing registers nothing and exposes the configured ids.
    """

    integration_user_object_id: pulumi.Output[str]
    integration_user_upn: pulumi.Output[str]
    integration_user_password: pulumi.Output[str] | None
    client_id: pulumi.Output[str] | None
    client_secret: pulumi.Output[str] | None
    salespeople_object_ids: dict[str, pulumi.Output[str]]
    #: UPN -> the resource that licenses that user -- a UserLicense, or the GroupMember of the
    #: licensing group (for depends_on on the Sales side).
    licenses: dict[str, pulumi.Resource]
    #: Resources the application user waits for (the service principal).
    application_dependencies: list[pulumi.Resource]

    def __init__(self, name: str, args: IntegrationIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("bc-sales:identity:IntegrationIdentity", name, None, opts)
        s = args.settings
        self.licenses = {}
        self.application_dependencies = []
        self.integration_user_password = None
        self.client_id = None
        self.client_secret = None
        if s.identity_mode == "existing":
            self._existing(s)
        else:
            self._create(s, args)
        outputs: dict[str, object] = {
            "integrationUserObjectId": self.integration_user_object_id,
            "integrationUserUpn": self.integration_user_upn,
            "salespeopleObjectIds": self.salespeople_object_ids,
        }
        if self.client_id is not None:
            outputs["clientId"] = self.client_id
        self.register_outputs(outputs)

    # --- existing: ids from config, nothing registered -----------------------------------------

    def _existing(self, s: StackSettings) -> None:
        assert s.integration_user.object_id is not None  # enforced by the config checks
        self.integration_user_object_id = pulumi.Output.from_input(s.integration_user.object_id)
        self.integration_user_upn = pulumi.Output.from_input(s.integration_user.user_principal_name)
        self.salespeople_object_ids = {
            p.user_principal_name: pulumi.Output.from_input(str(p.object_id)) for p in s.salespeople
        }
        if s.application_client_id:
            self.client_id = pulumi.Output.from_input(s.application_client_id)
        if s.application_client_secret:  # a Pulumi secret in the stack file (load_from_pulumi checks it)
            self.client_secret = pulumi.Output.secret(s.application_client_secret)

    # --- licences: direct assignment or membership of the licensing group ---------------------

    def _license(self, s: StackSettings, provider: azuread.Provider, slug: str, object_id: pulumi.Input[str],
                 sku_id: str, waits: list[pulumi.Resource]) -> pulumi.Resource:
        """``licenseAssignment: direct`` -> azuread.UserLicense; ``group`` -> azuread.GroupMember of
        the licensing group (Entra gives members the group's licences; one seat per user)."""
        opts = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=waits)
        if s.license_assignment == "group":
            return azuread.GroupMember(
                f"licensing-group-{slug}",
                group_object_id=str(s.licensing_group_id),
                member_object_id=object_id,
                opts=opts,
            )
        # The resource name keeps its spelling: it is part of the URN in existing stacks' state.
        return azuread.UserLicense(f"licence-{slug}", user_object_id=object_id, sku_id=sku_id, opts=opts)

    @staticmethod
    def _connection(s: StackSettings) -> dict[str, object]:
        return endpoints_for(s).to_dict()

    # --- create: the full Entra side ---------------------------------------------------------

    def _create(self, s: StackSettings, args: IntegrationIdentityArgs) -> None:
        # An explicit provider pinned to the configured tenant: Entra changes land in the tenant
        # the stack file names even if the shell's ARM_/AZURE_TENANT_ID points elsewhere.
        # Credentials still come from the environment (AZURE_*/ARM_*, OIDC, az login).
        provider = azuread.Provider(
            "entra",
            tenant_id=s.tenant_id,
            environment=AZUREAD_ENVIRONMENTS.get(s.authority_host),
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        kept = pulumi.ResourceOptions(
            parent=self, provider=provider, protect=s.protect_identity, retain_on_delete=s.retain_identity_on_delete
        )
        user_cfg = s.integration_user

        # A stable generated password: RandomPassword keeps its result in (encrypted) state, so it
        # does not change from run to run; the user never signs in interactively.
        password = random.RandomPassword(
            "integration-user-password",
            length=32, special=True, min_lower=2, min_upper=2, min_numeric=2, min_special=2,
            override_special="!#%*()-_=+[]{}:?",
            opts=pulumi.ResourceOptions(parent=self),
        )
        user = azuread.User(
            "integration-user",
            user_principal_name=user_cfg.user_principal_name,
            display_name=user_cfg.display_name,
            mail_nickname=user_cfg.user_principal_name.split("@", 1)[0],
            usage_location=user_cfg.usage_location,
            password=pulumi.Output.secret(password.result),
            force_password_change=False,
            disable_password_expiration=True,
            account_enabled=True,
            opts=kept,
        )
        self.integration_user_object_id = user.object_id
        self.integration_user_upn = user.user_principal_name
        self.integration_user_password = pulumi.Output.secret(password.result)
        self.licenses[user_cfg.user_principal_name] = self._license(
            s, provider, "integration-user", user.object_id, args.sku_ids[user_cfg.license_sku], [user])

        self.salespeople_object_ids = {}
        for person in s.salespeople:
            if person.object_id:
                object_id: pulumi.Output[str] = pulumi.Output.from_input(person.object_id)
            else:
                object_id = azuread.get_user_output(
                    user_principal_name=person.user_principal_name,
                    opts=pulumi.InvokeOutputOptions(parent=self, provider=provider),
                ).object_id
            self.salespeople_object_ids[person.user_principal_name] = object_id
            slug = resource_slug(person.user_principal_name)
            waits: list[pulumi.Resource] = []
            if person.usage_location:
                # An existing account: only its usage location is set (Graph refuses a licence
                # without one); pulumi-azuread's User would take the whole account over.
                waits.append(UsageLocation(
                    f"usage-location-{slug}",
                    UsageLocationArgs(connection=self._connection(s), object_id=object_id,
                                      usage_location=person.usage_location),
                    pulumi.ResourceOptions(parent=self),
                ))
            if person.license_sku:
                self.licenses[person.user_principal_name] = self._license(
                    s, provider, slug, object_id, args.sku_ids[person.license_sku], waits)

        app = azuread.Application(
            "app",
            display_name=s.application_display_name,
            sign_in_audience="AzureADMyOrg",
            required_resource_accesses=[
                azuread.ApplicationRequiredResourceAccessArgs(
                    resource_app_id=facts.DATAVERSE_RESOURCE_APP_ID,
                    resource_accesses=[
                        azuread.ApplicationRequiredResourceAccessResourceAccessArgs(
                            id=facts.DATAVERSE_USER_IMPERSONATION_SCOPE_ID, type="Scope"
                        )
                    ],
                )
            ],
            opts=kept,
        )
        service_principal = azuread.ServicePrincipal(
            "app-service-principal", client_id=app.client_id, opts=kept
        )
        self.client_id = app.client_id
        self.application_dependencies = [service_principal]

        for cred_name, subject in s.ci_subjects:
            azuread.ApplicationFederatedIdentityCredential(
                f"ci-{cred_name}",
                application_id=app.id,
                display_name=f"github-{cred_name}".replace("/", "-")[:120],
                description=f"GitHub Actions: {subject}",
                audiences=[facts.FEDERATED_TOKEN_AUDIENCE],
                issuer=facts.GITHUB_ACTIONS_ISSUER,
                subject=subject,
                opts=child,
            )

        if s.client_secret:
            period = rotation_period(args.now, s.client_secret_rotation_days)
            secret = azuread.ApplicationPassword(
                "client-secret",
                application_id=app.id,
                display_name=f"pulumi rotation {period.label}",
                end_date=period.end_date_rfc3339,
                rotate_when_changed={"rotationPeriod": period.label},
                opts=child,
            )
            self.client_secret = pulumi.Output.secret(secret.value)
