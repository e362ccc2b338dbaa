"""Small client-side helpers for the emulator's own tests (real HTTPS, verified CA)."""

from __future__ import annotations

from typing import Any

import msal
import requests

from emulator import Emulator
from emulator.seed import ids

DEPLOYER_SECRET = ids.DEPLOYER_SECRET
LIMITED_SECRET = ids.LIMITED_SECRET
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
SALES_SKU = ids.SALES_SKU_ID
TEAM_MEMBERS_SKU = ids.TEAM_MEMBERS_SKU_ID


def session(emu: Emulator) -> requests.Session:
    """A requests session that trusts only the emulator's CA."""
    s = requests.Session()
    s.verify = emu.urls.ca_bundle
    return s


def msal_app(emu: Emulator, credential: Any, app: str = "deployer",
             http: requests.Session | None = None) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        emu.app(app)["client_id"], client_credential=credential, authority=emu.urls.authority,
        instance_discovery=False, http_client=http or session(emu))


def token(emu: Emulator, scope: str = GRAPH_SCOPE, app: str = "deployer", secret: str = DEPLOYER_SECRET) -> str:
    result = msal_app(emu, secret, app).acquire_token_for_client([scope])
    assert "access_token" in result, result
    return str(result["access_token"])


def graph_headers(emu: Emulator, app: str = "deployer", secret: str = DEPLOYER_SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(emu, GRAPH_SCOPE, app, secret)}"}


def token_request(emu: Emulator, http: requests.Session, **form: str) -> requests.Response:
    """Raw POST to the token endpoint (for refusals msal would hide or pre-validate)."""
    return http.post(f"{emu.urls.authority}/oauth2/v2.0/token", data=form, timeout=10)


def wait_for(predicate, timeout: float = 3.0) -> bool:
    """Poll ``predicate`` (the server logs a reset request just after the client sees the reset)."""
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())
