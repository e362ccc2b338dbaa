"""The offline table catalog: standard Dataverse / Dynamics 365 Sales tables, table-less
privileges and predefined security roles, from ``infra/validate/catalog.yaml``.

The data file records its sources (Microsoft's table/entity reference pages) and the date it was
gathered; this module only reads it and answers questions: is a table known, which privilege
depths does its ownership allow, which known name is closest to a typo.  Suggestions use
:func:`difflib.get_close_matches` (ratio-based edit similarity), the same as the config model.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

import yaml

from infra.model.terms import PrivilegeDepth

__all__ = ["CATALOG_FILE", "OWNERSHIP_DEPTHS", "OWNER_VERBS", "Catalog", "TableInfo", "load_catalog", "suggest"]

CATALOG_FILE = Path(__file__).with_name("catalog.yaml")

#: Ownership -> the depths a privilege on such a table can have, where the reference settles it
#: offline; ``None`` means "not restricted here" (the deploy-time catalog check decides).
OWNERSHIP_DEPTHS: dict[str, tuple[str, ...] | None] = {
    "user": tuple(d.value for d in PrivilegeDepth.role_depths()),
    "organization": (PrivilegeDepth.GLOBAL.value,),
    "none": (PrivilegeDepth.GLOBAL.value,),  # UNCONFIRMED: see the header of catalog.yaml
    "business": None,
}
#: Verbs that exist only for records with an owner (assign to another owner, share with one).
OWNER_VERBS: tuple[str, ...] = ("Assign", "Share")


@dataclass(frozen=True)
class TableInfo:
    """One standard table: logical name, ownership (``user``/``organization``/``business``/``none``),
    schema name and display name as Microsoft's table reference gives them."""

    logical_name: str
    ownership: str  # user | organization | business | none
    schema_name: str
    display_name: str

    @property
    def depths(self) -> tuple[str, ...] | None:
        """The depths its privileges allow (``None``: not settled offline)."""
        return OWNERSHIP_DEPTHS[self.ownership]

    @property
    def has_owner(self) -> bool:
        """Whether its records have an owner (so Assign and Share privileges exist)."""
        return self.ownership in ("user", "business")


@dataclass(frozen=True)
class Catalog:
    """The catalog file's content: when it was gathered (ISO date), its sources (topic -> URLs),
    the tables, the table-less privileges (name -> only depth or ``None``) and the predefined
    Sales security roles."""

    gathered: str
    sources: Mapping[str, tuple[str, ...]]
    tables: Mapping[str, TableInfo]
    tableless_privileges: Mapping[str, str | None]  # privilege name -> only depth, or None
    security_roles: tuple[str, ...]

    def table(self, logical_name: str) -> TableInfo | None:
        """The table with this logical name, ``None`` when the catalog does not list it."""
        return self.tables.get(logical_name)

    def tableless(self, privilege: str) -> tuple[bool, str | None]:
        """(known, only depth) for a table-less privilege name, compared case-insensitively."""
        for name, depth in self.tableless_privileges.items():
            if name.casefold() == privilege.casefold():
                return True, depth
        return False, None


def suggest(word: str, candidates: Iterable[str], *, n: int = 1, cutoff: float = 0.75) -> list[str]:
    """The closest candidates to ``word`` (case-insensitive), best first; empty when none is close."""
    folded = {c.casefold(): c for c in candidates}
    return [folded[m] for m in difflib.get_close_matches(word.casefold(), list(folded), n=n, cutoff=cutoff)]


def _catalog_from(data: Mapping[str, object], source: Path) -> Catalog:
    if not isinstance(data, Mapping) or not isinstance(data.get("tables"), Mapping):
        raise ValueError(f"{source}: not a table catalog (expected a mapping with 'tables')")
    tables: dict[str, TableInfo] = {}
    for name, row in data["tables"].items():  # type: ignore[union-attr]
        ownership = str(row["ownership"])
        if ownership not in OWNERSHIP_DEPTHS:
            raise ValueError(f"{source}: tables.{name}.ownership {ownership!r} is not one of {list(OWNERSHIP_DEPTHS)}")
        tables[str(name)] = TableInfo(str(name), ownership, str(row.get("schema", name)), str(row.get("display", name)))
    tableless: dict[str, str | None] = {}
    for name, depth in (data.get("tablelessPrivileges") or {}).items():  # type: ignore[union-attr]
        tableless[str(name)] = None if depth is None else str(depth).capitalize()
    sources = {str(k): tuple(str(u) for u in v) for k, v in (data.get("sources") or {}).items()}  # type: ignore[union-attr]
    roles = tuple(str(r) for r in (data.get("securityRoles") or ()))  # type: ignore[union-attr]
    return Catalog(str(data.get("gathered", "")), sources, tables, tableless, roles)


@lru_cache(maxsize=4)
def load_catalog(path: Path = CATALOG_FILE) -> Catalog:
    """Read the catalog (cached).  Raises ``ValueError`` when the data file is malformed."""
    return _catalog_from(yaml.safe_load(path.read_text(encoding="utf-8")), path)
