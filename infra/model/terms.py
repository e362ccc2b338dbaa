"""The field's terms, defined once: privilege depth, Dataverse ids (GUIDs), solution versions.

Every layer imports these from here (the policy pack is the one exception: it runs in its own
virtualenv without this package, see policy/guardrails.py).
"""

from __future__ import annotations

import re
import uuid
from enum import Enum
from typing import Any

__all__ = ["PrivilegeDepth", "guid", "is_guid", "parse_version"]


class PrivilegeDepth(str, Enum):
    """How far a role's privilege reaches, as Dataverse names it (``PrivilegeDepth`` enum type).

    Values are the names the Web API uses in ``RolePrivilege.Depth`` (AddPrivilegesRole,
    ReplacePrivilegesRole, RetrieveRolePrivilegesRole). The security role editor calls them User,
    Business Unit, Parent: Child Business Units and Organization. ``RecordFilter`` exists in the
    service's enum but is never set by a role file.
    Source: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/privilegedepth
    """

    BASIC = "Basic"
    LOCAL = "Local"
    DEEP = "Deep"
    GLOBAL = "Global"
    RECORD_FILTER = "RecordFilter"

    @property
    def number(self) -> int:
        """The enum member's number on the wire (Basic 0 … Global 3, RecordFilter 4)."""
        return list(PrivilegeDepth).index(self)

    @property
    def editor_name(self) -> str:
        """The name the security role editor shows (User, Business Unit, ...)."""
        return _EDITOR_NAMES[self]

    @classmethod
    def role_depths(cls) -> tuple["PrivilegeDepth", ...]:
        """The four depths a role file may ask for, narrowest first."""
        return cls.BASIC, cls.LOCAL, cls.DEEP, cls.GLOBAL

    @classmethod
    def parse(cls, value: Any) -> "PrivilegeDepth":
        """A depth from its name (any case), wire number, or editor name; ValueError otherwise."""
        if isinstance(value, PrivilegeDepth):
            return value
        key = str(value).strip().lower().replace(" ", "").replace(":", "")
        found = _ALIASES.get(key)
        if found is None:
            allowed = ", ".join(d.value for d in cls.role_depths())
            raise ValueError(f"unknown privilege depth {value!r}; allowed: {allowed}")
        return found

    def __str__(self) -> str:
        return self.value


_EDITOR_NAMES = {
    PrivilegeDepth.BASIC: "User", PrivilegeDepth.LOCAL: "Business Unit",
    PrivilegeDepth.DEEP: "Parent: Child Business Units", PrivilegeDepth.GLOBAL: "Organization",
    PrivilegeDepth.RECORD_FILTER: "Record Filter",
}
_ALIASES: dict[str, PrivilegeDepth] = {}
for _depth in PrivilegeDepth:
    _ALIASES[_depth.value.lower()] = _depth
    _ALIASES[str(_depth.number)] = _depth
    _ALIASES[_EDITOR_NAMES[_depth].lower().replace(" ", "").replace(":", "")] = _depth


def is_guid(value: Any) -> bool:
    """Whether ``value`` is a GUID string (``{…}`` braces allowed, any case)."""
    try:
        guid(value)
    except (TypeError, ValueError):
        return False
    return True


def guid(value: Any) -> str:
    """The canonical form of a Dataverse / Entra id: lower-case, hyphenated, no braces.

    Raises ValueError (TypeError for a non-string) when ``value`` is not a GUID.
    """
    if not isinstance(value, str):
        raise TypeError(f"expected a GUID string, got {type(value).__name__}")
    text = value.strip()
    if not _GUID.match(text):
        raise ValueError(f"{value!r} is not a GUID (expected e.g. 00000000-0000-0000-0000-000000000000)")
    return str(uuid.UUID(text.strip("{}")))


_GUID = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")
_VERSION = re.compile(r"^\d{1,9}(\.\d{1,9}){1,3}$")


def parse_version(text: str) -> tuple[int, int, int, int]:
    """A solution version ``major.minor[.build[.revision]]`` as four integers (missing parts 0).

    Dataverse compares solution versions part by part as numbers ("Solution version", Power
    Platform ALM docs). Raises ValueError for anything else.
    """
    value = str(text).strip()
    if not _VERSION.match(value):
        raise ValueError(f"{text!r} is not a solution version (major.minor[.build[.revision]], numbers only)")
    parts = [int(p) for p in value.split(".")] + [0, 0, 0]
    return parts[0], parts[1], parts[2], parts[3]
