"""The ``connectionSetup`` stack output: one object with what Business Central asks for.

Business Central's *Microsoft Dynamics 365 Connection Setup* page and its salesperson coupling
need: the Sales environment URL, the tenant, the integration user, the app registration's client
id (and, when the stack creates one, its client secret -- a Pulumi secret), the installed version of
the integration solution, and which Sales user each Business Central salesperson is coupled to
(*Couple Salespersons*).  ``pulumi stack output connectionSetup`` (``--show-secrets`` for the
secret) prints it; the pieces are also exported one by one for scripts.
"""

from __future__ import annotations

from typing import Any

import pulumi

from infra.program.config import StackSettings

__all__ = ["connection_setup", "salesperson_coupling"]


def salesperson_coupling(settings: StackSettings, systemuser_ids: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Business Central salesperson code -> ``{userPrincipalName, systemUserId}`` for every salesperson
    whose config gives ``salespersonCode`` (codes are unique, checked by the config model)."""
    table: dict[str, dict[str, Any]] = {}
    for person in settings.salespeople:
        if person.salesperson_code:
            table[person.salesperson_code] = {
                "userPrincipalName": person.user_principal_name,
                "systemUserId": systemuser_ids[person.user_principal_name],
            }
    return dict(sorted(table.items()))


def connection_setup(settings: StackSettings, identity: Any, sales: Any) -> dict[str, Any]:
    """The ``connectionSetup`` output object (values may be Outputs; the client secret stays a secret).

    Keys: ``environmentUrl``, ``tenantId``, ``integrationUserUpn``, ``clientId``,
    ``installedSolutionVersion``, ``salespersonCoupling`` and, when there is one, ``clientSecret``:
    what Business Central's *Dynamics 365 Connection Setup* page asks for.
    """
    value: dict[str, Any] = {
        "environmentUrl": settings.environment_url,
        "tenantId": settings.tenant_id,
        "integrationUserUpn": identity.integration_user_upn,
        "clientId": identity.client_id,
        "installedSolutionVersion": sales.installed_version,
        "salespersonCoupling": salesperson_coupling(settings, sales.systemuser_ids),
    }
    if identity.client_secret is not None:
        value["clientSecret"] = pulumi.Output.secret(identity.client_secret)
    return value
