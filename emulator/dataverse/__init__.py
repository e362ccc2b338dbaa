"""Dataverse Web API v9.2 surface of the local cloud emulator.

``build_app(ctx)`` returns the Starlette app the core mounts at ``/api/data/v9.2`` and puts the
``DataverseStore`` at ``ctx.dataverse``. See docs/emulator.md, section "Dataverse surface".
"""

from .app import build_app
from .store import DataverseStore

__all__ = ["build_app", "DataverseStore"]
