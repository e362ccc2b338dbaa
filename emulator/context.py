"""The shared context every emulator surface receives.

Surfaces (Entra, Graph, Dataverse, admin) never import each other; they talk through this
object so that the Dataverse package can be developed separately and plugged in by
``emulator.app``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    from .faults import FaultSet
    from .graph.store import GraphStore
    from .log import RequestLog
    from .entra.tokens import TokenService


@dataclass
class ServiceProtection:
    """Dataverse service-protection limits (per caller, sliding window).

    Defaults are the documented production limits; tests shrink them to trigger 429s quickly.
    """

    max_concurrent: int = 52
    requests_per_window: int = 6000
    execution_ms_per_window: int = 1_200_000
    window_s: float = 300.0


@dataclass
class Settings:
    """Runtime knobs. Mutable on purpose: tests may change a knob on a running emulator."""

    latency_ms: float = 0.0
    import_seconds: float = 0.2
    provisioning_delay_s: float = 0.0
    token_lifetime_s: int = 3600
    service_protection: ServiceProtection | None = None
    fault_seed: int = 0
    snapshot: bool = False


@dataclass(frozen=True)
class EmulatorUrls:
    """Base URLs of one running emulator; identical in shape to the real services' URLs."""

    authority_host: str
    tenant_id: str
    authority: str
    graph_url: str
    environment_url: str
    ca_bundle: str
    #: the Power Platform admin API (powerplatform.py): administration mode of the environment
    power_platform_url: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "authority_host": self.authority_host,
            "tenant_id": self.tenant_id,
            "authority": self.authority,
            "graph_url": self.graph_url,
            "environment_url": self.environment_url,
            "ca_bundle": self.ca_bundle,
            "power_platform_url": self.power_platform_url,
        }


@dataclass
class EmulatorContext:
    """Everything a surface needs: knobs, seed, clock, URLs, tokens, Graph state.

    ``dataverse`` is a slot the Dataverse package fills from its ``build_app(ctx)``; the core
    only calls ``snapshot()`` / ``restore(state)`` on it when present.
    ``on_change`` is called by stores after a state mutation (used for snapshots).
    """

    settings: Settings
    seed: dict[str, Any] = field(repr=False)       # holds (fake) client secrets: keep out of reprs
    urls: EmulatorUrls
    tokens: "TokenService" = field(repr=False)
    graph: "GraphStore" = field(repr=False)
    clock: Callable[[], float] = field(default=time.time, repr=False)
    log: "RequestLog | None" = field(default=None, repr=False)
    faults: "FaultSet | None" = field(default=None, repr=False)
    dataverse: Any = field(default=None, repr=False)
    on_change: Callable[[], None] = field(default=lambda: None, repr=False)

    @property
    def tenant_id(self) -> str:
        return str(self.seed["tenant"]["id"])

    def changed(self) -> None:
        """Stores call this after each mutation so snapshots can be written."""
        self.on_change()
