"""TLS material: a private CA and one server certificate valid for every origin the emulator serves
(127.0.0.1 to 127.0.0.4, localhost, ::1).

Files (PEM) in a directory: ``ca.pem`` (the bundle clients trust), ``server.pem`` (server chain)
and ``server-key.pem``. Existing files are reused, so a restarted emulator keeps the CA its
clients already trust (files from an emulator that served one origin only are replaced). Without a directory, one process-wide temporary directory is used, so
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

import ipaddress

import trustme
from cryptography import x509

#: Subject alternative names of the server certificate: the three loopback origins and the usual names.
SERVER_NAMES = ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "localhost", "::1")

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
        if all(p.exists() for p in (files.ca_bundle, files.cert_chain, files.private_key)) and _covers_all(files.cert_chain):
            return files
        directory.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA(organization_name="bc-sales local cloud emulator")
        leaf = ca.issue_cert(*SERVER_NAMES)
        leaf.private_key_pem.write_to_path(str(files.private_key))
        os.chmod(files.private_key, 0o600)
        with open(files.cert_chain, "wb") as fh:
            for blob in leaf.cert_chain_pems:
                fh.write(blob.bytes())
        ca.cert_pem.write_to_path(str(files.ca_bundle))
        return files


def _covers_all(cert_chain: Path) -> bool:
    """True when the stored server certificate names every address in SERVER_NAMES."""
    try:
        cert = x509.load_pem_x509_certificate(cert_chain.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, OSError, x509.ExtensionNotFound):
        return False
    have = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} | set(san.get_values_for_type(x509.DNSName))
    return all(str(ipaddress.ip_address(n)) in have if n[0].isdigit() or ":" in n else n in have for n in SERVER_NAMES)
