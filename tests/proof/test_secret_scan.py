"""Secret scan: after real runs, nothing left behind contains a secret, token or assertion.

Three sign-in kinds, each through the real provider host against the emulator:
* client secret, with 10 % injected faults (so retry and error paths run) and a failed sign-in
  with a wrong secret (so authentication error texts are produced);
* client certificate from a password-protected PFX (the password must not leak);
* workload identity federation from a token file (the assertion must not leak).
Scanned: every state entry (inputs, outputs, decoded serialized providers), the provider hosts'
stderr, every error text, and the emulator's request log. Planted canaries (a user password and
an ARM_* secret in the host environment) catch a run that dumps its environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from devkit.harness.host import ProviderError, ProviderHost
from devkit.harness.stack import CheckFailed, Stack
from devkit.workload import DEPLOYER_SECRET, run_up
from emulator.seed import ids
from tests.proof.deployment import Deployment, add_soak_faults
from tests.proof.secret_scan import request_log_artifact, scan, state_artifacts

PASSWORD_CANARY = "Canary-Passw0rd-7d41e9!"
ARM_CANARY = "arm-canary-secret-0c55d2"
WRONG_SECRET = "wrong-secret-9be2a4-never-valid"
PFX_PASSWORD = "pfx-password-5a1c3f"


def _collect(dep: Deployment, hosts: list[ProviderHost], emulator: Any) -> dict[str, str]:
    artifacts = state_artifacts(dep.stack.state)
    for i, host in enumerate(hosts):
        artifacts[f"host-stderr:{i}"] = "\n".join(host.log)
    artifacts["errors"] = "\n".join(dep.errors)
    artifacts["emulator-log"] = request_log_artifact(emulator.requests)
    return artifacts


def _assert_clean(artifacts: dict[str, str], needles: dict[str, str]) -> None:
    assert any(":provider:" in f":{k}" and v for k, v in artifacts.items()), "no serialized provider scanned"
    assert any("state:" in k for k in artifacts), "no state scanned"
    findings = scan(artifacts, needles)
    assert not findings, "secrets left behind:\n" + "\n".join(f"{f.artifact}: {f.what}: {f.excerpt!r}" for f in findings)


def test_scanner_finds_what_it_looks_for() -> None:
    """The scan itself can fail: planted leaks in every form are found."""
    import base64

    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL3gifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    artifacts = {"plain": f"x {DEPLOYER_SECRET} y", "b64": base64.b64encode(b"ab" + DEPLOYER_SECRET.encode()).decode(),
                 "jwt": f"token={jwt}", "bearer": "Authorization: Bearer abcdefghijklmnopqrstuvwxyz"}
    found = {(f.artifact, f.what) for f in scan(artifacts, {"secret": DEPLOYER_SECRET})}
    assert found == {("plain", "secret"), ("b64", "secret"), ("jwt", "JWT"), ("bearer", "bearer header")}


def test_no_secret_after_client_secret_runs(emulator_factory: Callable[..., Any]) -> None:
    emulator = emulator_factory(import_seconds=0.05, fault_seed=7)
    add_soak_faults(emulator, 0.10, seed=7)
    dep = Deployment(emulator, salespeople=1,
                     host_env_extra={"AZURE_PASSWORD": PASSWORD_CANARY, "ARM_CLIENT_SECRET": ARM_CANARY})
    hosts = [dep.host]
    try:
        dep.attempt(dep.up)
        dep.attempt(dep.refresh)
        changed = dep.changed_workload()
        dep.attempt(lambda: run_up(dep.stack, changed))
        # a failed sign-in: wrong secret, its error text is scanned too
        bad = ProviderHost({**dep.env, "AZURE_CLIENT_SECRET": WRONG_SECRET})
        hosts.append(bad)
        node = next(n for n in dep.workload.nodes if n.kind == "SecurityRole")
        with pytest.raises((ProviderError, CheckFailed)) as info:
            Stack(bad).up(node.cls, "wrong-secret", node.build({}))
        dep.errors.append(getattr(info.value, "details", str(info.value)))
        artifacts = _collect(dep, hosts, emulator)
        dep.workload = changed
        dep.attempt(dep.destroy)
        artifacts.update({f"after-destroy:{k}": v for k, v in _collect(dep, hosts, emulator).items()})
    finally:
        for h in hosts:
            h.close()
    _assert_clean(artifacts, {"client secret": DEPLOYER_SECRET, "wrong client secret": WRONG_SECRET,
                              "password canary": PASSWORD_CANARY, "ARM secret canary": ARM_CANARY})


def _pfx(tmp: Path, pem: Path) -> Path:
    from cryptography.hazmat.primitives.serialization import (BestAvailableEncryption, load_pem_private_key,
                                                              pkcs12)
    from cryptography.x509 import load_pem_x509_certificate

    data = pem.read_bytes()
    key = load_pem_private_key(data, password=None)
    cert = load_pem_x509_certificate(data)
    out = tmp / "deployer.pfx"
    out.write_bytes(pkcs12.serialize_key_and_certificates(b"deployer", key, cert, None,  # type: ignore[arg-type]
                                                          BestAvailableEncryption(PFX_PASSWORD.encode())))
    return out


def test_no_secret_after_certificate_and_federated_runs(emulator_factory: Callable[..., Any], tmp_path: Path) -> None:
    emulator = emulator_factory(import_seconds=0.05)
    pem, _thumb = emulator.app_certificate("deployer")
    assertion = emulator.issue_federated_token("repo:contoso/bc-sales:environment:dev")
    token_file = tmp_path / "federated-token"
    token_file.write_text(assertion)
    urls = emulator.urls.to_dict()
    base = {"AZURE_TENANT_ID": urls["tenant_id"], "AZURE_CLIENT_ID": ids.DEPLOYER_CLIENT_ID}
    variants = {
        "certificate": {**base, "AZURE_CLIENT_CERTIFICATE_PATH": str(_pfx(tmp_path, pem)),
                        "AZURE_CLIENT_CERTIFICATE_PASSWORD": PFX_PASSWORD},
        "federated": {**base, "AZURE_FEDERATED_TOKEN_FILE": str(token_file)},
    }
    for label, env in variants.items():
        emulator.reset()
        dep = Deployment(emulator, salespeople=0)
        dep.host.close()
        dep.host = ProviderHost(env)
        dep.stack = Stack(dep.host)
        try:
            dep.attempt(dep.up)
            dep.assert_converged(dep.workload)
            artifacts = _collect(dep, [dep.host], emulator)
        finally:
            dep.close()
        _assert_clean({f"{label}:{k}": v for k, v in artifacts.items()},
                      {"certificate password": PFX_PASSWORD, "federated assertion": assertion,
                       "assertion signature": assertion.rsplit(".", 1)[-1]})
