"""How the core mounts the Dataverse surface: absent → 404, broken → 500 naming the cause."""

from __future__ import annotations

import importlib
import sys
import types

import pytest

from emulator import Emulator

from .helpers import session


def _whoami(emu: Emulator):
    return session(emu).get(f"{emu.urls.environment_url}/api/data/v9.2/WhoAmI", timeout=5)


def test_missing_dataverse_package_answers_404(emulator_factory, monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = importlib.import_module

    def fake_import(name: str, *args, **kwargs):
        if name == "emulator.dataverse":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", fake_import)
    emu = emulator_factory()
    resp = _whoami(emu)
    assert resp.status_code == 404 and resp.json()["error"]["message"].startswith("The Dataverse surface is not installed")
    assert emu.dataverse is None


def test_broken_dataverse_build_answers_500_and_spares_other_surfaces(emulator_factory, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    broken = types.ModuleType("emulator.dataverse")

    def build_app(ctx):
        raise KeyError("catalog.yaml")

    broken.build_app = build_app  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "emulator.dataverse", broken)
    emu = emulator_factory()
    resp = _whoami(emu)
    assert resp.status_code == 500 and "KeyError" in resp.json()["error"]["message"]
    assert session(emu).get(f"{emu.urls.authority}/v2.0/.well-known/openid-configuration", timeout=5).status_code == 200
    assert "Dataverse surface failed to build" in capsys.readouterr().err
