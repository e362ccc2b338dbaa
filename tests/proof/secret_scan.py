"""Search everything a run leaves behind for secrets, tokens and assertions.

Why decode before searching: the ``__provider`` value in state is base64 of dill bytes, so a
secret captured by a provider object would not show up as plain text in the state file; we scan
the decoded bytes too, and also look for the base64 forms of every needle.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

#: Any JSON Web Token: access tokens, client assertions, federated tokens all have this shape.
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
BEARER = re.compile(r"Bearer\s+[A-Za-z0-9._~+/-]{16,}", re.I)
PEM_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


@dataclass(frozen=True)
class Finding:
    artifact: str
    what: str
    excerpt: str


def _b64_variants(secret: str) -> list[str]:
    """base64 of the secret at the three byte alignments (trimmed to the stable middle part)."""
    out = []
    raw = secret.encode()
    for pad in range(3):
        enc = base64.b64encode(b"\0" * pad + raw).decode()
        start = (pad * 4 + 2) // 3 + 1
        chunk = enc[start:len(enc) - 4]
        if len(chunk) >= 8:
            out.append(chunk)
    return out


def decoded_providers(props: Mapping[str, Any]) -> str:
    """The dill bytes behind a ``__provider`` value, as latin-1 text for searching."""
    value = props.get("__provider")
    if not isinstance(value, str):
        return ""
    try:
        return base64.b64decode(value).decode("latin-1")
    except ValueError:
        return value


def scan(artifacts: Mapping[str, str], needles: Mapping[str, str]) -> list[Finding]:
    """``artifacts``: name -> text; ``needles``: label -> exact secret value."""
    findings: list[Finding] = []
    for name, text in artifacts.items():
        for label, secret in needles.items():
            if not secret:
                continue
            for form in [secret, *_b64_variants(secret)]:
                i = text.find(form)
                if i >= 0:
                    findings.append(Finding(name, label, text[max(0, i - 40): i + 40]))
                    break
        for label, rx in (("JWT", JWT), ("bearer header", BEARER), ("private key", PEM_KEY)):
            m = rx.search(text)
            if m:
                findings.append(Finding(name, label, text[max(0, m.start() - 40): m.end() + 10][:160]))
    return findings


def state_artifacts(state: Mapping[str, Any]) -> dict[str, str]:
    """Harness state entries: inputs/outputs as JSON, plus the decoded serialized providers."""
    out: dict[str, str] = {}
    for name, entry in state.items():
        out[f"state:{name}"] = json.dumps({"id": entry.id, "inputs": entry.inputs, "outputs": entry.outputs},
                                          default=str)
        out[f"provider:{name}:inputs"] = decoded_providers(entry.inputs)
        out[f"provider:{name}:outputs"] = decoded_providers(entry.outputs)
    return out


def request_log_artifact(records: Iterable[Any]) -> str:
    return "\n".join(f"{r.method} {r.path}?{r.query} {r.status} {r.caller or ''}" for r in records)
