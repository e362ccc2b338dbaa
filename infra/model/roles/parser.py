"""The role-file parser: walks one file's YAML *node* tree into a :class:`RoleSpec`.

A role file is what a reviewer reads in a pull request, so the format is per table (verbs and one
depth) plus a short list of table-less privileges; see ``docs/role-files.md``.  The parser walks
the node tree (not the constructed Python objects) so that every error can name the file, the line
and the key, and so that duplicate keys -- which PyYAML silently collapses -- are caught.

Only checks that need no service live here (verbs, depth words, the offline facts in
``infra.facts``).  Whether a privilege exists and allows a depth is decided at run time against the
environment's privilege catalog by the SecurityRole provider.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

import yaml

from infra import facts
from infra.model.privileges import privilege_name
from infra.model.roles.errors import RoleFileError, raise_all
from infra.model.roles.spec import VERBS, PrivilegeEntry, RoleSpec, derived_role_id
from infra.model.terms import PrivilegeDepth, guid

__all__ = ["RoleFileParser"]

_TOP_LEVEL_KEYS = ("name", "id", "description", "tables", "privileges")
_TABLE_KEYS = ("verbs", "depth")
#: Optional per-table keys: ``solution`` names the solution (unique name) a table comes from when it
#: is neither a standard table nor declared by the configured package (see docs/role-files.md).
_TABLE_OPTIONAL_KEYS = ("solution",)
#: Depth spelling in role files (the Web API name, any case) -> the depth; the editor's names
#: ("organization", "user") are refused so that a file has one spelling per depth.
_DEPTH_WORDS: dict[str, str] = {d.value.lower(): d.value for d in PrivilegeDepth.role_depths()}
_SOLUTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PRIVILEGE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_MAX_NAME = 100  # roles.name column length

_STR = "tag:yaml.org,2002:str"
T = TypeVar("T")
_TYPE_WORDS = {
    "tag:yaml.org,2002:str": "a string",
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "true/false",
    "tag:yaml.org,2002:null": "empty (null)",
    "tag:yaml.org,2002:timestamp": "a date",
    "tag:yaml.org,2002:seq": "a list",
    "tag:yaml.org,2002:map": "a mapping",
}


class RoleFileParser:
    """Walks one file's node tree; keeps the file name for every error.

    Helpers raise :class:`RoleFileError` for the first problem of one unit (a key, a table, a
    privilege); :meth:`collect` records it and the walk goes on with the next unit, so one run
    reports every problem of the file.
    """

    def __init__(self, source: Path) -> None:
        self.source = source
        self.problems: list[RoleFileError] = []

    def error(self, node: yaml.Node | None, key: str | None, message: str) -> RoleFileError:
        """A :class:`RoleFileError` at ``node``'s line (none without a node) for ``key``."""
        line = node.start_mark.line + 1 if node is not None else None
        return RoleFileError(self.source, line, key, message)

    def collect(self, fn: Callable[[], T]) -> T | None:
        """``fn()``, or ``None`` after recording the problems it raised (the walk goes on)."""
        try:
            return fn()
        except RoleFileError as exc:
            self.problems.extend(exc.each())
            return None

    def parse(self, text: str) -> RoleSpec:
        """The role the text declares; raises :class:`RoleFileError` listing every problem.

        The error's ``partial`` is the part of the file that did load (``None`` without a name).
        """
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else None
            problem = exc.problem or exc.context or "invalid YAML"
            raise RoleFileError(self.source, line, None, f"YAML syntax error: {problem}") from None
        except yaml.YAMLError as exc:
            raise RoleFileError(self.source, None, None, f"YAML syntax error: {exc}") from None
        if root is None:
            raise RoleFileError(self.source, None, None, "the file is empty; expected a mapping with 'name' and 'tables'")
        mapping = self.mapping(root, None, lenient=True)

        for key, (key_node, _) in mapping.items():
            if key not in _TOP_LEVEL_KEYS:
                self.problems.append(self.error(key_node, key, f"unknown key; allowed keys: {', '.join(_TOP_LEVEL_KEYS)}"))

        name = self.collect(lambda: self.name(root, mapping))
        id_derived = "id" not in mapping
        role_id: str | None = None
        if not id_derived:
            role_id = self.collect(lambda: self.role_id(mapping["id"][1]))
        description = ""
        if "description" in mapping:
            description = (self.collect(
                lambda: self.string(mapping["description"][1], "description", allow_null=True).strip()) or "")

        entries: list[PrivilegeEntry] = []
        if "tables" in mapping:
            entries.extend(self.collect(lambda: self.tables(mapping["tables"][1])) or [])
        if "privileges" in mapping:
            entries.extend(self.collect(lambda: self.tableless(mapping["privileges"][1])) or [])
        if not entries and "tables" not in mapping and "privileges" not in mapping:
            self.problems.append(self.error(root, "tables", "the role grants no privileges; add 'tables' or 'privileges'"))
        elif not entries and not self.problems:
            self.problems.append(self.error(root, "tables", "the role grants no privileges; add 'tables' or 'privileges'"))

        seen: dict[str, PrivilegeEntry] = {}
        for entry in entries:
            if entry.privilege in seen:
                first = seen[entry.privilege]
                self.problems.append(RoleFileError(
                    self.source, entry.line, entry.privilege,
                    f"privilege granted twice (first on line {first.line})",
                ))
                continue
            seen[entry.privilege] = entry
        spec = None
        if name is not None:
            if id_derived or role_id is None:
                role_id = derived_role_id(name)
            spec = RoleSpec(name, role_id, description, self.source, tuple(seen.values()), id_derived)
        try:
            raise_all(self.problems)
        except RoleFileError as exc:
            # What did load, so that checks beyond the syntax (e.g. `bc-sales validate`'s table
            # catalog) still see the rest of the file in the same run.
            exc.partial = spec
            raise
        assert spec is not None
        return spec

    # --- sections -----------------------------------------------------------------------------

    def name(self, root: yaml.Node, mapping: Mapping[str, tuple[yaml.Node, yaml.Node]]) -> str:
        """The role's ``name``: required, not blank, at most 100 characters (``role.name``)."""
        if "name" not in mapping:
            raise self.error(root, "name", "missing; every role file needs the role's name")
        name = self.string(mapping["name"][1], "name").strip()
        if not name:
            raise self.error(mapping["name"][1], "name", "must not be empty")
        if len(name) > _MAX_NAME:
            raise self.error(mapping["name"][1], "name", f"longer than {_MAX_NAME} characters")
        return name

    def role_id(self, id_node: yaml.Node) -> str:
        """The fixed ``id`` in canonical form (lower case, no braces)."""
        raw = self.string(id_node, "id").strip()
        try:
            return guid(raw)
        except ValueError:
            raise self.error(id_node, "id",
                             f"{raw!r} is not a GUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)") from None

    def tables(self, node: yaml.Node) -> list[PrivilegeEntry]:
        """The entries of the ``tables`` section (every table's problems recorded)."""
        if self.is_null(node):
            return []
        entries: list[PrivilegeEntry] = []
        for table, (key_node, value) in self.mapping(node, "tables", lenient=True).items():
            entries.extend(self.collect(lambda: self.table(table, key_node, value)) or [])
        return entries

    def table(self, table: str, key_node: yaml.Node, value: yaml.Node) -> list[PrivilegeEntry]:
        """One table's entries: one per verb, all at the table's depth."""
        where = f"tables.{table}"
        if not _TABLE_NAME.match(table):
            raise self.error(
                key_node, where,
                "not a table logical name (lower case letters, digits and '_', e.g. account, salesorder)",
            )
        spec = self.mapping(value, where)
        allowed_keys = _TABLE_KEYS + _TABLE_OPTIONAL_KEYS
        problems: list[RoleFileError] = []
        for key, (k_node, _) in spec.items():
            if key not in allowed_keys:
                problems.append(self.error(k_node, f"{where}.{key}", f"unknown key; allowed keys: {', '.join(allowed_keys)}"))
        for required in _TABLE_KEYS:
            if required not in spec:
                problems.append(self.error(value, f"{where}.{required}", "missing"))
        solution: str | None = None
        if "solution" in spec:
            s_node = spec["solution"][1]
            try:
                solution = self.string(s_node, f"{where}.solution").strip()
                if not _SOLUTION_NAME.match(solution):
                    raise self.error(s_node, f"{where}.solution",
                                     f"{solution!r} is not a solution unique name (letters, digits, '_'), "
                                     "e.g. MicrosoftDynamicsNavIntegration")
            except RoleFileError as exc:
                problems.append(exc)
        depth: str | None = None
        if "depth" in spec:
            depth_node = spec["depth"][1]
            try:
                depth = self.depth(depth_node, f"{where}.depth")
                allowed_depths = facts.TABLE_DEPTHS.get(table)
                if allowed_depths is not None and depth not in allowed_depths:
                    raise self.error(
                        depth_node, f"{where}.depth",
                        f"{table} privileges allow only {_depth_words(allowed_depths)}, not {depth.lower()}",
                    )
            except RoleFileError as exc:
                problems.append(exc)
                depth = None
        verbs: list[tuple[str, int]] = []
        if "verbs" in spec:
            try:
                verbs = self.verbs(spec["verbs"][1], f"{where}.verbs", table)
            except RoleFileError as exc:
                problems.extend(exc.each())
        raise_all(problems)
        assert depth is not None
        return [PrivilegeEntry(table, verb, depth, privilege_name(table, verb), line, solution)
                for verb, line in verbs]

    def verbs(self, node: yaml.Node, where: str, table: str) -> list[tuple[str, int]]:
        """(Dataverse verb, line) for every verb of a table's list, in file order."""
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, where, f"expected a list of verbs, got {self.type_word(node)}; allowed verbs: {_allowed(VERBS)}")
        if not node.value:
            raise self.error(node, where, f"the list is empty; allowed verbs: {_allowed(VERBS)}")
        result: list[tuple[str, int]] = []
        problems: list[RoleFileError] = []
        seen: set[str] = set()
        only = facts.TABLE_VERBS.get(table)
        for item in node.value:
            try:
                word = self.string(item, where).strip()
                verb = VERBS.get(_normalise_verb(word))
                if verb is None:
                    raise self.error(item, where, f"unknown verb {word!r}; allowed verbs: {_allowed(VERBS)}")
                if verb in seen:
                    raise self.error(item, where, f"verb {word!r} listed twice")
                if only is not None and verb not in only:
                    allowed = ", ".join(k for k, v in VERBS.items() if v in only)
                    raise self.error(item, where, f"{table} has no {word!r} privilege; it has only: {allowed}")
            except RoleFileError as exc:
                problems.append(exc)
                continue
            seen.add(verb)
            result.append((verb, item.start_mark.line + 1))
        raise_all(problems)
        return result

    def tableless(self, node: yaml.Node) -> list[PrivilegeEntry]:
        """The entries of the ``privileges`` section (privileges that belong to no table)."""
        if self.is_null(node):
            return []
        entries: list[PrivilegeEntry] = []
        for key, (key_node, value) in self.mapping(node, "privileges", lenient=True).items():
            entry = self.collect(lambda: self.tableless_entry(key, key_node, value))
            if entry is not None:
                entries.append(entry)
        return entries

    def tableless_entry(self, key: str, key_node: yaml.Node, value: yaml.Node) -> PrivilegeEntry:
        """One table-less privilege (``ActOnBehalfOfAnotherUser: global``); ``prv`` is optional."""
        where = f"privileges.{key}"
        if not _PRIVILEGE_NAME.match(key):
            raise self.error(key_node, where, "not a privilege name (e.g. ActOnBehalfOfAnotherUser)")
        privilege = key if key.startswith("prv") else f"prv{key}"
        depth = self.depth(value, where)
        only = facts.TABLELESS_PRIVILEGES.get(privilege)
        if only is not None and depth != only:
            raise self.error(value, where, f"{privilege} allows only {_depth_words((only,))}, not {depth.lower()}")
        return PrivilegeEntry(None, None, depth, privilege, key_node.start_mark.line + 1)

    # --- scalar helpers ---------------------------------------------------------------------------

    def mapping(self, node: yaml.Node, where: str | None, *,
                lenient: bool = False) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """Keys -> (key node, value node), rejecting non-string and duplicate keys.

        ``lenient``: bad keys are recorded as problems and skipped instead of ending the walk.
        """
        if not isinstance(node, yaml.MappingNode):
            if where is None:
                raise self.error(node, None, f"the file must be a mapping (key: value), got {self.type_word(node)}")
            raise self.error(node, where, f"expected a mapping, got {self.type_word(node)}")
        result: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR:
                err = self.error(key_node, where, f"keys must be strings, got {self.type_word(key_node)}")
                if not lenient:
                    raise err
                self.problems.append(err)
                continue
            key = key_node.value
            full = key if where is None else f"{where}.{key}"
            if key in result:
                first = result[key][0].start_mark.line + 1
                err = self.error(key_node, full, f"duplicate key (first on line {first})")
                if not lenient:
                    raise err
                self.problems.append(err)
                continue
            result[key] = (key_node, value_node)
        return result

    def string(self, node: yaml.Node, where: str, *, allow_null: bool = False) -> str:
        """A string scalar's text (``""`` for null when ``allow_null``)."""
        if allow_null and self.is_null(node):
            return ""
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR:
            raise self.error(node, where, f"expected a string, got {self.type_word(node)}")
        return node.value

    def depth(self, node: yaml.Node, where: str) -> str:
        """A depth word (``basic`` .. ``global``, any case) as its Web API name (``Basic``)."""
        allowed = ", ".join(_DEPTH_WORDS)
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR:
            raise self.error(node, where, f"expected a depth, got {self.type_word(node)}; allowed depths: {allowed}")
        depth = _DEPTH_WORDS.get(node.value.strip().lower())
        if depth is None:
            raise self.error(node, where, f"unknown depth {node.value!r}; allowed depths: {allowed}")
        return depth

    @staticmethod
    def is_null(node: yaml.Node) -> bool:
        """Whether the node is YAML null (``~``, ``null`` or nothing)."""
        return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"

    @staticmethod
    def type_word(node: yaml.Node) -> str:
        """How a person would name the node's type (``a list``, ``a number``)."""
        return _TYPE_WORDS.get(node.tag, f"a value of type {node.tag}")


def _normalise_verb(word: str) -> str:
    """Accept ``append-to``, ``append_to``, ``AppendTo`` and ``append to`` alike."""
    w = word.strip().lower().replace("_", "-").replace(" ", "-")
    return "append-to" if w == "appendto" else w


def _allowed(words: Mapping[str, str]) -> str:
    return ", ".join(words)


def _depth_words(depths: Iterable[str]) -> str:
    return ", ".join(d.lower() for d in depths)
