"""Call a pulumi-policy ResourceValidationPolicy the way the analyzer does, without the CLI."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyResource, PolicyResourceOptions, ResourceValidationArgs, StackValidationArgs
from pulumi_policy.proxy import unknown_checking_proxy


def urn_for(stack: str, type_: str, name: str) -> str:
    return f"urn:pulumi:{stack}::bc-sales::bc-sales:index:Sales${type_}::{name}"


def run_policy(policy: Any, type_: str, props: Mapping[str, Any], *, stack: str = "dev",
               config: Mapping[str, Any] | None = None, name: str = "r") -> list[str]:
    """Validate one resource the way the analyzer does and return the reported messages."""
    args = ResourceValidationArgs(
        resource_type=type_,
        props=unknown_checking_proxy(dict(props)),
        urn=urn_for(stack, type_, name),
        name=name,
        opts=PolicyResourceOptions(False, [], False, [], None, []),  # type: ignore[arg-type]
        provider=None,
        config=dict(config or {}),
    )
    reported: list[str] = []
    result = policy.validate(args, lambda message, urn=None: reported.append(message))
    assert result is None, "the guardrails are synchronous"
    return reported


def run_stack_policy(policy: Any, resources: list[tuple[str, str, Mapping[str, Any]]], *, stack: str = "dev",
                     config: Mapping[str, Any] | None = None) -> list[tuple[str, str | None]]:
    """Validate a stack (``(type, name, outputs)`` per resource) the way the analyzer does;
    returns (message, urn) per violation."""
    opts = PolicyResourceOptions(False, [], False, [], None, [])  # type: ignore[arg-type]
    policy_resources = [
        PolicyResource(type_, unknown_checking_proxy(dict(props)), urn_for(stack, type_, name), name, opts,
                       None, None, [], {})
        for type_, name, props in resources
    ]
    args = StackValidationArgs(policy_resources, dict(config or {}))
    reported: list[tuple[str, str | None]] = []
    result = policy.validate(args, lambda message, urn=None: reported.append((message, urn)))
    assert result is None, "the guardrails are synchronous"
    return reported
