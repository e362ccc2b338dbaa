"""How config problems read: :class:`ConfigError` and pydantic's errors in the user's words.

Every problem is one line that starts with the key path as written in the stack file
(``bc-sales:salespeople[1].usageLocation``), then the value and what is allowed.  The Pulumi
language host prints a :class:`pulumi.RunError` without a traceback, so the program raises these
lines as one ("Error handling", Pulumi docs).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from infra.program.config.project import PROJECT
from infra.program.config.settings import IntegrationUserSettings, Salesperson

__all__ = ["ConfigError", "key_path", "show", "translate"]


class ConfigError(Exception):
    """Bad stack configuration: one line per problem.

    ``problems`` are the lines (key path first), ``stack`` the stack's name when known; ``str()``
    is a heading with the count, then one ``  - <problem>`` line each.
    """

    def __init__(self, problems: Iterable[str], stack: str | None = None) -> None:
        self.problems = list(problems)
        self.stack = stack
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"stack {self.stack!r}" if self.stack else "the stack"
        count = len(self.problems)
        head = f"{count} configuration problem{'s' if count != 1 else ''} in {where} (nothing was changed):"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


def show(value: Any) -> str:
    """A value as a problem line quotes it: strings ``repr``'d, others as JSON, at most 200 characters."""
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def key_path(key: str, loc: Iterable[Any]) -> str:
    """``("salespeople", (1, "roles"))`` -> ``bc-sales:salespeople[1].roles``."""
    out = f"{PROJECT}:{key}"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


_FRIENDLY: dict[str, str] = {
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "string_type": "expected a text value",
    "list_type": "expected a list",
    "dict_type": "expected a mapping of key: value",
    "model_type": "expected a mapping of key: value",
    "model_attributes_type": "expected a mapping of key: value",
}


#: Config keys whose values are (lists of) nested objects -> the model of one object.
_NESTED: dict[str, type[BaseModel]] = {"integrationUser": IntegrationUserSettings, "salespeople": Salesperson}


def _allowed_fields(key: str) -> list[str]:
    target = _NESTED.get(key)
    return [f.alias or n for n, f in target.model_fields.items()] if target else []


def _nested_description(key: str, loc: tuple[Any, ...]) -> str:
    target = _NESTED.get(key)
    if target is None or not loc:
        return ""
    for field_name, info in target.model_fields.items():
        if (info.alias or field_name) == str(loc[-1]):
            return info.description or ""
    return ""


def translate(key: str, exc: PydanticValidationError) -> list[str]:
    """One problem line per error pydantic found in the value of ``bc-sales:<key>``.

    Missing nested keys say what the key is for, unknown ones suggest the closest allowed key
    (:func:`difflib.get_close_matches`) and list the allowed ones.
    """
    problems: list[str] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path = key_path(key, loc)
        kind = err["type"]
        if kind == "missing":
            about = _nested_description(key, loc)
            problems.append(f"{path}: required, but not set" + (f" ({about})" if about else ""))
            continue
        if kind == "extra_forbidden":
            allowed = _allowed_fields(key)
            name = str(loc[-1]) if loc else key
            hint = difflib.get_close_matches(name, allowed, n=1)
            did_you_mean = f" (did you mean {hint[0]}?)" if hint else ""
            problems.append(f"{path}: unknown key{did_you_mean}; allowed: {', '.join(allowed)}")
            continue
        msg = _FRIENDLY.get(kind, err["msg"])
        problems.append(f"{path} = {show(err.get('input'))}: {msg}")
    return problems
