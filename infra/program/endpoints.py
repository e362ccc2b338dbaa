"""The environment endpoints a stack's settings name, as the clients and providers take them.

A module of its own so that both sides of the program (identity and sales) and :func:`prepare`
use it without importing each other.
"""

from __future__ import annotations

from infra.clients.endpoints import EnvironmentEndpoints
from infra.program.config import StackSettings

__all__ = ["endpoints_for"]


def endpoints_for(settings: StackSettings) -> EnvironmentEndpoints:
    """The environment endpoints the stack's settings name (Dataverse, sign-in host, Graph, CA bundle,
    Power Platform admin API when set); no credential is part of it, so it is safe in state."""
    extra = {"power_platform_url": settings.power_platform_url} if settings.power_platform_url else {}
    return EnvironmentEndpoints(
        environment_url=settings.environment_url,
        tenant_id=settings.tenant_id,
        authority_host=settings.authority_host,
        graph_url=settings.graph_url,
        ca_bundle=settings.ca_bundle or None,
        **extra,
    )
