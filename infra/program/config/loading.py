"""Loading a stack's config: from any ``key -> value`` lookup, or from the Pulumi runtime.

Values reach the program as strings (objects and lists as JSON text) -- exactly how the CLI passes
them -- so :func:`load_settings` works on any lookup and the tests need no runtime.  Every problem
is collected before anything is raised, so one run lists them all.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from infra.model.solution_package import PackageInfo
from infra.program.config.checks import cross_checks
from infra.program.config.keys import ConfigKey, adapter, config_keys, field_of
from infra.program.config.messages import ConfigError, show, translate
from infra.program.config.project import ENDPOINT_ENV_VARS, PROJECT, PROJECT_ROOT, SECRET_KEYS
from infra.program.config.settings import StackSettings

__all__ = ["CheckedStack", "Lookup", "LoadedStack", "check_stack", "load_from_pulumi", "load_settings",
           "load_stack", "load_stack_from_pulumi"]

#: ``lookup(key)`` -> the raw value of ``bc-sales:<key>``, ``None`` when not set.
Lookup = Callable[[str], Any]


@dataclass(frozen=True)
class CheckedStack:
    """What checking a stack's config found: the settings when there is no problem, and the package.

    ``package`` is the solution package ``solutionPath`` names, read once while checking (``None``
    with ``solutionSource: business-central``, without file checks, or when it cannot be read); it
    is kept even when other keys have problems, so ``bc-sales validate`` can check roles against it.
    """

    settings: StackSettings | None
    package: PackageInfo | None
    problems: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class LoadedStack:
    """A stack's valid settings and the solution package they name, read once (see :class:`CheckedStack`)."""

    settings: StackSettings
    package: PackageInfo | None


def _decode(key: ConfigKey, raw: Any) -> tuple[Any, str | None]:
    """CLI values are strings; objects and lists arrive as JSON text."""
    if key.structured and isinstance(raw, str):
        try:
            return json.loads(raw), None
        except json.JSONDecodeError:
            kind = "a list" if key.pulumi_type == "array" or key.name == "salespeople" else "an object"
            return None, f"{PROJECT}:{key.name} = {show(raw)}: expected {kind} (YAML mapping/list in the stack file)"
    if not key.structured and isinstance(raw, str) and raw == "" and key.default in ("", None):
        return None, None
    return raw, None


def _truthy(raw: Any) -> bool:
    return str(raw).strip().lower() in ("true", "1", "yes") if raw is not None else False


def check_stack(
    lookup: Lookup,
    *,
    all_keys: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    check_files: bool = True,
    require_endpoint_env: bool = True,
    root: Path = PROJECT_ROOT,
) -> CheckedStack:
    """Validate the stack's ``bc-sales:`` keys and return every problem (never raises for bad config).

    ``lookup(key)`` returns the raw value of ``bc-sales:<key>`` or ``None``; ``all_keys`` are the
    full config keys present (to report unknown keys, typos included); ``env`` supplies the
    endpoint overrides of the local stack; ``require_endpoint_env=False`` (offline validation)
    accepts the stack file's own endpoint values when those variables are not set;
    ``check_files`` reads the files the config names, relative paths against ``root``.
    """
    env = os.environ if env is None else env
    keys = config_keys()
    known = {k.name for k in keys}
    problems: list[str] = []
    for full in sorted(all_keys):
        ns, _, name = full.partition(":")
        if ns == PROJECT and name not in known:
            hint = difflib.get_close_matches(name, sorted(known), n=1)
            problems.append(
                f"{full}: unknown key" + (f" (did you mean {PROJECT}:{hint[0]}?)" if hint else "")
                + "; see the config reference in README.md"
            )

    raw_values: dict[str, Any] = {k.name: lookup(k.name) for k in keys}
    if _truthy(raw_values.get("endpointsFromEnvironment")):
        for name, var in ENDPOINT_ENV_VARS.items():
            if env.get(var):
                raw_values[name] = env[var]
            elif name == "environmentUrl" and require_endpoint_env:
                problems.append(
                    f"{PROJECT}:endpointsFromEnvironment is true but {var} is not set: start the emulator with "
                    "scripts/local-up.sh (it sets the BC_SALES_* variables) or set it yourself"
                )

    values: dict[str, Any] = {}
    for key in keys:
        raw = raw_values[key.name]
        if raw is None:
            if key.required:
                problems.append(f"{PROJECT}:{key.name}: required, but not set ({key.description})")
            continue
        decoded, problem = _decode(key, raw)
        if problem:
            problems.append(problem)
            continue
        if decoded is None:
            continue
        try:
            values[key.field] = adapter(key.field).validate_python(decoded)
        except PydanticValidationError as exc:
            problems.extend(translate(key.name, exc))

    found, package = cross_checks(values, keys, check_files=check_files, root=root)
    problems.extend(found)
    settings = None if problems else StackSettings.model_validate(values)
    return CheckedStack(settings, package, tuple(problems))


def load_stack(lookup: Lookup, *, stack: str | None = None, **options: Any) -> LoadedStack:
    """:func:`check_stack`, raising :class:`ConfigError` (every problem, named for ``stack``) on any."""
    checked = check_stack(lookup, **options)
    if checked.problems or checked.settings is None:
        raise ConfigError(checked.problems, stack)
    return LoadedStack(checked.settings, checked.package)


def load_settings(
    lookup: Lookup,
    *,
    all_keys: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    stack: str | None = None,
    check_files: bool = True,
    require_endpoint_env: bool = True,
) -> StackSettings:
    """Validate the stack's ``bc-sales:`` keys; raise :class:`ConfigError` listing every problem.

    The arguments are those of :func:`check_stack`; ``stack`` names the stack in the message.
    """
    return load_stack(lookup, stack=stack, all_keys=all_keys, env=env, check_files=check_files,
                      require_endpoint_env=require_endpoint_env).settings


def load_stack_from_pulumi(stack: str | None = None) -> LoadedStack:
    """Read ``bc-sales:`` config through the Pulumi runtime, with the solution package read once.

    Bad config, or a secret key stored in plain text, raises :class:`pulumi.RunError` (printed by
    the language host without a traceback).  Secrets: ``Config`` and ``is_config_secret`` of the
    Pulumi Python SDK.
    """
    import pulumi
    from pulumi.runtime import config as runtime_config

    cfg = pulumi.Config(PROJECT)
    present = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    stack = stack or pulumi.get_stack()
    try:
        loaded = load_stack(cfg.get, all_keys=present, stack=stack)
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from None
    for key in SECRET_KEYS:
        full = f"{PROJECT}:{key}"
        if getattr(loaded.settings, field_of(key)) and not runtime_config.is_config_secret(full):
            raise pulumi.RunError(str(ConfigError([
                f"{full}: stored in plain text in Pulumi.{stack}.yaml; store it encrypted with "
                f"`pulumi config set --secret {full} <value>` (and rotate it: it has been in the file)"], stack)))
    return loaded


def load_from_pulumi(stack: str | None = None) -> StackSettings:
    """The settings of :func:`load_stack_from_pulumi` (for callers that need no package)."""
    return load_stack_from_pulumi(stack).settings
