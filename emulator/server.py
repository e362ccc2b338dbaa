"""Serving: uvicorn over HTTPS on three loopback origins in a background thread, and the ``Emulator`` handle."""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable

import uvicorn

from .certs import ensure_tls
from .context import EmulatorContext, EmulatorUrls, ServiceProtection, Settings
from .core import EmulatorCore
from .faults import FaultSet
from .graph.store import GraphStore
from .log import RequestRecord
from .entra.oidc import EXCHANGE_AUDIENCE
from .seed import load_seed

SNAPSHOT_INTERVAL_S = 0.25


class _Server(uvicorn.Server):
    """uvicorn.Server whose main loop wakes on an event, so stop() takes milliseconds, not 0.1 s ticks."""

    def __init__(self, config: uvicorn.Config, core: EmulatorCore) -> None:
        super().__init__(config)
        self.core = core
        self.loop: asyncio.AbstractEventLoop | None = None
        self.wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        counter = 0
        while not self.should_exit:
            try:
                await asyncio.wait_for(self.wake.wait(), SNAPSHOT_INTERVAL_S)
            except asyncio.TimeoutError:
                pass
            counter += 1
            self.core.flush()
            if await self.on_tick(counter):
                break

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Like uvicorn's shutdown without its fixed 0.1 s sleeps: idle keep-alive connections are
        dropped at once (a TLS close would wait for clients that never read), busy ones get up to
        ``timeout_graceful_shutdown`` seconds to finish."""
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for conn in list(self.server_state.connections):
            cycle = getattr(conn, "cycle", None)
            transport = getattr(conn, "transport", None)
            if transport is not None and (cycle is None or getattr(cycle, "response_complete", False)):
                transport.abort()
            else:
                conn.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(self.config.timeout_graceful_shutdown or 0)
        while (self.server_state.connections or self.server_state.tasks) and loop.time() < deadline:
            await asyncio.sleep(0.005)
        for task in list(self.server_state.tasks):
            task.cancel()
        for conn in list(self.server_state.connections):
            transport = getattr(conn, "transport", None)
            if transport is not None:
                transport.abort()
        await asyncio.sleep(0)

    def request_stop(self) -> None:
        self.should_exit = True
        if self.loop is not None and self.wake is not None:
            self.loop.call_soon_threadsafe(self.wake.set)


#: One loopback address per service, as the real services are three hosts.
ORIGIN_HOSTS = {"entra": "127.0.0.1", "graph": "127.0.0.2", "dataverse": "127.0.0.3", "powerplatform": "127.0.0.4"}
LAYOUTS = ("auto", "hosts", "ports")


def _listen(host: str, port: int) -> socket.socket:
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # says TCP, and without it every keep-alive response stalls ~40 ms (Nagle + delayed ACK).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _close_all(socks: Any) -> None:
    for sock in socks:
        try:
            sock.close()
        except OSError:
            pass


def bind_origins(port: int = 0, layout: str = "auto") -> dict[str, socket.socket]:
    """Listening sockets for the four origins (entra, graph, dataverse, powerplatform), in that order.

    ``hosts``: 127.0.0.1 / .2 / .3 / .4, all on ``port`` (0 = one free port for all four).
    ``ports``: 127.0.0.1 on four ports: ``port`` .. ``port + 3`` (0 = four free ports),
    for machines where only 127.0.0.1 is configured (macOS without loopback aliases).
    ``auto``: ``hosts`` when the machine has those addresses (Linux, Windows), else ``ports``.
    Raises OSError("cannot listen on ...") when a port is taken, ValueError for another layout.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout {layout!r} is not one of {', '.join(LAYOUTS)}")
    if layout in ("auto", "hosts"):
        for _ in range(20):
            socks: dict[str, socket.socket] = {}
            try:
                for name, host in ORIGIN_HOSTS.items():
                    socks[name] = _listen(host, port if name == "entra" else (port or socks["entra"].getsockname()[1]))
                return socks
            except OSError as exc:
                _close_all(socks.values())
                if exc.errno == errno.EADDRNOTAVAIL and layout == "auto":
                    break  # no 127.0.0.2 on this machine: distinct ports instead
                if port or exc.errno != errno.EADDRINUSE:
                    host = list(ORIGIN_HOSTS.values())[len(socks)]
                    raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
        else:
            raise OSError(errno.EADDRINUSE, "cannot find a port free on 127.0.0.1, 127.0.0.2, 127.0.0.3 and 127.0.0.4")
    socks = {}
    try:
        for offset, name in enumerate(ORIGIN_HOSTS):
            socks[name] = _listen("127.0.0.1", port + offset if port else 0)
    except OSError as exc:
        _close_all(socks.values())
        raise OSError(exc.errno, f"cannot listen on 127.0.0.1:{port + len(socks) if port else 0}: {exc.strerror}") from None
    return socks


class Emulator:
    """A running emulator (in-process). Use ``Emulator.start(...)``; always ``stop()`` it."""

    def __init__(self, core: EmulatorCore, server: _Server, thread: threading.Thread, socks: list[socket.socket]) -> None:
        self._core = core
        self._server = server
        self._thread = thread
        self._socks = socks
        #: the Entra origin's port (with the default layout, every origin listens on it)
        self.port: int = socks[0].getsockname()[1]

    # -- lifecycle -------------------------------------------------------------------------------
    @classmethod
    def start(cls, seed: Any = None, *, latency_ms: float = 0, import_seconds: float = 0.2,
              provisioning_delay_s: float = 0.0, token_lifetime_s: int = 3600,
              service_protection: bool | ServiceProtection = False, state_dir: str | Path | None = None,
              snapshot: bool = False, fault_seed: int = 0, port: int = 0, tls_dir: str | Path | None = None,
              layout: str = "auto") -> "Emulator":
        """Start serving and return when ready: Entra on https://127.0.0.1:<port>, Graph on
        https://127.0.0.2:<port>, Dataverse on https://127.0.0.3:<port> (port 0 = a free port); see
        ``bind_origins`` for ``layout``.

        TLS files go to ``tls_dir``, else ``state_dir``, else one process-wide temp dir (so the
        CA is made once per test session). ``service_protection=True`` = production limits.
        Raises OSError when the port is taken, ValueError for an unknown layout.
        """
        sp = ServiceProtection() if service_protection is True else (service_protection or None)
        settings = Settings(latency_ms=latency_ms, import_seconds=import_seconds,
                            provisioning_delay_s=provisioning_delay_s, token_lifetime_s=token_lifetime_s,
                            service_protection=sp, fault_seed=fault_seed, snapshot=snapshot)
        sdir = Path(state_dir).resolve() if state_dir is not None else None
        if sdir is not None:
            sdir.mkdir(parents=True, exist_ok=True)
        if snapshot and sdir is None:
            raise ValueError("snapshot=True needs a state_dir to write the snapshot to")
        seed_data = load_seed(seed)
        tenant_id = seed_data["tenant"]["id"]
        tls = ensure_tls(Path(tls_dir) if tls_dir is not None else sdir)
        socks = bind_origins(port, layout)
        base = {name: f"https://{sock.getsockname()[0]}:{sock.getsockname()[1]}" for name, sock in socks.items()}
        urls = EmulatorUrls(authority_host=base["entra"], tenant_id=tenant_id, authority=f"{base['entra']}/{tenant_id}",
                            graph_url=base["graph"], environment_url=base["dataverse"], ca_bundle=str(tls.ca_bundle),
                            power_platform_url=base["powerplatform"])
        try:
            core = EmulatorCore(seed=seed_data, settings=settings, state_dir=sdir, urls=urls)
        except BaseException:
            _close_all(socks.values())
            raise
        config = uvicorn.Config(core.app, ssl_certfile=str(tls.cert_chain), ssl_keyfile=str(tls.private_key),
                                log_config=None, log_level="warning", access_log=False, lifespan="off",
                                http="h11", loop="asyncio", timeout_keep_alive=30, backlog=2048,
                                timeout_graceful_shutdown=2)
        server = _Server(config, core)
        entra_port = socks["entra"].getsockname()[1]
        thread = threading.Thread(target=server.run, kwargs={"sockets": list(socks.values())}, name=f"emulator-{entra_port}",
                                  daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                _close_all(socks.values())
                raise RuntimeError("emulator failed to start (see stderr)")
            time.sleep(0.002)
        return cls(core, server, thread, list(socks.values()))

    def stop(self) -> None:
        """Stop serving, write the snapshot if enabled, release the port. Idempotent."""
        if self._thread.is_alive():
            self._server.request_stop()
            self._thread.join(10)
        self._core.flush(force=True)
        _close_all(self._socks)

    @property
    def running(self) -> bool:
        """True while the server thread serves."""
        return self._thread.is_alive()

    def __enter__(self) -> "Emulator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state and observability -------------------------------------------------------------------
    @property
    def ctx(self) -> EmulatorContext:
        return self._core.ctx

    @property
    def urls(self) -> EmulatorUrls:
        return self._core.ctx.urls

    @property
    def settings(self) -> Settings:
        """Live knobs: changing e.g. ``emu.settings.latency_ms`` affects the next request."""
        return self._core.settings

    @property
    def seed(self) -> dict[str, Any]:
        return self._core.seed

    @property
    def graph(self) -> GraphStore:
        return self._core.ctx.graph

    @property
    def dataverse(self) -> Any:
        """The Dataverse store (``ctx.dataverse``), or None when the Dataverse surface is absent."""
        return self._core.ctx.dataverse

    @property
    def faults(self) -> FaultSet:
        assert self._core.ctx.faults is not None
        return self._core.ctx.faults

    @property
    def requests(self) -> list[RequestRecord]:
        assert self._core.ctx.log is not None
        return self._core.ctx.log.records

    def counters(self) -> dict[str, Any]:
        assert self._core.ctx.log is not None
        return self._core.ctx.log.counters()

    def clear_log(self) -> None:
        """Forget every request made so far: waits (:meth:`settle`) for those still in flight,
        which would otherwise be logged after the clear."""
        assert self._core.ctx.log is not None
        self.settle()
        self._core.ctx.log.clear()

    def on_request(self, listener: Callable[[RequestRecord], None]) -> Callable[[], None]:
        """Call ``listener(record)`` for each request logged from now on (see
        :meth:`RequestLog.subscribe`); returns the function that stops it. Lets a test act at an
        exact point of a client's conversation (end an import once it is polled, kill a client
        after its k-th request) instead of racing it with timers."""
        assert self._core.ctx.log is not None
        return self._core.ctx.log.subscribe(listener)

    def settle(self, timeout: float = 5.0) -> bool:
        """Wait until no request is in flight; False if some still were after ``timeout`` seconds.

        A request is logged just before its response's last byte is sent; a request whose client
        gave up or was killed still runs to its end, and is logged only then.
        """
        log = self._core.ctx.log
        assert log is not None
        deadline = time.monotonic() + timeout
        while log.in_flight > 0:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def reset(self) -> None:
        """Back to the seed state (Graph + Dataverse), empty log, no faults."""
        self._core.reset()

    def snapshot(self) -> bool:
        """Write the snapshot now; False when snapshots are off."""
        return self._core.flush(force=True)

    # -- identities --------------------------------------------------------------------------------
    def app(self, name: str) -> dict[str, Any]:
        """The seed's app registration called ``name`` (deployer, limited, business-central)."""
        for app in self.seed["apps"]:
            if app["name"] == name or app["client_id"] == name:
                return app
        raise KeyError(f"no app {name!r} in the seed; known: {[a['name'] for a in self.seed['apps']]}")

    def app_certificate(self, name: str = "deployer") -> tuple[Path, str]:
        """(PEM path with private key + certificate, SHA-1 thumbprint hex) of an app's first certificate."""
        from .entra.endpoints import load_certificate  # local import: it pulls in Starlette routing
        import base64
        app = self.app(name)
        if not app["certificates"]:
            raise KeyError(f"app {name!r} has no certificate in the seed")
        path = (Path(self.seed["_base_dir"]) / app["certificates"][0]).resolve()
        sha1 = load_certificate(str(path)).sha1
        return path, base64.urlsafe_b64decode(sha1 + "=" * (-len(sha1) % 4)).hex()

    def issue_federated_token(self, subject: str, audience: str = EXCHANGE_AUDIENCE, issuer: str | None = None,
                              lifetime_s: int = 600) -> str:
        """A workload-identity JWT from a test OIDC issuer (default: GitHub's issuer URL)."""
        return self._core.oidc.issue(subject, audience, issuer, lifetime_s=lifetime_s, now=self.ctx.clock())

    @property
    def oidc_request_url(self) -> str:
        """Like ACTIONS_ID_TOKEN_REQUEST_URL: append ``&audience=...``."""
        return f"{self.urls.authority_host}/_emulator/oidc/token?api-version=2.0"

    def oidc_request_token(self, subject: str | None = None) -> str:
        """A seed request token (like ACTIONS_ID_TOKEN_REQUEST_TOKEN), for ``subject`` if given."""
        for issuer in self.seed.get("oidc_issuers", []):
            for rt in issuer.get("request_tokens", []):
                if not rt.get("service_connection_id") and (subject is None or rt["subject"] == subject):
                    return str(rt["token"])
        raise KeyError(f"no OIDC request token in the seed for subject {subject!r}")

    @property
    def azure_devops_oidc_request_uri(self) -> str:
        """Like Azure DevOps' SYSTEM_OIDCREQUESTURI (POST ``?serviceConnectionId=...&api-version=...``)."""
        return f"{self.urls.authority_host}/_emulator/oidc/azure-devops/oidctoken"

    def azure_devops_access_token(self, subject: str | None = None) -> tuple[str, str]:
        """A seed (System.AccessToken, service connection id) pair, for ``subject`` if given."""
        for issuer in self.seed.get("oidc_issuers", []):
            for rt in issuer.get("request_tokens", []):
                if rt.get("service_connection_id") and (subject is None or rt["subject"] == subject):
                    return str(rt["token"]), str(rt["service_connection_id"])
        raise KeyError(f"no Azure DevOps access token in the seed for subject {subject!r}")

    def __repr__(self) -> str:
        return f"<Emulator {self.urls.authority_host} tenant={self.urls.tenant_id}>"

