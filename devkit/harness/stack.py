"""A tiny stand-in for the Pulumi engine's state handling around one provider host.

Why: lifecycle tests should read like a deployment (up -> up again -> change -> refresh ->
destroy), with inputs and outputs carried between steps the way the engine carries them:
Check(old inputs, new inputs) -> Diff(old outputs, checked inputs) -> Create / Update /
replace (create-before-delete unless the provider asks otherwise) and Read on refresh, where an
empty id removes the resource from the state and returned inputs replace the stored ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .host import PROVIDER_KEY, DiffOutcome, ProviderHost


class CheckFailed(Exception):
    def __init__(self, failures: list[tuple[str, str]]) -> None:
        self.failures = failures
        super().__init__("; ".join(f"{p}: {r}" for p, r in failures))


@dataclass
class StateEntry:
    resource_cls: type
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


@dataclass
class StepResult:
    op: str  # "create" | "same" | "update" | "replace"
    outputs: dict[str, Any]
    diff: DiffOutcome | None = None


@dataclass
class Stack:
    host: ProviderHost
    state: dict[str, StateEntry] = field(default_factory=dict)

    def outputs(self, name: str) -> dict[str, Any]:
        return {k: v for k, v in self.state[name].outputs.items() if k != PROVIDER_KEY}

    def inputs(self, name: str) -> dict[str, Any]:
        return {k: v for k, v in self.state[name].inputs.items() if k != PROVIDER_KEY}

    def _checked(self, resource_cls: type, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        entry = self.state.get(name)
        olds = entry.inputs if entry is not None else {}
        result = self.host.check(resource_cls, name, olds, inputs, entry.outputs if entry is not None else None)
        if result.failures:
            raise CheckFailed(result.failures)
        return result.inputs

    def preview(self, resource_cls: type, name: str, inputs: Mapping[str, Any]) -> StepResult:
        """Check + Diff only (what `pulumi preview` asks of the provider)."""
        news = self._checked(resource_cls, name, inputs)
        if name not in self.state:
            return StepResult("create", {})
        entry = self.state[name]
        diff = self.host.diff(resource_cls, name, entry.id, entry.outputs, news, entry.inputs)
        op = "same" if diff.changes is False else ("replace" if diff.replaces else "update")
        return StepResult(op, self.outputs(name), diff)

    def up(self, resource_cls: type, name: str, inputs: Mapping[str, Any]) -> StepResult:
        news = self._checked(resource_cls, name, inputs)
        if name not in self.state:
            id_, outs = self.host.create(resource_cls, name, news)
            self.state[name] = StateEntry(resource_cls, id_, news, outs)
            return StepResult("create", self.outputs(name))
        entry = self.state[name]
        diff = self.host.diff(resource_cls, name, entry.id, entry.outputs, news, entry.inputs)
        if diff.changes is False:
            return StepResult("same", self.outputs(name), diff)
        if diff.replaces:
            if diff.delete_before_replace:
                self.host.delete(resource_cls, name, entry.id, entry.outputs, entry.inputs)
                del self.state[name]
                id_, outs = self.host.create(resource_cls, name, news)
            else:
                id_, outs = self.host.create(resource_cls, name, news)
                self.host.delete(resource_cls, name, entry.id, entry.outputs, entry.inputs)
            self.state[name] = StateEntry(resource_cls, id_, news, outs)
            return StepResult("replace", self.outputs(name), diff)
        outs = self.host.update(resource_cls, name, entry.id, entry.outputs, news, entry.inputs)
        self.state[name] = StateEntry(resource_cls, entry.id, news, outs)
        return StepResult("update", self.outputs(name), diff)

    def refresh(self, name: str) -> StepResult:
        """Read, then (as pulumi v3.274.1 does) Diff the read outputs against the inputs: ``op`` is
        "update" when the resource drifted from its inputs, else "same"; "deleted" when it is gone."""
        entry = self.state[name]
        result = self.host.read(entry.resource_cls, name, entry.id, entry.outputs, entry.inputs)
        if not result.id:
            del self.state[name]
            return StepResult("deleted", {})
        inputs = result.inputs if result.inputs is not None else entry.inputs
        self.state[name] = StateEntry(entry.resource_cls, result.id, inputs, result.outputs)
        diff = self.host.diff(entry.resource_cls, name, result.id, result.outputs, inputs, inputs)
        return StepResult("same" if diff.changes is False else "update", self.outputs(name), diff)

    def destroy(self, name: str) -> None:
        entry = self.state[name]
        self.host.delete(entry.resource_cls, name, entry.id, entry.outputs, entry.inputs)
        del self.state[name]
