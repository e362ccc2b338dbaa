"""Microsoft Graph licences: ``assignLicense`` and ``licenseDetails`` of a user, and the tenant's
``subscribedSkus``, as https://learn.microsoft.com/graph/api/user-assignlicense documents them."""

from __future__ import annotations

from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..context import EmulatorContext
from .odata import ODataJSONResponse, project, require_user
from .payload import assign_license_lists, json_body
from .users import READ_USERS, user_json

READ_SKUS = {"Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All",
             "Directory.ReadWrite.All", "LicenseAssignment.Read.All", "LicenseAssignment.ReadWrite.All"}
ASSIGN_LICENSES = {"LicenseAssignment.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
READ_LICENSE_DETAILS = READ_USERS | {"LicenseAssignment.Read.All", "LicenseAssignment.ReadWrite.All"}


def routes(ctx: EmulatorContext, guarded: Callable[..., Any], base: Callable[[], str]) -> list[Route]:
    """The licence routes; ``guarded(permissions, handler)`` checks the token first."""

    async def assign_license(request: Request, claims: dict[str, Any]) -> Response:
        user = require_user(ctx, request.path_params["key"])
        body = await json_body(request)
        add, remove = assign_license_lists(body)
        updated = ctx.graph.assign_license(user.object_id, add, remove)
        return ODataJSONResponse({"@odata.context": f"{base()}/$metadata#users/$entity",
                             **project(user_json(ctx, updated), None)})

    async def license_details(request: Request, claims: dict[str, Any]) -> Response:
        user = require_user(ctx, request.path_params["key"])
        skus = ctx.graph.skus
        value = []
        for sku_id in sorted(ctx.graph.active_sku_ids(user), key=lambda s: (s not in user.sku_ids, s)):
            sku = skus[sku_id]
            disabled = set(user.disabled_plans.get(sku_id, []))
            value.append({"id": f"{sku_id}-{user.object_id}", "skuId": sku_id, "skuPartNumber": sku.sku_part_number,
                          "servicePlans": [{"servicePlanId": p["service_plan_id"], "servicePlanName": p["service_plan_name"],
                                            "provisioningStatus": "Disabled" if p["service_plan_id"] in disabled else "Success",
                                            "appliesTo": p.get("applies_to", "User")} for p in sku.service_plans]})
        return ODataJSONResponse({"@odata.context": f"{base()}/$metadata#users('{user.object_id}')/licenseDetails", "value": value})

    async def subscribed_skus(request: Request, claims: dict[str, Any]) -> Response:
        tid = ctx.graph.tenant_id
        value = [{"accountName": "contoso", "accountId": tid, "appliesTo": "User", "capabilityStatus": "Enabled",
                  "consumedUnits": ctx.graph.consumed(s.sku_id), "id": f"{tid}_{s.sku_id}", "skuId": s.sku_id,
                  "skuPartNumber": s.sku_part_number, "subscriptionIds": [],
                  "prepaidUnits": {"enabled": s.enabled, "suspended": 0, "warning": 0, "lockedOut": 0},
                  "servicePlans": [{"servicePlanId": p["service_plan_id"], "servicePlanName": p["service_plan_name"],
                                    "provisioningStatus": "Success", "appliesTo": p.get("applies_to", "User")}
                                   for p in s.service_plans]}
                 for s in ctx.graph.skus.values()]
        return ODataJSONResponse({"@odata.context": f"{base()}/$metadata#subscribedSkus", "value": value})

    return [
        Route("/v1.0/users/{key}/assignLicense", guarded(ASSIGN_LICENSES, assign_license), methods=["POST"]),
        Route("/v1.0/users/{key}/licenseDetails", guarded(READ_LICENSE_DETAILS, license_details), methods=["GET"]),
        Route("/v1.0/subscribedSkus", guarded(READ_SKUS, subscribed_skus), methods=["GET"]),
    ]
