"""A role as a role file declares it: :class:`RoleSpec` with its :class:`PrivilegeEntry` values.

Depths are the Web API names of :class:`~infra.model.terms.PrivilegeDepth` (``Basic`` ..
``Global``) kept as plain strings, so specs serialise as they are (YAML, JSON, provider inputs).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from infra import facts

__all__ = ["VERBS", "PrivilegeEntry", "RoleSpec", "derived_role_id"]

#: Verb spelling in role files -> Dataverse verb (the part after ``prv``).
VERBS: dict[str, str] = {
    "create": "Create",
    "read": "Read",
    "write": "Write",
    "delete": "Delete",
    "append": "Append",
    "append-to": "AppendTo",
    "assign": "Assign",
    "share": "Share",
}


@dataclass(frozen=True)
class PrivilegeEntry:
    """One granted privilege: ``table``/``verb`` are ``None`` for table-less privileges.

    ``depth`` is a :class:`~infra.model.terms.PrivilegeDepth` value (``"Global"``), ``privilege``
    the Dataverse privilege name (``prvReadAccount``), ``line`` the 1-based line in the role file.
    """

    table: str | None
    verb: str | None
    depth: str
    privilege: str
    line: int
    solution: str | None = None  # the table's solution when the file declares one (``solution:``)


@dataclass(frozen=True)
class RoleSpec:
    """A role as declared in a role file.

    ``role_id`` is the fixed id from the file or, when the file has none, an id derived from the
    name (``id_derived`` is then true); loaded specs always carry an id.
    """

    name: str
    role_id: str | None
    description: str
    source: Path
    entries: tuple[PrivilegeEntry, ...]
    id_derived: bool = False

    @property
    def privileges(self) -> dict[str, str]:
        """Dataverse privilege name -> depth (``Basic`` .. ``Global``), sorted by name."""
        return dict(sorted((e.privilege, e.depth) for e in self.entries))

    @property
    def tables(self) -> tuple[str, ...]:
        """The tables the role grants anything on, in file order."""
        return tuple(dict.fromkeys(e.table for e in self.entries if e.table is not None))

    @property
    def table_solutions(self) -> dict[str, str]:
        """Table -> solution unique name, for the tables the file declares with ``solution:``."""
        return {e.table: e.solution for e in self.entries if e.table is not None and e.solution}


def derived_role_id(name: str) -> str:
    """A stable id for a role that has no fixed id: uuid5 of the case-folded name (a GUID string).

    Every environment and stack derives the same id, so a role we create is found again by id
    (the namespace is :data:`infra.facts.DERIVED_ROLE_ID_NAMESPACE`, which must never change).
    """
    namespace = uuid.UUID(facts.DERIVED_ROLE_ID_NAMESPACE)
    return str(uuid.uuid5(namespace, name.strip().casefold()))
