"""The serialized providers carry no secret and load in a fresh interpreter.

Why: the ``__provider`` input is stored in Pulumi state, unencrypted because our providers set
``serialize_as_secret_always = False``.  That is only safe if dill pickles the classes by
reference (module + name) and captures nothing from the environment.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from emulator.seed import ids
from infra.providers import ApplicationUser, DeployerCheck, SecurityRole, SolutionImport, UsageLocation, UserRoleAssignment

RESOURCES = [DeployerCheck, SecurityRole, SolutionImport, UserRoleAssignment, ApplicationUser, UsageLocation]
SECRETS = [ids.DEPLOYER_SECRET, ids.LIMITED_SECRET, "eyJ"]


@pytest.mark.parametrize("resource_cls", RESOURCES, ids=lambda c: c.__name__)
def test_serialized_provider_is_a_reference_without_secrets(resource_cls, monkeypatch) -> None:
    # Credentials in the environment of the program must not leak into the pickle.
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRETS[0])
    monkeypatch.setenv("AZURE_CLIENT_ID", ids.DEPLOYER_CLIENT_ID)
    provider = resource_cls.provider_class()
    assert provider.serialize_as_secret_always is False
    assert vars(provider) == {}
    blob = base64.b64decode(serialize_provider(provider))
    for secret in SECRETS:
        assert secret.encode() not in blob
    # By reference: the module path is there, no code object was pickled.
    assert resource_cls.provider_class.__module__.encode() in blob
    assert b"co_code" not in blob and b"CodeType" not in blob
    assert len(blob) < 400, len(blob)
    assert serialize_provider(provider) == serialize_provider(resource_cls.provider_class())


def test_serialized_providers_load_in_a_fresh_process(tmp_path) -> None:
    blobs = {c.__name__: serialize_provider(c.provider_class()) for c in RESOURCES}
    script = (
        "import base64, dill, sys, json\n"
        "blobs = json.loads(sys.stdin.read())\n"
        "for name, b in sorted(blobs.items()):\n"
        "    p = dill.loads(base64.b64decode(b))\n"
        "    print(name, type(p).__module__, type(p).__name__)\n"
    )
    import json

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "ARM_"))}
    out = subprocess.run([sys.executable, "-c", script], input=json.dumps(blobs), text=True,
                         capture_output=True, env=env, cwd=tmp_path, check=True, timeout=60)
    lines = sorted(out.stdout.split("\n"))[1:]
    assert lines == sorted(f"{c.__name__} {c.provider_class.__module__} {c.provider_class.__name__}"
                           for c in RESOURCES)


@pytest.mark.parametrize("module, name, now", [
    ("infra.providers.preflight", "PreflightProvider", DeployerCheck),
    ("infra.providers.user_access", "UserAccessProvider", UserRoleAssignment),
])
def test_providers_recorded_before_the_renames_still_load(module: str, name: str, now: type) -> None:
    """State written before Preflight/UserAccess were renamed holds pickles naming the old module
    and class; refresh and destroy unpickle them (the engine test tests/engine/test_upgrade.py runs
    that end to end).  The pickle below is what dill wrote for them: by reference, empty state."""
    recorded = b"\x80\x04" + b"c" + f"{module}\n{name}\n".encode() + b")\x81}b."
    import dill

    provider = dill.loads(recorded)
    assert type(provider) is now.provider_class
