"""Dataverse privilege names: ``prv<Verb><Stem>``, where the stem is the table's schema name.

Dataverse creates a table's privileges with the table and names them after its schema name
(``prvReadAccount``), with a few historic exceptions (``salesorder`` -> ``prvReadOrder``); see
"Security roles and privileges" and the privilege entity reference in the Power Platform docs.
The table of exceptions and schema names lives in :mod:`infra.facts` (values only); the rule that
uses it lives here.
"""

from __future__ import annotations

from infra import facts

__all__ = ["privilege_name", "privilege_stem"]


def privilege_stem(table: str) -> str:
    """The privilege stem of a table's logical name: ``"salesorder"`` -> ``"Order"``.

    Known exceptions first, then the known schema names; for any other table the logical name is
    returned unchanged (custom tables keep their schema name, and we only know the logical name: the
    deploy-time privilege catalog lookup refuses it when the guess is wrong).
    """
    if table in facts.PRIVILEGE_STEM_EXCEPTIONS:
        return facts.PRIVILEGE_STEM_EXCEPTIONS[table]
    return facts.TABLE_SCHEMA_NAMES.get(table, table)


def privilege_name(table: str, verb: str) -> str:
    """The privilege a verb on a table needs: ``("salesorder", "Read")`` -> ``"prvReadOrder"``.

    ``verb`` is the Dataverse spelling (``Create`` ... ``AppendTo``, ``Assign``, ``Share``).
    """
    return f"prv{verb}{privilege_stem(table)}"
