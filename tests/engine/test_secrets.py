"""Secrets through the real engine: encrypted in the stack file, the state and the outputs (issue 10, test 6).

The local stack is given the one secret config value an ``existing``-identity stack can hold, the
app registration's client secret (``applicationClientSecret``, relayed to ``connectionSetup``);
the deploying app's own secret reaches the program and the provider host through the environment.
Neither, nor any bearer token or private key, may appear in plain text in the stack file, in
``pulumi stack export`` or in any file of the backend; the secret outputs are ciphertext in the state.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from emulator import Emulator
from emulator.seed import ids
from tests.engine.conftest import EngineStack
from tests.program.conftest import DEPLOYER

CANARY = "bc-app-secret-canary-4d1f9a7e"
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.")
PLAIN_SECRETS = (CANARY, DEPLOYER["AZURE_CLIENT_SECRET"], "PRIVATE KEY", "local-emulator-passphrase")


def leaks(text: str) -> list[str]:
    found = [s for s in PLAIN_SECRETS if s in text]
    found += [f"JWT {m.group(0)[:12]}..." for m in JWT.finditer(text)]
    return found


def test_nothing_secret_in_plain_text_and_secret_outputs_are_ciphertext(
        engine_stack: EngineStack, emulator: Emulator) -> None:
    engine_stack.config_set("bc-sales:applicationClientSecret", CANARY, secret=True)
    stack_file = (engine_stack.project / "Pulumi.local.yaml").read_text()
    assert CANARY not in stack_file and "secure: v1:" in stack_file

    up = engine_stack.up("--skip-preview")
    assert leaks(up.stdout + up.stderr) == []

    exported = engine_stack.export()
    assert leaks(json.dumps(exported)) == []
    backend = Path(engine_stack.env["PULUMI_BACKEND_URL"].removeprefix("file://"))
    for path in backend.rglob("*"):
        if path.is_file():
            assert leaks(path.read_text(errors="replace")) == [], path

    stack_outputs = exported["deployment"]["resources"][0]["outputs"]   # the root stack resource
    secret_sig = "4dabf18193072939515e22adb298388d"                    # Pulumi's secret value signature
    # the engine keeps a secret nested in an object output as a secret of its own: the rest of
    # connectionSetup stays readable without --show-secrets
    for value in (stack_outputs["clientSecret"], stack_outputs["connectionSetup"]["clientSecret"]):
        assert value.get(secret_sig) == "1b47061264138c4ac30d75fd1eb44270" and "ciphertext" in value, value
    assert stack_outputs["connectionSetup"]["clientId"] == ids.BUSINESS_CENTRAL_APP_ID

    shown = engine_stack.outputs(show_secrets=True)
    assert shown["clientSecret"] == CANARY == shown["connectionSetup"]["clientSecret"]
    hidden = engine_stack.outputs()
    assert CANARY not in json.dumps(hidden)
    assert hidden["connectionSetup"]["clientSecret"] == "[secret]"
    assert hidden["connectionSetup"]["tenantId"] == ids.TENANT_ID


def test_a_plain_text_client_secret_is_refused_before_anything_changes(
        engine_stack: EngineStack, emulator: Emulator) -> None:
    # the CLI itself refuses a secret-looking key without --secret; --plaintext (or editing the file by
    # hand) gets past it, and the program must refuse it then
    engine_stack.config_set("bc-sales:applicationClientSecret", CANARY, plaintext=True)
    result = engine_stack.preview(check=False)
    seen = result.stdout + result.stderr
    assert result.returncode != 0
    assert "bc-sales:applicationClientSecret: stored in plain text" in seen
    assert "pulumi config set --secret bc-sales:applicationClientSecret" in seen
    assert CANARY not in seen and "Traceback" not in seen
    assert [r for r in emulator.requests if r.path.startswith("/api/data/") and r.method != "GET"] == []
