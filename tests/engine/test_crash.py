"""``kill -9`` of ``pulumi up`` mid-deployment, then the recovery README documents (issue 10, engine test 7).

The whole process group is killed (the CLI, the language host, the program and the dynamic provider
hosts), as when a CI runner is cancelled or a laptop dies. The emulator lives on, like Dataverse:
an import it accepted keeps running. Recovery is what README "Recovering from an interrupted up"
tells a user to do with the pinned CLI; afterwards one ``up`` must converge with no duplicate role,
role assignment or application user.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable

from emulator import Emulator
from emulator.seed import ids
from tests.engine.conftest import EngineStack, kill_group, wait_until
from tests.engine.expect import check_local_deployment
from tests.program.conftest import emulator_endpoints
from tests.program.test_config import load

APP_ID = ids.BUSINESS_CENTRAL_APP_ID


def import_started(emu: Emulator) -> bool:
    """The emulator accepted an import (it runs for ``import_seconds`` from then on)."""
    return any(op.get("emu_kind") in ("import", "upgrade") for op in list(emu.dataverse.asyncoperations.values()))


def role_assignment_started(emu: Emulator) -> bool:
    return any(r.method == "POST" and ("systemuserroles_association" in r.path or r.path.endswith("/$batch"))
               for r in emu.requests)


def recover(stack: EngineStack) -> None:
    """README "Recovering from an interrupted up", step by step."""
    # 1. the file backend's lock outlives a killed CLI: every command says "the stack is currently locked"
    locked = stack.refresh(check=False)
    assert locked.returncode != 0 and "currently locked" in locked.stderr, locked.stderr
    stack.run("cancel", "--yes")
    # 2. clear the interrupted operations (creates are idempotent: the next up adopts what exists)
    stack.refresh("--clear-pending-creates")


def check_no_duplicates(emu: Emulator) -> None:
    dv = emu.dataverse
    names = Counter(r["name"] for r in dv.roles.values()
                    if (r.get("_parentrootroleid_value") or r["roleid"]) == r["roleid"])
    assert [n for n, c in names.items() if c > 1] == [], names
    for uid, roles in dv.user_roles.items():
        assert len(roles) == len(set(roles)), f"systemuser {uid} holds a role twice: {roles}"
    apps = [u for u in dv.systemusers.values() if u.get("applicationid") == APP_ID]
    assert len(apps) == 1, apps
    imports = [op for op in dv.asyncoperations.values() if op.get("emu_kind") in ("import", "upgrade")]
    assert len(imports) == 1, f"{len(imports)} imports started: the rerun must adopt the first"


def crash_then_converge(stack: EngineStack, emu: Emulator, moment: Callable[[Emulator], bool], what: str) -> Any:
    proc = stack.start("up", "--yes", "--skip-preview")
    # generous: on a loaded machine the deployer check, import polls and role creation come first
    wait_until(lambda: moment(emu) or proc.poll() is not None, timeout=300, what=what)
    assert proc.poll() is None, f"pulumi up ended before {what}"
    kill_group(proc)
    # The killed run's requests still in flight run to their end, as they would in Dataverse; the
    # recovery starts after them (in real life it comes minutes later, not milliseconds).
    assert emu.settle(timeout=30), "the killed run's requests were still in flight after 30 s"

    recover(stack)
    stack.up("--skip-preview")
    check_no_duplicates(emu)
    check_local_deployment(emu.dataverse, load("local", env=emulator_endpoints(emu)), stack.project / "roles")
    stack.up("--skip-preview", "--expect-no-changes")


def test_kill_during_the_solution_import(make_engine_stack: Callable[..., EngineStack],
                                         emulator_factory: Callable[..., Emulator]) -> None:
    emu = emulator_factory(import_seconds=4)
    stack = make_engine_stack(emu)
    crash_then_converge(stack, emu, import_started, "the solution import to start")


def test_kill_during_role_assignment(make_engine_stack: Callable[..., EngineStack],
                                     emulator_factory: Callable[..., Emulator]) -> None:
    emu = emulator_factory(latency_ms=150)
    stack = make_engine_stack(emu)
    crash_then_converge(stack, emu, role_assignment_started, "the first role assignment")
