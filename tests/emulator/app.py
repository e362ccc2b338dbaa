"""The one ASGI app: Entra, Graph, admin and (when present) the Dataverse surface.

The Dataverse package plugs in through ``tests.emulator.dataverse.build_app(ctx) -> ASGI app``.
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

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import dataverse_error

if TYPE_CHECKING:
    from .core import EmulatorCore

DATAVERSE_BASE = "/api/data/v9.2"


def load_dataverse_app(ctx: Any) -> ASGIApp:
    """Build the Dataverse surface, or a stand-in that explains why it is missing."""
    try:
        module = importlib.import_module("tests.emulator.dataverse")
    except ModuleNotFoundError as exc:
        if exc.name not in ("tests.emulator.dataverse",):
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


def build_app(core: "EmulatorCore") -> Starlette:
    """Routes of every surface in one Starlette app (middleware is added by the core)."""
    from . import admin, entra, graph, powerplatform

    routes = [
        *admin.routes(core),
        *graph.routes(core.ctx),
        *powerplatform.routes(core.ctx),
        Mount(DATAVERSE_BASE, app=DataverseSlot(core)),
        *entra.routes(core.ctx),
    ]
    return Starlette(routes=routes)
