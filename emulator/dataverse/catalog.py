"""The privileges catalog: loaded from catalog.yaml, extended by imported solutions.

Why a data file: the set of standard privileges and their allowed depths is a fact table that
reviewers check line by line; keeping it out of code makes that review easy.
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

CATALOG_PATH = Path(__file__).with_name("catalog.yaml")
VERBS = ("Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share")
DEPTHS = ("Basic", "Local", "Deep", "Global")
#: Dataverse AccessRights values per verb.
ACCESS_RIGHTS = {"Read": 1, "Write": 2, "Append": 4, "AppendTo": 16, "Create": 32, "Delete": 65536,
                 "Share": 262144, "Assign": 524288}
_NAMESPACE = uuid.UUID("6b1c2d3e-0000-4000-8000-0000000f0000")

#: Ownership of tables added by solutions (customizations.xml OwnershipTypeMask).
USER_OWNED, ORGANIZATION_OWNED = "user", "organization"


def privilege_id(name: str) -> str:
    """Stable id of a privilege name (same name -> same id in every emulator run)."""
    return str(uuid.uuid5(_NAMESPACE, name.lower()))


def privilege_record(name: str, verb: str | None, depths: list[str], table: str | None) -> dict[str, Any]:
    """A `privileges` row."""
    return {
        "privilegeid": privilege_id(name),
        "name": name,
        "accessright": ACCESS_RIGHTS.get(verb or "", 0),
        "canbebasic": "Basic" in depths,
        "canbelocal": "Local" in depths,
        "canbedeep": "Deep" in depths,
        "canbeglobal": "Global" in depths,
        "canbeentityreference": False,
        "canbeparententityreference": False,
        "_table": table,  # emulator bookkeeping, never served
    }


def table_privileges(stem: str, table: str, ownership: str, verbs: list[str] | None = None,
                     depths: list[str] | None = None, defaults: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Privilege rows of one table."""
    d = (defaults or _defaults())[ownership]
    return [privilege_record(f"prv{verb}{stem}", verb, list(depths or d["depths"]), table)
            for verb in (verbs or d["verbs"])]


@lru_cache(maxsize=1)
def _raw() -> dict[str, Any]:
    return yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))


def _defaults() -> dict[str, Any]:
    return _raw()["defaults"]


def standard_privileges() -> list[dict[str, Any]]:
    """All privileges of a fresh environment (new list of new dicts on every call)."""
    raw = _raw()
    out: list[dict[str, Any]] = []
    for table, spec in raw["tables"].items():
        out.extend(table_privileges(spec["stem"], table, spec["ownership"], spec.get("verbs"),
                                    spec.get("depths"), raw["defaults"]))
    for name, depths in raw["tableless"].items():
        out.append(privilege_record(name, None, list(depths), None))
    return out


def solution_table_privileges(schema_name: str, ownership: str) -> list[dict[str, Any]]:
    """Privileges an imported table gets: user-owned 8 verbs at every depth; org-owned no
    Assign/Share and Global only (prv<Verb><schema name as written in customizations.xml>)."""
    if ownership == USER_OWNED:
        return table_privileges(schema_name, schema_name.lower(), "user")
    return table_privileges(schema_name, schema_name.lower(), "organization")
