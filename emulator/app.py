"""The ASGI app: Entra (+ admin), Graph and (when present) the Dataverse surface, each on its own origin.

The Dataverse package plugs in through ``emulator.dataverse.build_app(ctx) -> ASGI app``.
It is imported lazily; while it does not exist, Dataverse paths answer 404. The returned app is
mounted with Starlette's ``Mount("/api/data/v9.2", ...)``: inside it, routes are relative
(``/WhoAmI``), ``scope["root_path"]`` ends with ``/api/data/v9.2``, and ``build_app`` is expected
to set ``ctx.dataverse`` to its store (optional ``snapshot() -> dict`` / ``restore(dict)``).
``build_app`` is called again on every reset, so it must build fresh state each time.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from typing import TYPE_CHECKING, Any

from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import dataverse_error

if TYPE_CHECKING:
    from .core import EmulatorCore

DATAVERSE_BASE = "/api/data/v9.2"


def load_dataverse_app(ctx: Any) -> ASGIApp:
    """Build the Dataverse surface, or a stand-in that explains why it is missing."""
    try:
        module = importlib.import_module("emulator.dataverse")
    except ModuleNotFoundError as exc:
        if exc.name not in ("emulator.dataverse",):
            return _broken(f"Dataverse surface failed to import: {exc}")
        return _missing
    build = getattr(module, "build_app", None)
    if build is None:  # package exists but is not wired yet
        return _missing
    try:
        return build(ctx)
    except Exception as exc:  # a broken surface must not take Entra/Graph down with it
        traceback.print_exc(file=sys.stderr)
        return _broken(f"Dataverse surface failed to build: {type(exc).__name__}: {exc}")


async def _missing(scope: Scope, receive: Receive, send: Send) -> None:
    await dataverse_error(404, "0x80060888", "The Dataverse surface is not installed in this emulator.")(scope, receive, send)


def _broken(reason: str) -> ASGIApp:
    print(f"emulator: {reason}", file=sys.stderr)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await dataverse_error(500, "0x80040216", f"emulator: {reason}")(scope, receive, send)
    return app


class DataverseSlot:
    """Delegates to the core's current Dataverse app, which a reset replaces."""

    def __init__(self, core: "EmulatorCore") -> None:
        self.core = core

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.core.dataverse_app(scope, receive, send)


#: The four services, each served on its own origin (see server.py for the addresses).
SURFACES = ("entra", "graph", "dataverse", "powerplatform")


def origin_surface(scope: Scope, urls: Any) -> str | None:
    """Which service's origin a request reached: the local address and port it arrived on, compared
    with the emulator's URLs (the way DNS sends a request for a host to that host's servers)."""
    server = scope.get("server")
    if not server:
        return None
    host, port = str(server[0]), int(server[1] or 0)
    for surface, url in (("entra", urls.authority_host), ("graph", urls.graph_url), ("dataverse", urls.environment_url),
                         ("powerplatform", urls.power_platform_url)):
        parts = urlsplit(url)
        if parts.hostname == host and (parts.port or 443) == port:
            return surface
    return None


class OriginRouter:
    """Sends each request to the app of the origin it reached; an origin serves only its own service,
    so a request for another service gets that origin's "not found" (a client that sends a token to the
    wrong host, or builds one service's URL from another's, fails here as it would in a tenant)."""

    def __init__(self, core: "EmulatorCore", apps: dict[str, ASGIApp]) -> None:
        self.core, self.apps = core, apps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        surface = origin_surface(scope, self.core.ctx.urls) if scope["type"] == "http" else None
        await self.apps[surface or "entra"](scope, receive, send)


async def _entra_not_found(scope: Scope, receive: Receive, send: Send) -> None:
    # The sign-in host answers unknown paths with a bare 404 page.
    await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)


async def _environment_not_found(scope: Scope, receive: Receive, send: Send) -> None:
    # An environment host serves the Web API only under /api/data/v9.2; anything else is a 404 page.
    await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)


def build_app(core: "EmulatorCore") -> ASGIApp:
    """One Starlette app per origin (Entra + admin, Graph, Dataverse, Power Platform admin API)
    behind an OriginRouter (middleware is added by the core). The admin API (/_emulator) lives on
    the Entra origin."""
    from . import admin, powerplatform
    from .entra import endpoints as entra
    from .graph.app import surface as graph_surface

    entra_app = Starlette(routes=[*admin.routes(core), *entra.routes(core.ctx)])
    entra_app.router.default = _entra_not_found
    graph_app = graph_surface(core.ctx)
    dataverse_app = Starlette(routes=[Mount(DATAVERSE_BASE, app=DataverseSlot(core))])
    dataverse_app.router.default = _environment_not_found
    power_platform_app = Starlette(routes=powerplatform.routes(core.ctx))
    power_platform_app.router.default = _entra_not_found
    return OriginRouter(core, {"entra": entra_app, "graph": graph_app, "dataverse": dataverse_app,
                               "powerplatform": power_platform_app})
