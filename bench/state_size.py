"""Bytes of Pulumi state one resource costs, computed the way the engine writes its checkpoint.

Why emulate: the harness has no engine, but the checkpoint format is simple and stable. A custom
resource is stored as one JSON object with its inputs and outputs (each including ``__provider``),
dependencies, and references; the file is indented with four spaces. Secret values are stored as
``{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": ...}``
where the passphrase secrets manager's ciphertext is ``v1:<base64 nonce>:<base64 AES-GCM output>``
of the value's JSON.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable, Mapping

SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270"
PROVIDER_KEY = "__provider"


def _b64_len(n: int) -> int:
    return 4 * math.ceil(n / 3)


def secret_envelope(value: Any) -> dict[str, str]:
    """A stand-in ciphertext of the right length (content is irrelevant for sizing)."""
    plaintext = json.dumps(value)
    ct_len = _b64_len(len(plaintext.encode()) + 16)
    return {SECRET_SIG: SECRET_VALUE, "ciphertext": "v1:" + "A" * _b64_len(12) + ":" + "A" * ct_len}


def _stored(props: Mapping[str, Any], provider_secret: bool) -> dict[str, Any]:
    out = dict(props)
    if provider_secret and PROVIDER_KEY in out:
        out[PROVIDER_KEY] = secret_envelope(out[PROVIDER_KEY])
    return out


def checkpoint_entry(*, urn: str, type_: str, id_: str, inputs: Mapping[str, Any],
                     outputs: Mapping[str, Any], dependencies: Iterable[str],
                     property_dependencies: Mapping[str, Iterable[str]],
                     parent: str, provider_ref: str, provider_secret: bool) -> dict[str, Any]:
    deps = sorted(dependencies)
    return {
        "urn": urn, "custom": True, "id": id_, "type": type_,
        "inputs": _stored(inputs, provider_secret),
        "outputs": _stored(outputs, provider_secret),
        "parent": parent,
        "dependencies": deps,
        "provider": provider_ref,
        "propertyDependencies": {k: sorted(v) for k, v in property_dependencies.items()},
        "created": "2026-01-01T00:00:00.000000000Z",
        "modified": "2026-01-01T00:00:00.000000000Z",
    }


def entry_bytes(entry: Mapping[str, Any]) -> int:
    """Size as the engine stores it (four-space indent, like its checkpoint files)."""
    return len(json.dumps(entry, indent=4).encode())
