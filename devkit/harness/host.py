"""Drive the Pulumi SDK's dynamic-provider host (``python -m pulumi.dynamic``) over gRPC.

Why: a dynamic provider only meets reality inside that host — pickled with dill into the
``__provider`` input, unpickled in another process, its properties round-tripped through protobuf
``Struct`` values, its exceptions turned into gRPC errors.  Calling the provider class directly
would hide every one of those failure modes, so the tests build requests exactly the way the
engine does and talk to the real host process.

"The way the engine does" was measured with the real engine (pulumi v3.274.1, ``PULUMI_DEBUG_GRPC``
over a whole up / change / refresh / destroy of the local stack, tests/engine): the host is started
in the program folder with ``PULUMI_RUNTIME_TOOLCHAIN``, ``PULUMI_PROJECT`` and ``PULUMI_CONFIG``
(the stack config as JSON) in its environment; the engine calls Handshake, CheckConfig and
Configure (``variables`` keyed ``pulumi-python:config:<namespace>:<key>``) first; Check carries the
old inputs as ``olds``, the old outputs as ``old_outputs`` and a ``randomSeed``; URNs name the
parent component's type; a refresh is a Read followed by a Diff of the read outputs against the
inputs; Cancel is sent before the host is stopped.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import grpc
from google.protobuf import empty_pb2, struct_pb2

from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from .pipe_lines import PipeLines

PROVIDER_KEY = "__provider"
STACK = "test"
PROJECT = "bc-sales"


class ProviderError(Exception):
    """A hook raised inside the host.  ``message`` is the last line the user would see."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self.code = code
        self.details = details
        lines = [line for line in details.strip().splitlines() if line.strip()]
        self.message = lines[-1] if lines else ""
        super().__init__(self.message)


@dataclass
class CheckOutcome:
    inputs: dict[str, Any]
    failures: list[tuple[str, str]]


@dataclass
class DiffOutcome:
    changes: bool | None
    replaces: list[str] = field(default_factory=list)
    delete_before_replace: bool = False


@dataclass
class ReadOutcome:
    id: str
    outputs: dict[str, Any]
    inputs: dict[str, Any] | None


def type_token(resource_cls: type) -> str:
    """The engine's type token of a dynamic resource class (``pulumi-python:dynamic/...``)."""
    return f"pulumi-python:{resource_cls._resource_type_name}"  # type: ignore[attr-defined]


#: The component every dynamic resource of the program is parented to (infra/program/sales.py).
PARENT_TYPE = "bc-sales:sales:SalesIntegration"


def urn_for(token: str, name: str, stack: str = STACK, project: str = PROJECT, parent_type: str = PARENT_TYPE) -> str:
    """A resource URN shaped like the engine's: ``<parent type>$<type>`` for a child resource."""
    qualified = f"{parent_type}${token}" if parent_type else token
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


def _to_struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(dict(props), {}))
    finally:
        loop.close()


def _from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    """Properties as Python values; unknowns stay the engine's UNKNOWN sentinel so that they go
    back into the next request unchanged, as the engine would send them."""
    return dict(_sentinels(rpc.deserialize_properties(struct, keep_unknowns=True)) or {})


def _sentinels(value: Any) -> Any:
    from pulumi.output import Unknown

    if isinstance(value, Unknown):
        return rpc.UNKNOWN
    if isinstance(value, dict):
        return {k: _sentinels(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sentinels(v) for v in value]
    return value


class ProviderHost:
    """One ``python -m pulumi.dynamic`` subprocess and a gRPC stub connected to it."""

    def __init__(self, env: Mapping[str, str] | None = None, *, config: Mapping[str, Any] | None = None,
                 stack: str = STACK, project: str = PROJECT) -> None:
        self._env = dict(env or {})
        self._config = dict(config or {})
        self.stack = stack
        self.project = project
        self.proc: subprocess.Popen[bytes] | None = None
        self.channel: grpc.Channel | None = None
        self.stub: provider_pb2_grpc.ResourceProviderStub | None = None
        self._stderr: PipeLines | None = None
        self.start()

    # -- process lifecycle -------------------------------------------------------------------

    #: The engine starts plugins in the program's folder (``main: infra/``), inside the project;
    #: providers must find project files from there, never depend on an absolute checkout path.
    cwd = str(Path(__file__).resolve().parents[2] / "infra")

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AZURE_", "ARM_", "PULUMI_"))}
        env.update(self._env)
        # What the engine puts in a provider host's environment (runtime options, project, config).
        env["PULUMI_RUNTIME_TOOLCHAIN"] = "pip"
        env["PULUMI_PROJECT"] = self.project
        env["PULUMI_CONFIG"] = json.dumps({k: v if isinstance(v, str) else json.dumps(v)
                                           for k, v in self._config.items()})
        env["PYTHONUNBUFFERED"] = "1"
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()  # the previous process's, after a restart
        # -u like the SDK's pulumi-resource-pulumi-python launcher: the port is written unflushed.
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.dynamic"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=self.cwd,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        if not line.isdigit():
            err = self.proc.stderr.read().decode() if self.proc.stderr else ""
            raise RuntimeError(f"provider host did not print a port: {line!r} {err}")
        assert self.proc.stderr is not None
        if self._stderr is not None:
            self._stderr.close()  # the previous process's, after a restart
        self._stderr = PipeLines(self.proc.stderr)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        grpc.channel_ready_future(self.channel).result(timeout=10)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        try:
            self.handshake()
            self.configure(self._config)
        except BaseException:
            self.kill()  # never leave a host process behind when it could not be set up
            raise

    @property
    def log(self) -> list[str]:
        """Lines the host wrote on stderr (where pulumi.log goes without an engine).

        The host writes a line before it answers the RPC that logged it, and :class:`PipeLines`
        reads the pipe dry before answering, so every line logged by a finished RPC is here."""
        return self._stderr.lines() if self._stderr is not None else []

    def clear_log(self) -> None:
        if self._stderr is not None:
            self._stderr.clear()

    def cancel(self) -> None:
        """What the engine sends before it stops a host at the end of a deployment."""
        if self.stub is not None and self.proc is not None and self.proc.poll() is None:
            try:
                self.stub.Cancel(empty_pb2.Empty(), timeout=10)
            except grpc.RpcError:
                pass

    def kill(self) -> None:
        """Interrupt the host abruptly (SIGKILL), like a crashed or cancelled deployment."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        if self.channel is not None:
            self.channel.close()
            self.channel = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def close(self) -> None:
        self.cancel()
        self.kill()
        if self.proc is not None:
            if self.proc.stdout:
                self.proc.stdout.close()
            if self._stderr is not None:
                self._stderr.close()

    def __enter__(self) -> "ProviderHost":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- RPCs, built like the engine builds them ---------------------------------------------

    def _call(self, method: str, request: Any, timeout: float = 120) -> Any:
        assert self.stub is not None, "host not running"
        try:
            return getattr(self.stub, method)(request, timeout=timeout)
        except grpc.RpcError as exc:  # noqa: PERF203
            raise ProviderError(exc.code(), exc.details() or "") from None

    def handshake(self) -> None:
        """The engine's first call; hosts that do not implement it are fine (as for the engine)."""
        assert self.stub is not None
        try:
            self.stub.Handshake(provider_pb2.ProviderHandshakeRequest(
                engine_address="127.0.0.1:0", root_directory=self.cwd, program_directory=self.cwd,
                configure_with_urn=True, supports_views=True, supports_refresh_before_update=True,
                invoke_with_preview=True, accepts_byte_string=True, sends_old_outputs_to_check=True,
                accepts_outputs_in_invoke=True, accepts_outputs_in_call=True), timeout=10)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise ProviderError(exc.code(), exc.details() or "") from None

    def configure(self, config: Mapping[str, Any]) -> None:
        """CheckConfig then Configure, with the stack config as the engine sends it: ``variables``
        keyed ``pulumi-python:config:<namespace>:<key>`` holding strings (objects as JSON)."""
        flat = {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
        provider_urn = f"urn:pulumi:{self.stack}::{self.project}::pulumi:providers:pulumi-python::default"
        try:  # the dynamic host answers UNIMPLEMENTED; the engine carries on, so do we
            self._call("CheckConfig", provider_pb2.CheckRequest(
                urn=provider_urn, olds=_to_struct({}), news=_to_struct(flat), name="default",
                type="pulumi:providers:pulumi-python"))
        except ProviderError as exc:
            if exc.code != grpc.StatusCode.UNIMPLEMENTED:
                raise
        self._call("Configure", provider_pb2.ConfigureRequest(
            variables={f"pulumi-python:config:{k}": v for k, v in flat.items()},
            args=_to_struct(config), acceptSecrets=True, acceptResources=True))

    def urn(self, resource_cls: type, name: str) -> str:
        return urn_for(type_token(resource_cls), name, self.stack, self.project)

    def check(self, resource_cls: type, name: str, olds: Mapping[str, Any],
              news: Mapping[str, Any], old_outputs: Mapping[str, Any] | None = None) -> CheckOutcome:
        """``news`` are the program's inputs; ``__provider`` is added like Resource.__init__ does.
        ``olds`` are the old inputs and ``old_outputs`` the old outputs (update path only)."""
        token = type_token(resource_cls)
        news = {**news, PROVIDER_KEY: serialize_provider(resource_cls.provider_class())}
        resp = self._call("Check", provider_pb2.CheckRequest(
            urn=urn_for(token, name, self.stack, self.project), olds=_to_struct(olds),
            news=_to_struct(news), name=name, type=token, randomSeed=os.urandom(32),
            old_outputs=_to_struct(old_outputs or {})))
        return CheckOutcome(inputs=_from_struct(resp.inputs),
                            failures=[(f.property, f.reason) for f in resp.failures])

    def diff(self, resource_cls: type, name: str, id_: str, old_outputs: Mapping[str, Any],
             news: Mapping[str, Any], old_inputs: Mapping[str, Any]) -> DiffOutcome:
        token = type_token(resource_cls)
        resp = self._call("Diff", provider_pb2.DiffRequest(
            id=id_, urn=urn_for(token, name, self.stack, self.project), olds=_to_struct(old_outputs),
            news=_to_struct(news), old_inputs=_to_struct(old_inputs), name=name, type=token))
        changes = {provider_pb2.DiffResponse.DIFF_SOME: True,
                   provider_pb2.DiffResponse.DIFF_NONE: False}.get(resp.changes)
        return DiffOutcome(changes=changes, replaces=list(resp.replaces),
                           delete_before_replace=resp.deleteBeforeReplace)

    def create(self, resource_cls: type, name: str, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        token = type_token(resource_cls)
        resp = self._call("Create", provider_pb2.CreateRequest(
            urn=urn_for(token, name, self.stack, self.project), properties=_to_struct(inputs),
            name=name, type=token, timeout=600))
        return resp.id, _from_struct(resp.properties)

    def read(self, resource_cls: type, name: str, id_: str, outputs: Mapping[str, Any],
             inputs: Mapping[str, Any]) -> ReadOutcome:
        token = type_token(resource_cls)
        resp = self._call("Read", provider_pb2.ReadRequest(
            id=id_, urn=urn_for(token, name, self.stack, self.project), properties=_to_struct(outputs),
            inputs=_to_struct(inputs), name=name, type=token))
        new_inputs = _from_struct(resp.inputs) if resp.HasField("inputs") else None
        return ReadOutcome(id=resp.id, outputs=_from_struct(resp.properties), inputs=new_inputs)

    def update(self, resource_cls: type, name: str, id_: str, old_outputs: Mapping[str, Any],
               news: Mapping[str, Any], old_inputs: Mapping[str, Any]) -> dict[str, Any]:
        token = type_token(resource_cls)
        resp = self._call("Update", provider_pb2.UpdateRequest(
            id=id_, urn=urn_for(token, name, self.stack, self.project), olds=_to_struct(old_outputs),
            news=_to_struct(news), old_inputs=_to_struct(old_inputs), name=name, type=token,
            timeout=600))
        return _from_struct(resp.properties)

    def delete(self, resource_cls: type, name: str, id_: str, outputs: Mapping[str, Any],
               old_inputs: Mapping[str, Any]) -> None:
        token = type_token(resource_cls)
        self._call("Delete", provider_pb2.DeleteRequest(
            id=id_, urn=urn_for(token, name, self.stack, self.project), properties=_to_struct(outputs),
            old_inputs=_to_struct(old_inputs), name=name, type=token, timeout=600))


__all__ = ["ProviderHost", "ProviderError", "CheckOutcome", "DiffOutcome", "ReadOutcome",
           "type_token", "urn_for", "PROVIDER_KEY"]
