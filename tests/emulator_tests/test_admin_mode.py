"""Administration mode: the environment setting (Power Platform admin API) and the Dataverse refusal
of non-admin callers with the documented message (dataverse/admin_mode.py, powerplatform.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from emulator.dataverse.admin_mode import MESSAGE
from tests.emulator_tests.testkit import DEPLOYER, LIMITED, DvClient, get_token, tls

ENVIRONMENTS = "/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments"
POWER_PLATFORM = "https://service.powerapps.com/.default"


def _admin_api(emu: Any, client: tuple[str, str] = DEPLOYER, path: str = "", **params: str) -> httpx.Response:
    token = get_token(emu, client, POWER_PLATFORM)
    return httpx.get(f"{emu.urls.power_platform_url}{ENVIRONMENTS}{path}", verify=tls(emu), timeout=10,
                     params={"api-version": "2021-04-01", **params}, headers={"Authorization": f"Bearer {token}"})


def test_non_admin_callers_are_refused_while_administration_mode_is_on(emulator: Any) -> None:
    limited, deployer = DvClient(emulator, LIMITED), DvClient(emulator, DEPLOYER)
    try:
        assert limited.get("WhoAmI").status_code == 200
        emulator.dataverse.set_administration_mode(True)
        refused = limited.get("WhoAmI")
        assert refused.status_code == 403
        assert refused.json()["error"]["message"] == MESSAGE
        assert "Admin Only mode" in limited.get("roles?$top=1").json()["error"]["message"]  # every request
        assert deployer.get("WhoAmI").status_code == 200  # System Administrator still gets in
        emulator.dataverse.set_administration_mode(False)
        assert limited.get("WhoAmI").status_code == 200
    finally:
        limited.close()
        deployer.close()


def test_the_admin_api_reports_the_runtime_state_and_background_operations(emulator: Any) -> None:
    [env] = _admin_api(emulator).json()["value"]
    props = env["properties"]
    assert props["linkedEnvironmentMetadata"]["instanceUrl"].rstrip("/") == emulator.urls.environment_url
    assert props["states"]["runtime"]["id"] == "Enabled"
    assert props["linkedEnvironmentMetadata"]["backgroundOperationsState"] == "Enabled"
    emulator.dataverse.set_administration_mode(True, background_operations=False)
    one = _admin_api(emulator, path=f"/{env['name']}").json()
    assert one["properties"]["states"]["runtime"]["id"] == "AdminMode"
    assert one["properties"]["linkedEnvironmentMetadata"]["backgroundOperationsState"] == "Disabled"


def test_the_admin_api_refuses_what_the_service_refuses(emulator: Any) -> None:
    assert _admin_api(emulator, LIMITED).status_code == 403  # not a management application
    no_version = httpx.get(f"{emulator.urls.power_platform_url}{ENVIRONMENTS}", verify=tls(emulator), timeout=10,
                           headers={"Authorization": f"Bearer {get_token(emulator, DEPLOYER, POWER_PLATFORM)}"})
    assert no_version.status_code == 400 and no_version.json()["error"]["code"] == "MissingApiVersionParameter"
    dataverse_token = httpx.get(f"{emulator.urls.power_platform_url}{ENVIRONMENTS}?api-version=2021-04-01",
                                verify=tls(emulator), timeout=10,
                                headers={"Authorization": f"Bearer {get_token(emulator, DEPLOYER)}"})
    assert dataverse_token.status_code == 401  # a token for another audience
    assert _admin_api(emulator, path="/00000000-0000-0000-0000-000000000000").status_code == 404


def test_administration_mode_from_the_seed_and_in_snapshots(emulator_factory: Any, tmp_path: Any) -> None:
    from emulator.seed import load_seed

    seed = load_seed()
    seed["dataverse"]["administration_mode"] = True
    emu = emulator_factory(seed, state_dir=tmp_path, snapshot=True)
    assert emu.dataverse.administration_mode is True
    emu.dataverse.set_administration_mode(False, background_operations=False)
    emu.stop()
    again = emulator_factory(seed, state_dir=tmp_path, snapshot=True)
    assert again.dataverse.administration_mode is False and again.dataverse.background_operations is False
    from emulator.dataverse.store import DataverseStore
    from emulator.seed import SeedError

    seed["dataverse"]["administration_mode"] = "yes"
    with pytest.raises(SeedError, match=r"dataverse\.administration_mode: 'yes' is not true or false"):
        DataverseStore(seed)
