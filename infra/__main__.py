"""The Pulumi program (``Pulumi.yaml`` ``main: infra/``).

Order of business: load and check the configuration, the role files and the solution package
(read once), and (with Graph credentials) the licence seats -- all before the first resource is
registered, so a mistake costs nothing.  Then the Entra side (:class:`IntegrationIdentity`) and the Sales side
(:class:`SalesIntegration`) in one graph, and the stack outputs Business Central's connection
setup asks for.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pulumi

from infra.program.config import load_stack_from_pulumi
from infra.program.connection_setup import connection_setup
from infra.program.identity import IntegrationIdentity, IntegrationIdentityArgs
from infra.program.prepare import prepare
from infra.program.sales import SalesIntegration, SalesIntegrationArgs, plan_sales

stack = load_stack_from_pulumi()
settings = stack.settings
prepared = prepare(stack, env=os.environ, log=pulumi.log.info, warn=pulumi.log.warn)

identity = IntegrationIdentity(
    "identity",
    IntegrationIdentityArgs(settings=settings, sku_ids=prepared.sku_ids, now=datetime.now(UTC)),
)
plan = plan_sales(
    settings,
    prepared.package,
    prepared.roles,
    integration_user_object_id=identity.integration_user_object_id,
    salespeople_object_ids=identity.salespeople_object_ids,
    application_client_id=identity.client_id,
)
sales = SalesIntegration(
    "sales",
    SalesIntegrationArgs(
        plan=plan,
        licenses=identity.licenses,
        application_dependencies=identity.application_dependencies,
    ),
)

# What Business Central's "Dynamics 365 Connection Setup" asks for.
pulumi.export("environmentUrl", settings.environment_url)
pulumi.export("tenantId", settings.tenant_id)
pulumi.export("integrationUserUpn", identity.integration_user_upn)
pulumi.export("clientId", identity.client_id)
pulumi.export("roleIds", sales.role_ids)
pulumi.export("installedSolutionVersion", sales.installed_version)
if prepared.package is not None:
    pulumi.export("solution", {"uniqueName": prepared.package.unique_name, "version": prepared.package.version,
                               "managed": prepared.package.managed, "sha256": prepared.package.sha256,
                               "source": settings.solution_source})
else:
    pulumi.export("solution", {"uniqueName": plan.solution["unique_name"], "source": settings.solution_source,
                               "minimumVersion": settings.solution_minimum_version or None})
if identity.integration_user_password is not None:
    pulumi.export("integrationUserPassword", pulumi.Output.secret(identity.integration_user_password))
if identity.client_secret is not None:
    pulumi.export("clientSecret", pulumi.Output.secret(identity.client_secret))
pulumi.export("connectionSetup", connection_setup(settings, identity, sales))
