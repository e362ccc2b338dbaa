"""The error every Graph route renders as Graph's error JSON.

A module of its own so that the store and groups.py (which the store calls for group licensing)
both raise it without importing each other; ``emulator.graph.store.GraphError`` still names it.
"""

from __future__ import annotations


class GraphError(Exception):
    """A Graph request failed; rendered as Graph's error JSON by the Graph routes.

    ``status`` is the HTTP status (int), ``code`` Graph's ``error.code`` (for example
    ``Request_BadRequest``, ``Request_ResourceNotFound``), ``message`` its ``error.message``
    (Microsoft Graph REST API v1.0, "Microsoft Graph error responses and resource types").
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
