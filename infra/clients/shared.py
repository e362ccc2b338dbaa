"""The per-process cache of service clients, shared by the Dataverse and Graph clients.

Providers are pickled into the Pulumi state, so they may not hold a client; they ask for one at
operation time instead.  Keeping one client per (connection, identity) in the process means the
token cache and the pooled connections survive from one operation to the next without ever being
serialized.  The credential is resolved on every call, so a rotated secret gets a new client.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Mapping, TypeVar

from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.credentials import CredentialSettings, TokenCredential, resolve_credential

C = TypeVar("C")

_CLIENTS: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.Lock()


def shared_client(
    factory: Callable[..., C],
    connection: EnvironmentEndpoints | Mapping[str, Any],
    credential: TokenCredential | None,
    settings: CredentialSettings | None,
    env: Mapping[str, str] | None,
    kwargs: Mapping[str, Any],
) -> C:
    """The process's client built by ``factory(connection, credential, **kwargs)`` for this key."""
    conn = connection if isinstance(connection, EnvironmentEndpoints) else EnvironmentEndpoints.from_dict(connection)
    cred = credential or resolve_credential(conn, settings, env)
    key = (factory, conn, cred.cache_key, tuple(sorted(kwargs.items())))
    with _LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = _CLIENTS[key] = factory(conn, cred, **kwargs)
        return client


def forget_clients() -> None:
    """Drop every cached client (tests and benchmarks start from a cold process this way)."""
    with _LOCK:
        _CLIENTS.clear()
