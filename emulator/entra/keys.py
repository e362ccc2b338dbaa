"""RSA signing keys for access tokens and for the built-in test OIDC issuers.

Generating a 2048-bit key costs ~0.1 s, so keys are made once per process and reused by every
in-process emulator. With a state directory the key is stored there, so tokens issued before a
restart still validate after it (as a real tenant's keys outlive a client's token cache).
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

_lock = threading.Lock()
_process_keys: dict[str, "SigningKey"] = {}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class SigningKey:
    """A private key plus its key id and JWK form."""

    private_key: rsa.RSAPrivateKey
    kid: str

    @classmethod
    def from_private_key(cls, key: rsa.RSAPrivateKey) -> "SigningKey":
        der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return cls(private_key=key, kid=b64url(hashlib.sha256(der).digest()[:15]))

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def jwk(self) -> dict[str, Any]:
        numbers = self.public_key.public_numbers()
        return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                "n": _int_b64(numbers.n), "e": _int_b64(numbers.e)}

    def pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def load_or_create(name: str, state_dir: Path | None) -> SigningKey:
    """Return key ``name``: from ``state_dir/<name>.pem`` if present, else the process key (stored when a dir is given)."""
    path = state_dir / f"{name}.pem" if state_dir else None
    if path is not None and path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return SigningKey.from_private_key(key)
    with _lock:
        sk = _process_keys.get(name)
        if sk is None:
            sk = SigningKey.from_private_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))
            _process_keys[name] = sk
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(sk.pem())
        os.replace(tmp, path)
    return sk
