"""EmulatorCore: one emulator's state and ASGI app, independent of how it is served."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp

from .app import build_app, load_dataverse_app
from .context import EmulatorContext, EmulatorUrls, Settings
from .faults import FaultSet
from .graph.store import GraphStore
from .entra.keys import load_or_create
from .log import RequestLog
from .middleware import wrap
from .entra.oidc import OidcIssuers
from .seed import load_seed
from .entra.tokens import TokenService

SNAPSHOT_FILE = "state.json"


class EmulatorCore:
    """Owns the context, stores, log, faults and the wrapped app; handles reset and snapshots."""

    def __init__(self, *, seed: Any, settings: Settings, urls: EmulatorUrls, state_dir: Path | None) -> None:
        self.state_dir = state_dir
        self.seed = load_seed(seed)
        self.settings = settings
        self._dirty = False
        self._snapshot_lock = threading.Lock()
        key = load_or_create("token-signing-key", state_dir)
        self.oidc = OidcIssuers(self.seed, load_or_create("oidc-issuer-key", state_dir))
        ctx = EmulatorContext(settings=settings, seed=self.seed, urls=urls,
                              tokens=TokenService(self.seed["tenant"]["id"], key, clock=lambda: ctx.clock(),
                                                  lifetime=lambda: settings.token_lifetime_s),
                              graph=None,  # type: ignore[arg-type]  # set just below
                              log=RequestLog(), faults=FaultSet(settings.fault_seed))
        ctx.on_change = self._mark_dirty
        ctx.oidc = self.oidc  # type: ignore[attr-defined]
        self.ctx = ctx
        ctx.graph = GraphStore(self.seed, clock=lambda: ctx.clock(), on_change=ctx.changed)
        self.dataverse_app: ASGIApp = load_dataverse_app(ctx)
        self.app, self._middleware = wrap(build_app(self), ctx)
        if settings.snapshot and state_dir is not None:
            self._restore()

    # -- reset -----------------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the seed: fresh Graph and Dataverse state, empty log, no faults, no throttling history."""
        ctx = self.ctx
        ctx.graph = GraphStore(self.seed, clock=lambda: ctx.clock(), on_change=ctx.changed)
        ctx.dataverse = None
        self.dataverse_app = load_dataverse_app(ctx)
        assert ctx.log is not None and ctx.faults is not None
        ctx.log.clear()
        ctx.faults.clear()
        self._middleware["service_protection"].reset()
        self._mark_dirty()

    # -- snapshots -------------------------------------------------------------------------------
    def _mark_dirty(self) -> None:
        self._dirty = True

    @property
    def snapshot_path(self) -> Path | None:
        return self.state_dir / SNAPSHOT_FILE if self.state_dir is not None else None

    def state(self) -> dict[str, Any]:
        dv = self.ctx.dataverse
        return {"version": 1, "graph": self.ctx.graph.snapshot(),
                "dataverse": dv.snapshot() if dv is not None and hasattr(dv, "snapshot") else None}

    def flush(self, force: bool = False) -> bool:
        """Write the snapshot if state changed (or ``force``); atomic replace. Returns True if written."""
        path = self.snapshot_path
        if path is None or not self.settings.snapshot or not (self._dirty or force):
            return False
        with self._snapshot_lock:
            self._dirty = False
            data = json.dumps(self.state(), default=_json_default, separators=(",", ":"))
            tmp = path.with_suffix(".tmp")
            tmp.write_text(data, encoding="utf-8")
            os.replace(tmp, path)
        return True

    def _restore(self) -> None:
        path = self.snapshot_path
        if path is None or not path.exists():
            return
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"{path}: snapshot is unreadable ({exc}); delete it to start from the seed") from None
        self.ctx.graph.restore(state.get("graph") or {})
        dv = self.ctx.dataverse
        if state.get("dataverse") is not None and dv is not None and hasattr(dv, "restore"):
            dv.restore(state["dataverse"])


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"snapshot: cannot serialize {type(value).__name__}")
