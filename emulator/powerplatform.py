"""The Power Platform admin API slice for administration mode (environments and their state).

Administration mode is a setting of the environment ("Administration mode", Power Platform admin
docs: only users with System Administrator or System Customizer can sign in; "Background
operations" can be disabled with it).  The emulator keeps it on the Dataverse store
(``store.administration_mode``, ``store.background_operations``; seed keys
``dataverse.administration_mode`` / ``dataverse.background_operations``), enforces it in the
Dataverse surface (dataverse/admin_mode.py) and serves it here, the way the admin API reports an
environment: ``properties.states.runtime.id`` ``AdminMode`` or ``Enabled`` and
``properties.linkedEnvironmentMetadata.backgroundOperationsState``.

``GET /providers/Microsoft.BusinessAppPlatform/scopes/admin/environments[/{name}]?api-version=...``
needs a token for ``https://service.powerapps.com`` of an app registered as a Power Platform
management application (seed: ``apps[].power_platform_management: true``).  Error texts and codes
of this API are GUESSes in the ARM style.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .entra.tokens import TokenError

RESOURCE = "https://service.powerapps.com"
BASE = "/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments"
_NS = uuid.UUID("6b1c2d3e-0000-4000-8000-0000000bab00")


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def environment_name(ctx: Any) -> str:
    """The environment id: stable for the organization."""
    store = ctx.dataverse
    return str(uuid.uuid5(_NS, str(getattr(store, "organization_id", "") or "organization")))


def environment_json(ctx: Any) -> dict[str, Any]:
    store = ctx.dataverse
    admin = bool(getattr(store, "administration_mode", False))
    background = bool(getattr(store, "background_operations", True))
    name = environment_name(ctx)
    url = ctx.urls.environment_url.rstrip("/")
    return {
        "id": f"{BASE}/{name}", "name": name, "type": "Microsoft.BusinessAppPlatform/scopes/environments",
        "location": "unitedstates",
        "properties": {
            "tenantId": ctx.tenant_id, "displayName": ctx.seed["tenant"].get("display_name", "emulator"),
            "environmentSku": "Production", "isDefault": False,
            "linkedEnvironmentMetadata": {
                "resourceId": getattr(store, "organization_id", None), "uniqueName": "emulator",
                "instanceUrl": f"{url}/", "instanceApiUrl": url, "instanceState": "Ready",
                "backgroundOperationsState": "Enabled" if background else "Disabled",
            },
            "states": {"management": {"id": "Ready"}, "runtime": {"id": "AdminMode" if admin else "Enabled"}},
        },
    }


def routes(ctx: Any) -> list[Route]:
    def management_app(claims: dict[str, Any]) -> bool:
        app_id = str(claims.get("appid") or "").lower()
        return any(a["client_id"] == app_id and a.get("power_platform_management") for a in ctx.seed.get("apps", []))

    def guard(request: Request) -> Response | None:
        try:
            claims = ctx.tokens.validate_bearer(request.headers.get("authorization"), RESOURCE)
        except TokenError as exc:
            return _error(401, "InvalidAuthenticationToken", exc.message,  # GUESS code
                          {"WWW-Authenticate": f'Bearer authorization_uri="{ctx.urls.authority}/oauth2/authorize"'})
        if not request.query_params.get("api-version"):
            return _error(400, "MissingApiVersionParameter",
                          "The api-version query parameter (?api-version=) is required for all requests.")
        if not management_app(claims):
            return _error(403, "Forbidden",  # GUESS text
                          f"The service principal of app '{claims.get('appid')}' is not registered as a Power Platform "
                          "management application and has no Power Platform administrator role.")
        if ctx.dataverse is None:
            return _error(404, "EnvironmentNotFound", "No environment.")
        return None

    async def list_environments(request: Request) -> Response:
        refused = guard(request)
        if refused is not None:
            return refused
        return JSONResponse({"value": [environment_json(ctx)]})

    async def get_environment(request: Request) -> Response:
        refused = guard(request)
        if refused is not None:
            return refused
        if request.path_params["name"].lower() != environment_name(ctx):
            return _error(404, "EnvironmentNotFound",  # GUESS text
                          f"The environment '{request.path_params['name']}' could not be found in the tenant.")
        return JSONResponse(environment_json(ctx))

    return [Route(BASE, list_environments, methods=["GET"]),
            Route(BASE + "/{name}", get_environment, methods=["GET"])]
