"""Microsoft Graph v1.0 surface (filled in below)."""
from __future__ import annotations

from starlette.routing import Route

from .context import EmulatorContext


def routes(ctx: EmulatorContext) -> list[Route]:
    return []
