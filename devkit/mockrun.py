"""Run the REAL ``infra/__main__.py`` under Pulumi's mock runtime and record what it registers.

Why this shape: it mirrors what the Pulumi language host does (``set_all_config`` from the stack's
config, ``run_in_stack(runpy.run_path(program))``, ``pulumi.RunError`` printed without a
traceback), with a resource monitor that records every registration -- type, name, parent,
inputs (secrets marked), ``depends_on``, options -- and the stack outputs.  No CLI and no plugin
binary is involved.

Run in a subprocess (``python -m devkit.mockrun --stack dev --out rec.json [--project-dir DIR]``,
or for people ``bc-sales mock-run --stack dev``) so each stack gets a fresh runtime and a
controlled environment (PATH without ``pulumi``, no credentials).  The project (Pulumi.yaml, the
stack files and the program in ``infra/``) is this checkout unless ``--project-dir`` names
another.  Exit status 1 when the program failed (the record holds the error, which is also
printed), 0 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import runpy
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "bc-sales"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SIG_KEY = "4dabf18193072939515e22adb298388d"


# --- stack config exactly as the CLI hands it to the program ---------------------------------


def _cli_value(value: Any) -> str:
    """Scalars as text (booleans lower case), objects and lists as JSON -- like the CLI."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def stack_config(stack: str, overrides: dict[str, Any] | None = None, *, root: Path = ROOT) -> dict[str, str]:
    """``Pulumi.<stack>.yaml`` merged over the ``Pulumi.yaml`` defaults, as ``bc-sales:key -> str``."""
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    stack_file = yaml.safe_load((root / f"Pulumi.{stack}.yaml").read_text()) or {}
    values: dict[str, Any] = {}
    for key, decl in (project.get("config") or {}).items():
        if isinstance(decl, dict) and "default" in decl:
            values[f"{PROJECT}:{key}"] = decl["default"]
    values.update(stack_file.get("config") or {})
    for key, value in (overrides or {}).items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if value is None:
            values.pop(full, None)
        else:
            values[full] = value
    return {k: _cli_value(v) for k, v in values.items()}


# --- recording monitor -----------------------------------------------------------------------


def _mark_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return {"__secret__": _mark_secrets(value.get("value"))}
        return {k: _mark_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mark_secrets(v) for v in value]
    return value


def _id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def _make_mocks() -> Any:
    import pulumi

    class BcSalesMocks(pulumi.runtime.Mocks):
        """Plausible outputs per resource type (ids derived from names, so runs are stable)."""

        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            inputs = dict(args.inputs)
            typ, name = args.typ, args.name
            state = dict(inputs)
            rid = _id(typ, name)
            if typ == "random:index/randomPassword:RandomPassword":
                state["result"] = f"mock-password-{name}"
            elif typ == "azuread:index/user:User":
                state["objectId"] = rid
            elif typ == "azuread:index/application:Application":
                state.update(clientId=_id("client", name), objectId=rid)
                rid = f"/applications/{rid}"
            elif typ == "azuread:index/servicePrincipal:ServicePrincipal":
                state["objectId"] = rid
            elif typ == "azuread:index/applicationPassword:ApplicationPassword":
                state["value"] = "mock-client-secret-value"
                state["keyId"] = rid
            elif typ.endswith("dataverse:DeployerCheck"):
                state.update(caller_user_id=_id("caller"), identity="mock deployer")
            elif typ.endswith("dataverse:SolutionImport"):
                state.update(solution_id=rid, installed_version=inputs.get("version"))
            elif typ.endswith("dataverse:SolutionRequirement"):  # what Business Central installed
                state.update(solution_id=rid, installed_version=inputs.get("minimum_version") or "9.0.0.0",
                             managed=True)
            elif typ.endswith("dataverse:SecurityRole"):
                state.update(role_id=inputs.get("role_id") or rid, adopted=False, created=True, managed=False)
            elif typ.endswith("dataverse:UserRoleAssignment") or typ.endswith("dataverse:ApplicationUser"):
                state.update(systemuser_id=rid, role_ids=[r for r in inputs.get("roles", [])])
            return rid, state

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
            if args.token == "azuread:index/getUser:getUser":
                upn = args.args.get("userPrincipalName", "")
                return {"objectId": _id("user", upn), "userPrincipalName": upn, "id": _id("user", upn)}, []
            return {}, []

    return BcSalesMocks()


def _make_monitor(mocks: Any, record: dict[str, Any]) -> Any:
    from pulumi.runtime import rpc
    from pulumi.runtime.mocks import MockMonitor

    class RecordingMonitor(MockMonitor):
        def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC name
            response = super().RegisterResource(request)
            if request.type != "pulumi:pulumi:Stack":
                raw = rpc.deserialize_properties(request.object, keep_unknowns=True)
                record["resources"].append({
                    "type": request.type,
                    "name": request.name,
                    "urn": response.urn,
                    "parent": request.parent,
                    "custom": request.custom,
                    "provider": request.provider,
                    "inputs": _mark_secrets(raw),
                    "dependencies": list(request.dependencies),
                    "additional_secret_outputs": list(request.additionalSecretOutputs),
                    "protect": request.protect if request.HasField("protect") else None,
                    "retain_on_delete": request.retainOnDelete if request.HasField("retainOnDelete") else None,
                })
            return response

        def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
            outputs = _mark_secrets(rpc.deserialize_properties(request.outputs, keep_unknowns=True))
            if "::pulumi:pulumi:Stack::" in request.urn:
                record["outputs"] = outputs
            return super().RegisterResourceOutputs(request)

        def Invoke(self, request: Any) -> Any:  # noqa: N802
            record["invokes"].append(request.tok)
            return super().Invoke(request)

    return RecordingMonitor(mocks)


class _Collect(logging.Handler):
    def __init__(self, sink: list[dict[str, str]]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, rec: logging.LogRecord) -> None:
        self.sink.append({"level": rec.levelname, "message": rec.getMessage()})


def run_program(stack: str, config: dict[str, str], *, preview: bool = False, root: Path = ROOT) -> dict[str, Any]:
    """Run ``<root>/infra/__main__.py`` once in this process (call it once per process)."""
    import pulumi
    from google.protobuf import empty_pb2
    from pulumi.runtime import config as runtime_config
    from pulumi.runtime import mocks as runtime_mocks
    from pulumi.runtime import settings as runtime_settings
    from pulumi.runtime.stack import run_in_stack

    record: dict[str, Any] = {"stack": stack, "resources": [], "outputs": None, "invokes": [], "logs": [],
                              "error": None, "error_kind": None}
    logger = logging.getLogger(f"bc-sales-mock-{stack}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(_Collect(record["logs"]))

    runtime_config.set_all_config(config, [])
    monitor = _make_monitor(_make_mocks(), record)
    runtime_settings.configure(runtime_mocks.MockSettings(
        monitor=monitor,
        monitor_features=set(monitor.GetDeploymentInfo(empty_pb2.Empty()).supportedFeatures),
        engine=runtime_mocks.MockEngine(logger),
        project=PROJECT,
        stack=stack,
        dry_run=preview,
        organization="organization",
        callbacks=None,
    ))
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(run_in_stack(lambda: runpy.run_path(str(root / "infra"), run_name="__main__")))
    except pulumi.RunError as exc:  # what the language host prints without a traceback
        record["error"], record["error_kind"] = str(exc), "RunError"
    except Exception as exc:  # noqa: BLE001 - recorded for the test to show
        import traceback

        record["error"], record["error_kind"] = traceback.format_exc(), type(exc).__name__
    finally:
        loop.close()
    record["pulumi_on_path"] = shutil.which("pulumi")
    record["plugin_processes"] = _plugin_children()
    return record


def _plugin_children() -> list[str]:
    """Names of child processes (a provider plugin would be one); must stay empty."""
    try:
        import psutil
    except ImportError:  # pragma: no cover
        return []
    return [p.name() for p in psutil.Process().children(recursive=True)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--stack", required=True)
    ap.add_argument("--overrides", default="{}", help="JSON object of config key -> value (null removes)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--preview", action="store_true")
    ap.add_argument("--project-dir", type=Path, default=ROOT, help="the folder with Pulumi.yaml (default: this checkout)")
    args = ap.parse_args(argv)
    root = args.project_dir.resolve()
    config = stack_config(args.stack, json.loads(args.overrides), root=root)
    out = Path(args.out).resolve()
    os.chdir(root / "infra")  # the CLI runs the program with main (infra/) as working directory
    record = run_program(args.stack, config, preview=args.preview, root=root)
    out.write_text(json.dumps(record, default=str))
    if record["error"]:
        print(f"mockrun: stack {args.stack}: the program failed ({record['error_kind']}):\n{record['error']}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
