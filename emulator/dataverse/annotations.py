"""``Prefer: odata.include-annotations`` and ``Preference-Applied``, as Dataverse implements them.

- formatted values (``<property>@OData.Community.Display.V1.FormattedValue``) for choice, yes/no,
  date and lookup columns, and ``@Microsoft.Dynamics.CRM.lookuplogicalname`` /
  ``associatednavigationproperty`` on lookups:
  https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/select-columns#formatted-values
- ``@Microsoft.Dynamics.CRM.totalrecordcount`` / ``totalrecordcountlimitexceeded`` (-1 without
  ``$count=true``): https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/count-rows
- every honoured preference is echoed in ``Preference-Applied``:
  https://learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors
"""

from __future__ import annotations

import fnmatch
import re
from datetime import datetime
from typing import Any, Callable

from . import metadata
from .schema import BOOL, DATETIME, EntityType

FORMATTED = "OData.Community.Display.V1.FormattedValue"
LOOKUP_TABLE = "Microsoft.Dynamics.CRM.lookuplogicalname"
LOOKUP_NAVIGATION = "Microsoft.Dynamics.CRM.associatednavigationproperty"
TOTAL = "Microsoft.Dynamics.CRM.totalrecordcount"
TOTAL_EXCEEDED = "Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"
COUNT_LIMIT = 5000

_ITEM = re.compile(r'\s*([^=,\s]+)\s*(?:=\s*("(?:[^"]*)"|[^,]*))?\s*(?:,|$)')


def preferences(header: str | None) -> dict[str, str]:
    """``Prefer`` header -> {preference: raw value} (quoted values may contain commas)."""
    out: dict[str, str] = {}
    text = header or ""
    pos = 0
    while pos < len(text):
        m = _ITEM.match(text, pos)
        if not m or m.end() == pos:
            break
        out[m.group(1).lower()] = (m.group(2) or "").strip()
        pos = m.end()
    return out


class Annotations:
    """The annotations one request asked for."""

    def __init__(self, prefer: str | None) -> None:
        raw = preferences(prefer).get("odata.include-annotations")
        self.raw = raw
        self.patterns = [p.strip() for p in (raw or "").strip('"').split(",") if p.strip()]

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def wants(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p) for p in self.patterns if not p.startswith("-"))

    @property
    def applied(self) -> str | None:
        """The value for Preference-Applied, when the preference was given."""
        return f"odata.include-annotations={self.raw}" if self.raw else None

    def record(self, entity: EntityType, source: dict[str, Any], out: dict[str, Any],
               name_of: Callable[[str, str], str | None]) -> dict[str, Any]:
        """Add the wanted annotations for every property present in ``out``; ``name_of(set, id)`` gives the
        primary name of a related record. Annotations come before their property, as the service orders them."""
        if not self:
            return out
        result: dict[str, Any] = {}
        for prop, value in out.items():
            if not prop.startswith("@") and value is not None and prop in entity.properties:
                for key, extra in self._for_property(entity, prop, value, name_of).items():
                    result[f"{prop}@{key}"] = extra
            result[prop] = value
        return result

    def _for_property(self, entity: EntityType, prop: str, value: Any,
                      name_of: Callable[[str, str], str | None]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for nav in entity.navigations.values():
            if nav.value_property == prop:
                target = metadata.ENTITY_SETS.get(nav.target)
                if self.wants(FORMATTED):
                    name = name_of(nav.target, str(value))
                    if name is not None:
                        found[FORMATTED] = name
                if self.wants(LOOKUP_NAVIGATION):
                    found[LOOKUP_NAVIGATION] = nav.name
                if self.wants(LOOKUP_TABLE):
                    found[LOOKUP_TABLE] = target.logical_name if target else nav.target.removesuffix("s")
                return found
        if not self.wants(FORMATTED):
            return found
        edm = entity.properties[prop]
        picked = metadata.choice(entity, prop)
        if picked and value in picked[1]:
            found[FORMATTED] = picked[1][value]
        elif edm == BOOL and isinstance(value, bool):
            yes, no = metadata.boolean_labels(entity, prop)
            found[FORMATTED] = yes if value else no
        elif edm == DATETIME and isinstance(value, str):
            found[FORMATTED] = _format_datetime(value)
        return found

    def collection(self, body: dict[str, Any], total: int, counted: bool) -> None:
        """totalrecordcount (-1 unless $count=true) and totalrecordcountlimitexceeded on a collection."""
        if self.wants(TOTAL):
            body[f"@{TOTAL}"] = min(total, COUNT_LIMIT) if counted else -1
        if self.wants(TOTAL_EXCEEDED):
            body[f"@{TOTAL_EXCEEDED}"] = counted and total > COUNT_LIMIT


def _format_datetime(value: str) -> str:
    """2023-04-07T21:59:01Z -> 4/7/2023 9:59 PM (en-US, the caller's time zone: UTC for application users)."""
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    hour = dt.hour % 12 or 12
    return f"{dt.month}/{dt.day}/{dt.year} {hour}:{dt.minute:02d} {'AM' if dt.hour < 12 else 'PM'}"


def preference_applied(*values: str | None) -> dict[str, str]:
    """The Preference-Applied header for the honoured preferences (none -> no header)."""
    honoured = [v for v in values if v]
    return {"Preference-Applied": ",".join(honoured)} if honoured else {}
