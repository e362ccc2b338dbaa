"""``bc-sales validate``: everything that can be checked offline for one stack, all at once.

Order of the report: the stack file (config model, placeholders), the role files (syntax,
catalog), then cross-checks (the managed roles exist, the salespeople's roles exist, the package is
the expected one and declares the tables the role files say it does).  No Pulumi CLI, no network.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from infra.model.roles import RoleFileError, RoleSpec, load_role_text, parse_roles, role_files
from infra.program.config import PROJECT, check_stack
from infra.validate.rules import (
    managed_role_problems,
    package_problems,
    placeholder_problems,
    plaintext_secret_problems,
    role_catalog_problems,
    salespeople_role_problems,
)
from infra.validate.catalog import Catalog, load_catalog
from infra.validate.problems import Problem
from infra.validate.stack_file import StackFile, StackFileError, stack_names

__all__ = ["UnknownStackError", "load_role_dir", "validate_stack", "validate_stacks"]

_CONFIG_KEY = re.compile(r"^(" + re.escape(PROJECT) + r":[A-Za-z0-9_]+(?:\[\d+\]|\.[A-Za-z0-9_]+)*)(.*)$", re.S)


class UnknownStackError(Exception):
    """No ``Pulumi.<stack>.yaml``: a usage mistake (exit status 2)."""

    def __init__(self, stack: str, known: list[str]) -> None:
        self.stack = stack
        self.known = known
        super().__init__(f"no stack {stack!r}: there is no Pulumi.{stack}.yaml; stacks: {', '.join(known) or 'none'}")


def _role_problem(exc: RoleFileError) -> Problem:
    return Problem(Path(exc.file).as_posix(), exc.line, exc.key, exc.message)


def load_role_dir(root: Path, folder: str = "roles") -> tuple[list[RoleSpec], list[Problem]]:
    """Every role file under ``root/folder``, with paths shown relative to ``root``.

    Returns (the specs that loaded -- a file with problems contributes what did load --, problems).
    """
    directory = root / folder
    if not directory.is_dir():
        return [], [Problem(f"{folder}/", None, None, "role directory not found")]
    files = role_files(directory)
    if not files:
        return [], [Problem(f"{folder}/", None, None, "no role files (*.yaml) in this directory")]
    specs: list[RoleSpec] = []
    problems: list[Problem] = []
    for path in files:
        shown = Path(folder) / path.name
        try:
            specs.append(load_role_text(path.read_text(encoding="utf-8"), shown))
        except UnicodeDecodeError as exc:
            problems.append(Problem(shown.as_posix(), None, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})"))
        except RoleFileError as exc:
            problems.extend(_role_problem(p) for p in exc.each())
            if exc.partial is not None:  # the rest of the file is still checked against the catalog
                specs.append(exc.partial)
    try:
        specs = parse_roles(specs)
    except RoleFileError as exc:
        problems.extend(_role_problem(p) for p in exc.each())
    return specs, problems


def _config_problem(sf: StackFile, text: str) -> Problem:
    match = _CONFIG_KEY.match(text)
    if not match:
        return Problem(sf.display, None, None, text)
    key, rest = match.groups()
    rest = rest.strip()
    if rest.startswith(":") or rest.startswith("="):
        rest = rest[1:].strip()
    return Problem(sf.display, sf.line_of(key), key, rest)


def validate_stack(root: Path, stack: str, *, env: Mapping[str, str] | None = None,
                   catalog: Catalog | None = None) -> list[Problem]:
    """All problems of one stack (empty when it is ready to deploy as far as offline checks go).

    Raises :class:`UnknownStackError` when the stack has no file.
    """
    env = os.environ if env is None else env
    catalog = catalog or load_catalog()
    problems: list[Problem] = []
    sf: StackFile | None = None
    try:
        sf = StackFile.load(root, stack)
    except FileNotFoundError:
        raise UnknownStackError(stack, stack_names(root)) from None
    except StackFileError as exc:  # the role files are still checked: every problem in one run
        problems.append(exc.problem)

    settings = None
    named_package = None  # the package the config names, read once by the config check
    if sf is not None:
        checked = check_stack(lambda k: sf.value(PROJECT, k), all_keys=sf.keys, env=env,
                              require_endpoint_env=False, root=root)
        settings, named_package = checked.settings, checked.package
        problems.extend(_config_problem(sf, p) for p in checked.problems)
        problems.extend(placeholder_problems(sf))
        problems.extend(plaintext_secret_problems(sf))
        problems.sort(key=lambda p: (p.line or 0))

    specs, role_problems = load_role_dir(root)
    problems.extend(role_problems)

    raw = (lambda key: sf.value(PROJECT, key)) if sf is not None else (lambda key: None)
    source = settings.solution_source if settings else (raw("solutionSource") or "package")
    package = named_package if source == "package" else None
    problems.extend(role_catalog_problems(specs, catalog, package))
    if specs:
        problems.extend(managed_role_problems(specs))
    if sf is not None:
        problems.extend(salespeople_role_problems(sf, PROJECT, specs, catalog))
        if package is not None:
            url = settings.environment_url if settings else raw("environmentUrl")
            problems.extend(package_problems(sf, PROJECT, package, specs, url))
    return list(dict.fromkeys(problems))


def validate_stacks(root: Path, stacks: list[str], *, env: Mapping[str, str] | None = None) -> dict[str, list[Problem]]:
    """:func:`validate_stack` for each stack, in order."""
    return {stack: validate_stack(root, stack, env=env) for stack in stacks}
