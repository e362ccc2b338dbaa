"""The bad-input corpus (tests/proof/corpus.py): clear errors, no traceback, no write.

For every case: the error names where and what (all ``expect`` substrings), the text a person
reads contains no traceback and no raw exception of a library, and -- for cases that reach a
provider -- the emulator's request log shows no Dataverse POST/PATCH/PUT/DELETE.

About "no traceback" for provider errors: the SDK's provider host always sends the Python
traceback of a failed hook to the engine. What a person acts on is the last line; we require that
line to come from an exception our code raised on purpose (a class under ``infra.``) and to read as
a sentence, and that validation problems arrive as Check failures (no traceback at all).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from devkit.harness.host import ProviderError, ProviderHost
from devkit.harness.stack import CheckFailed, Stack
from devkit.workload import DEPLOYER_SECRET, endpoints_for, host_env, rw1
from emulator.seed import ids
from tests.proof.corpus import BASE_CONFIG, CASES, GOOD_ROLE, STANDIN, Case, config_raw
from tests.proof.deployment import dataverse_writes

LIMITED_CLIENT_ID = ids.LIMITED_CLIENT_ID
LIMITED_SECRET = ids.LIMITED_SECRET
WRONG_SECRET = "wrong-secret-3f9a7c1e-never-valid"
SECRETS = (DEPLOYER_SECRET, LIMITED_SECRET, WRONG_SECRET)

_EXC_PREFIX = re.compile(r"^(?P<cls>[A-Za-z_][\w.]*(?:Error|Exception|Failure|Refused|Warning)):\s*(?P<msg>.*)$", re.S)


def user_facing(details: str) -> tuple[str | None, str]:
    """(exception class path or None, the text a person acts on) from a host error's details."""
    lines = [line for line in details.strip().splitlines() if line.strip()]
    last = lines[-1].strip() if lines else ""
    m = _EXC_PREFIX.match(last)
    return (m.group("cls"), m.group("msg")) if m else (None, last)


def assert_user_facing(details: str) -> str:
    """The last line was raised on purpose by our code and is a readable sentence."""
    cls, text = user_facing(details)
    assert cls is None or cls.startswith("infra."), f"unintended exception reached the user: {cls}: {text}"
    assert "Traceback" not in text and text, f"not a readable message: {details!r}"
    for secret in SECRETS:
        assert secret not in details, "a secret appeared in an error text"
    return text


def _contains_all(text: str, expect: tuple[str, ...], case: Case) -> None:
    low = text.lower()
    missing = [e for e in expect if e.lower() not in low]
    assert not missing, f"{case.id}: message does not name {missing}:\n{text}"


# --- model layers -----------------------------------------------------------------------------


def _run_config(case: Case) -> str:
    from infra.program.config import ConfigError, load_settings

    raw = config_raw(case.data)
    with pytest.raises(ConfigError) as info:
        load_settings(lambda k: raw.get(k), all_keys=[f"bc-sales:{k}" for k in raw], env={}, stack="case")
    return str(info.value)


def _run_role_file(case: Case) -> str:
    from infra.model.roles import RoleFileError, load_role_text

    with pytest.raises(RoleFileError) as info:
        load_role_text(case.data, Path("roles/case.yaml"))
    return str(info.value)


def _run_role_dir(case: Case, tmp: Path) -> str:
    from infra.model.roles import RoleFileError, load_roles

    folder = tmp / "roles"
    folder.mkdir()
    for name, text in case.data.items():
        (folder / name).write_text(text)
    with pytest.raises(RoleFileError) as info:
        load_roles(folder)
    return str(info.value)


def _run_package(case: Case, tmp: Path) -> str:
    from infra.model.solution_package import PackageError, read_package

    path = case.data(tmp)
    with pytest.raises(PackageError) as info:
        read_package(path)
    return str(info.value)


def _params(cases: list[Case]) -> list[Any]:
    return [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason="FOUND: " + c.known_bug)]
                         if c.known_bug else []) for c in cases]


MODEL_CASES = _params([c for c in CASES if c.layer != "provider"])
PROVIDER_CASES = _params([c for c in CASES if c.layer == "provider"])


def test_corpus_size() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"
    assert {c.layer for c in CASES} == {"config", "role_file", "role_dir", "package", "provider"}


def test_baselines_are_valid(tmp_path: Path) -> None:
    """Each case breaks one thing in a valid input, so the valid inputs must load."""
    from infra.model.roles import load_role_text
    from infra.model.solution_package import read_package
    from infra.program.config import load_settings

    raw = config_raw(BASE_CONFIG)
    load_settings(lambda k: raw.get(k), all_keys=[f"bc-sales:{k}" for k in raw], env={}, stack="case")
    load_role_text(GOOD_ROLE, "roles/case.yaml")
    read_package(STANDIN)


@pytest.mark.parametrize("case", MODEL_CASES)
def test_model_case(case: Case, tmp_path: Path) -> None:
    run = {"config": lambda: _run_config(case), "role_file": lambda: _run_role_file(case),
           "role_dir": lambda: _run_role_dir(case, tmp_path), "package": lambda: _run_package(case, tmp_path)}
    text = run[case.layer]()
    assert "Traceback" not in text and "errors.pydantic.dev" not in text, text
    _contains_all(text, case.expect, case)


# --- provider layer ---------------------------------------------------------------------------


class ProviderWorld:
    """One emulator and a provider host per credential variant, shared by the provider cases."""

    def __init__(self, emulator: Any, tmp: Path) -> None:
        self.emulator = emulator
        self.tmp = tmp
        self.urls = emulator.urls.to_dict()
        self.connection = endpoints_for(self.urls)
        self.workload = rw1(self.connection, salespeople=1)
        self.hosts: dict[str, ProviderHost] = {}
        self.installed = False

    def env(self, variant: str) -> dict[str, str]:
        base = host_env(self.urls)
        if variant == "missing":
            return {}
        if variant == "wrong-secret":
            return {**base, "AZURE_CLIENT_SECRET": WRONG_SECRET}
        if variant == "limited":
            return host_env(self.urls, client_id=LIMITED_CLIENT_ID, client_secret=LIMITED_SECRET)
        return base

    def host(self, variant: str) -> ProviderHost:
        if variant not in self.hosts:
            self.hosts[variant] = ProviderHost(self.env(variant))
        return self.hosts[variant]

    def base_inputs(self, kind: str) -> dict[str, Any]:
        index = {n.kind: n for n in self.workload.nodes}
        if kind == "SecurityRole":
            node = next(n for n in self.workload.nodes if n.name == "role-integration-user")
            return node.build({})
        if kind == "UserRoleAssignment":
            node = next(n for n in self.workload.nodes if n.name == "access-integration-user")
            fake = {"role_id": "6f960e32-a72b-e511-80d9-3863bb349780"}
            inputs = node.build({"role-integration-administrator": fake, "role-integration-user": fake})
            return {**inputs, "roles": ["Salesperson"]}
        if kind == "ApplicationUser":
            fake = {"role_id": "6f960e32-a72b-e511-80d9-3863bb349780"}
            inputs = index[kind].build({"role-integration-administrator": fake, "role-integration-user": fake})
            return {**inputs, "roles": ["Salesperson"]}
        return index[kind].build({})

    def install_standin(self) -> None:
        if self.installed:
            return
        stack = Stack(self.host("deployer"))
        for name in ("deployer-check", "solution"):
            node = next(n for n in self.workload.nodes if n.name == name)
            stack.up(node.cls, name, node.build({}))
        self.installed = True

    def close(self) -> None:
        for host in self.hosts.values():
            host.close()


@pytest.fixture(scope="module")
def world(emulator_tls_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProviderWorld]:
    from emulator import Emulator

    emulator = Emulator.start(None, import_seconds=0.05, tls_dir=emulator_tls_dir)
    w = ProviderWorld(emulator, tmp_path_factory.mktemp("corpus"))
    try:
        # a realistic environment: the solution (and with it the nav_* privileges) is installed,
        # so each case's message is about its one broken input only
        w.install_standin()
        yield w
    finally:
        w.close()
        emulator.stop()


def test_provider_baseline_passes_check(world: ProviderWorld) -> None:
    """The unchanged inputs pass Check, so each case's failure comes from its one change."""
    for kind in ("DeployerCheck", "SolutionImport", "SecurityRole", "UserRoleAssignment", "ApplicationUser"):
        node = next(n for n in world.workload.nodes if n.kind == kind)
        outcome = world.host("deployer").check(node.cls, "baseline", {}, world.base_inputs(kind))
        assert outcome.failures == [], (kind, outcome.failures)


@pytest.mark.parametrize("case", PROVIDER_CASES)
def test_provider_case(case: Case, world: ProviderWorld, tmp_path: Path) -> None:
    spec = case.data
    if spec.setup == "install-standin":
        world.install_standin()
    node = next(n for n in world.workload.nodes if n.kind == spec.kind)
    inputs = spec.change(world.base_inputs(spec.kind), {"tmp": tmp_path, "world": world})
    stack = Stack(world.host(spec.env))
    started = time.time()  # by start time: the emulator logs a request just after answering it
    with pytest.raises((CheckFailed, ProviderError)) as info:
        stack.up(node.cls, f"case-{case.id}", inputs)
    if isinstance(info.value, CheckFailed):
        text = "\n".join(f"{prop}: {reason}" for prop, reason in info.value.failures)
        assert_user_facing(text)
    else:
        text = assert_user_facing(info.value.details)
    if os.environ.get("CORPUS_SHOW"):
        print(f"\n[{case.id}] {text}")
    _contains_all(text, case.expect, case)
    writes = dataverse_writes([r for r in world.emulator.requests if r.started >= started])
    assert writes == [], f"{case.id}: wrote to Dataverse before refusing: {[(w.method, w.path) for w in writes]}"
    assert f"case-{case.id}" not in stack.state
