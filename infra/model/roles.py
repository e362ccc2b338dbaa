"""Load ``roles/*.yaml`` into :class:`RoleSpec` values.

A role file is what a reviewer reads in a pull request, so the format is per table (verbs and one
depth) plus a short list of table-less privileges; see ``docs/role-files.md``.  The loader walks the
YAML *node* tree (not the constructed Python objects) so that every error can name the file, the line
and the key, and so that duplicate keys -- which PyYAML silently collapses -- are caught.

Only checks that need no service live here (verbs, depth words, the offline facts in
``infra.facts``).  Whether a privilege exists and allows a depth is decided at run time against the
environment's privilege catalog by the SecurityRole provider.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, TypeVar

import yaml

from infra import facts

__all__ = [
    "PrivilegeEntry",
    "RoleFileError",
    "RoleFileErrors",
    "RoleSpec",
    "VERBS",
    "DEPTHS",
    "derived_role_id",
    "load_role_file",
    "load_role_text",
    "load_roles",
    "parse_roles",
]

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
#: Depth spelling in role files -> Dataverse depth.
DEPTHS: dict[str, str] = {"basic": "Basic", "local": "Local", "deep": "Deep", "global": "Global"}

_TOP_LEVEL_KEYS = ("name", "id", "description", "tables", "privileges")
_TABLE_KEYS = ("verbs", "depth")
#: Optional per-table keys: ``solution`` names the solution (unique name) a table comes from when it
#: is neither a standard table nor declared by the configured package (see docs/role-files.md).
_TABLE_OPTIONAL_KEYS = ("solution",)
_SOLUTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PRIVILEGE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_GUID = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")
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


class RoleFileError(ValueError):
    """A role file is invalid; ``str()`` reads ``roles/x.yaml:12: tables.account.depth: ...``."""

    def __init__(self, file: Path | str, line: int | None, key: str | None, message: str) -> None:
        self.file = str(file)
        self.line = line
        self.key = key
        self.message = message
        #: the part of the file that did load (set by the parser; never pickled)
        self.partial: RoleSpec | None = None
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"

    def __reduce__(self):  # keep picklable across process boundaries (pytest-xdist, providers)
        return (type(self), (self.file, self.line, self.key, self.message))


class RoleFileErrors(RoleFileError):
    """Several problems at once (one file or a whole directory); ``problems`` lists them in order.

    ``file``/``line``/``key``/``message`` are the first problem's, so code that handles one
    :class:`RoleFileError` keeps working; ``str()`` gives one line per problem.
    """

    def __init__(self, problems: Iterable[RoleFileError]) -> None:
        self.problems = list(problems)
        if not self.problems:
            raise ValueError("RoleFileErrors needs at least one problem")
        first = self.problems[0]
        super().__init__(first.file, first.line, first.key, first.message)

    def __str__(self) -> str:
        return "\n".join(RoleFileError.__str__(p) for p in self.problems)

    def __reduce__(self):
        return (type(self), (self.problems,))


def _raise_all(problems: list[RoleFileError]) -> None:
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise RoleFileErrors(problems)


def _flatten(exc: RoleFileError) -> list[RoleFileError]:
    return list(exc.problems) if isinstance(exc, RoleFileErrors) else [exc]


@dataclass(frozen=True)
class PrivilegeEntry:
    """One granted privilege: ``table``/``verb`` are ``None`` for table-less privileges."""

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
    """A stable id for a role that has no fixed id: uuid5 of the case-folded name.

    Every environment and stack derives the same id, so a role we create is found again by id.
    """
    namespace = uuid.UUID(facts.DERIVED_ROLE_ID_NAMESPACE)
    return str(uuid.uuid5(namespace, name.strip().casefold()))


def privilege_name(table: str, verb: str) -> str:
    """``("salesorder", "Read")`` -> ``prvReadOrder``."""
    return f"prv{verb}{facts.privilege_stem(table)}"


# --- loading ------------------------------------------------------------------------------------


def load_role_file(path: Path | str) -> RoleSpec:
    """Load and validate one role file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RoleFileError(path, None, None, "file not found") from None
    except UnicodeDecodeError as exc:
        raise RoleFileError(path, None, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return load_role_text(text, path)


def load_role_text(text: str, source: Path | str) -> RoleSpec:
    """Validate a role file's text; ``source`` is only used in messages and ``RoleSpec.source``."""
    return _Parser(Path(source)).parse(text)


def load_roles(directory: Path | str = "roles") -> list[RoleSpec]:
    """Load every ``*.yaml`` / ``*.yml`` file in ``directory`` (sorted by file name).

    Role names (case-insensitively, as Dataverse compares them) and ids must be unique across files.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise RoleFileError(directory, None, None, "role directory not found")
    files = sorted(p for p in directory.iterdir()
                   if p.suffix in (".yaml", ".yml") and p.is_file() and not p.name.startswith("."))
    if not files:
        raise RoleFileError(directory, None, None, "no role files (*.yaml) in this directory")
    problems: list[RoleFileError] = []
    specs: list[RoleSpec] = []
    for p in files:  # every file is read, so one run reports every problem
        try:
            specs.append(load_role_file(p))
        except RoleFileError as exc:
            problems.extend(_flatten(exc))
    try:
        result = parse_roles(specs)
    except RoleFileError as exc:
        problems.extend(_flatten(exc))
        result = specs
    _raise_all(problems)
    return result


def parse_roles(specs: Iterable[RoleSpec]) -> list[RoleSpec]:
    """Check a set of loaded roles for duplicate names and ids across files (all problems at once)."""
    result: list[RoleSpec] = []
    names: dict[str, RoleSpec] = {}
    ids: dict[str, RoleSpec] = {}
    problems: list[RoleFileError] = []
    for spec in specs:
        key = spec.name.casefold()
        if key in names:
            problems.append(RoleFileError(
                spec.source, None, "name",
                f"role name {spec.name!r} is already used by {names[key].source}",
            ))
            continue
        names[key] = spec
        if spec.role_id is not None:
            if spec.role_id in ids:
                problems.append(RoleFileError(
                    spec.source, None, "id",
                    f"role id {spec.role_id} is already used by {ids[spec.role_id].source} "
                    f"({ids[spec.role_id].name!r})",
                ))
                continue
            ids[spec.role_id] = spec
        result.append(spec)
    _raise_all(problems)
    return result


class _Parser:
    """Walks one file's node tree; keeps the file name for every error.

    Helpers raise :class:`RoleFileError` for the first problem of one unit (a key, a table, a
    privilege); :meth:`collect` records it and the walk goes on with the next unit, so one run
    reports every problem of the file.
    """

    def __init__(self, source: Path) -> None:
        self.source = source
        self.problems: list[RoleFileError] = []

    def error(self, node: yaml.Node | None, key: str | None, message: str) -> RoleFileError:
        line = node.start_mark.line + 1 if node is not None else None
        return RoleFileError(self.source, line, key, message)

    def collect(self, fn: Callable[[], T]) -> T | None:
        try:
            return fn()
        except RoleFileError as exc:
            self.problems.extend(_flatten(exc))
            return None

    def parse(self, text: str) -> RoleSpec:
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
            _raise_all(self.problems)
        except RoleFileError as exc:
            # What did load, so that checks beyond the syntax (e.g. `bc-sales validate`'s table
            # catalog) still see the rest of the file in the same run.
            exc.partial = spec
            raise
        assert spec is not None
        return spec

    # --- sections -----------------------------------------------------------------------------

    def name(self, root: yaml.Node, mapping: Mapping[str, tuple[yaml.Node, yaml.Node]]) -> str:
        if "name" not in mapping:
            raise self.error(root, "name", "missing; every role file needs the role's name")
        name = self.string(mapping["name"][1], "name").strip()
        if not name:
            raise self.error(mapping["name"][1], "name", "must not be empty")
        if len(name) > _MAX_NAME:
            raise self.error(mapping["name"][1], "name", f"longer than {_MAX_NAME} characters")
        return name

    def role_id(self, id_node: yaml.Node) -> str:
        raw = self.string(id_node, "id").strip()
        if not _GUID.match(raw):
            raise self.error(id_node, "id", f"{raw!r} is not a GUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")
        return raw.strip("{}").lower()

    def tables(self, node: yaml.Node) -> list[PrivilegeEntry]:
        if self.is_null(node):
            return []
        entries: list[PrivilegeEntry] = []
        for table, (key_node, value) in self.mapping(node, "tables", lenient=True).items():
            entries.extend(self.collect(lambda: self.table(table, key_node, value)) or [])
        return entries

    def table(self, table: str, key_node: yaml.Node, value: yaml.Node) -> list[PrivilegeEntry]:
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
                problems.extend(_flatten(exc))
        _raise_all(problems)
        assert depth is not None
        return [PrivilegeEntry(table, verb, depth, privilege_name(table, verb), line, solution)
                for verb, line in verbs]

    def verbs(self, node: yaml.Node, where: str, table: str) -> list[tuple[str, int]]:
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
        _raise_all(problems)
        return result

    def tableless(self, node: yaml.Node) -> list[PrivilegeEntry]:
        if self.is_null(node):
            return []
        entries: list[PrivilegeEntry] = []
        for key, (key_node, value) in self.mapping(node, "privileges", lenient=True).items():
            entry = self.collect(lambda: self.tableless_entry(key, key_node, value))
            if entry is not None:
                entries.append(entry)
        return entries

    def tableless_entry(self, key: str, key_node: yaml.Node, value: yaml.Node) -> PrivilegeEntry:
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
        if allow_null and self.is_null(node):
            return ""
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR:
            raise self.error(node, where, f"expected a string, got {self.type_word(node)}")
        return node.value

    def depth(self, node: yaml.Node, where: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR:
            raise self.error(node, where, f"expected a depth, got {self.type_word(node)}; allowed depths: {_allowed(DEPTHS)}")
        depth = DEPTHS.get(node.value.strip().lower())
        if depth is None:
            raise self.error(node, where, f"unknown depth {node.value!r}; allowed depths: {_allowed(DEPTHS)}")
        return depth

    @staticmethod
    def is_null(node: yaml.Node) -> bool:
        return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"

    @staticmethod
    def type_word(node: yaml.Node) -> str:
        return _TYPE_WORDS.get(node.tag, f"a value of type {node.tag}")


def _normalise_verb(word: str) -> str:
    """Accept ``append-to``, ``append_to``, ``AppendTo`` and ``append to`` alike."""
    w = word.strip().lower().replace("_", "-").replace(" ", "-")
    return "append-to" if w == "appendto" else w


def _allowed(words: Mapping[str, str]) -> str:
    return ", ".join(words)


def _depth_words(depths: Iterable[str]) -> str:
    return ", ".join(d.lower() for d in depths)
