"""TLS material: a private CA and a server certificate for 127.0.0.1 and localhost.

Files (PEM) in a directory: ``ca.pem`` (the bundle clients trust), ``server.pem`` (server chain)
and ``server-key.pem``. Existing files are reused, so a restarted emulator keeps the CA its
clients already trust. Without a directory, one process-wide temporary directory is used, so
a test session makes the CA once.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import trustme

_lock = threading.Lock()
_process_dir: Path | None = None


@dataclass(frozen=True)
class TlsFiles:
    ca_bundle: Path
    cert_chain: Path
    private_key: Path


def ensure_tls(directory: Path | None = None) -> TlsFiles:
    """Return the TLS files in ``directory`` (or the process-wide dir), creating them if missing."""
    global _process_dir
    with _lock:
        if directory is None:
            if _process_dir is None:
                _process_dir = Path(tempfile.mkdtemp(prefix="emulator-tls-"))
                atexit.register(shutil.rmtree, _process_dir, True)
            directory = _process_dir
        files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
        if all(p.exists() for p in (files.ca_bundle, files.cert_chain, files.private_key)):
            return files
        directory.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA(organization_name="bc-sales local cloud emulator")
        leaf = ca.issue_cert("127.0.0.1", "localhost", "::1")
        leaf.private_key_pem.write_to_path(str(files.private_key))
        os.chmod(files.private_key, 0o600)
        with open(files.cert_chain, "wb") as fh:
            for blob in leaf.cert_chain_pems:
                fh.write(blob.bytes())
        ca.cert_pem.write_to_path(str(files.ca_bundle))
        return files
