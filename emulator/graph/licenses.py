"""Microsoft Graph licences: ``assignLicense`` and ``licenseDetails`` of a user, and the tenant's
``subscribedSkus``, as https://learn.microsoft.com/graph/api/user-assignlicense documents them."""

from __future__ import annotations

import re
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..context import EmulatorContext
from .odata import GraphRequestError, ODataJSONResponse, json_body, project, require_user
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
        missing = [k for k in ("addLicenses", "removeLicenses") if k not in body]
        if missing:
            raise GraphRequestError(400, "Request_BadRequest",
                                    "One or more parameters of the operation 'assignLicense' are missing from the request "
                                    f"payload. The missing parameters are: {', '.join(missing)}.")
        add, remove = body["addLicenses"], body["removeLicenses"]
        if not isinstance(add, list) or not all(isinstance(a, dict) for a in add) or not isinstance(remove, list):
            raise GraphRequestError(400, "Request_BadRequest", "addLicenses must be a list of {skuId, disabledPlans} and removeLicenses a list of SKU ids.")
        for a in add:
            if not re.fullmatch(r"[0-9a-fA-F-]{36}", str(a.get("skuId", ""))):
                raise GraphRequestError(400, "Request_BadRequest", "Cannot convert a primitive value to the expected type 'Edm.Guid'. See the inner exception for more details.")
        updated = ctx.graph.assign_license(user.object_id, add, [str(r) for r in remove])
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
