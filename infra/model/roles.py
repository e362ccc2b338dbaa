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
from typing import Iterable, Mapping

import yaml

from infra import facts

__all__ = [
    "PrivilegeEntry",
    "RoleFileError",
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
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PRIVILEGE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_GUID = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")
_MAX_NAME = 100  # roles.name column length

_STR = "tag:yaml.org,2002:str"
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
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"

    def __reduce__(self):  # keep picklable across process boundaries (pytest-xdist, providers)
        return (type(self), (self.file, self.line, self.key, self.message))


@dataclass(frozen=True)
class PrivilegeEntry:
    """One granted privilege: ``table``/``verb`` are ``None`` for table-less privileges."""

    table: str | None
    verb: str | None
    depth: str
    privilege: str
    line: int


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
    return parse_roles(load_role_file(p) for p in files)


def parse_roles(specs: Iterable[RoleSpec]) -> list[RoleSpec]:
    """Check a set of loaded roles for duplicate names and ids across files."""
    result: list[RoleSpec] = []
    names: dict[str, RoleSpec] = {}
    ids: dict[str, RoleSpec] = {}
    for spec in specs:
        key = spec.name.casefold()
        if key in names:
            raise RoleFileError(
                spec.source, None, "name",
                f"role name {spec.name!r} is already used by {names[key].source}",
            )
        names[key] = spec
        if spec.role_id is not None:
            if spec.role_id in ids:
                raise RoleFileError(
                    spec.source, None, "id",
                    f"role id {spec.role_id} is already used by {ids[spec.role_id].source} "
                    f"({ids[spec.role_id].name!r})",
                )
            ids[spec.role_id] = spec
        result.append(spec)
    return result


class _Parser:
    """Walks one file's node tree; keeps the file name for every error."""

    def __init__(self, source: Path) -> None:
        self.source = source

    def error(self, node: yaml.Node | None, key: str | None, message: str) -> RoleFileError:
        line = node.start_mark.line + 1 if node is not None else None
        return RoleFileError(self.source, line, key, message)

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
        mapping = self.mapping(root, None)

        for key, (key_node, _) in mapping.items():
            if key not in _TOP_LEVEL_KEYS:
                raise self.error(key_node, key, f"unknown key; allowed keys: {', '.join(_TOP_LEVEL_KEYS)}")

        if "name" not in mapping:
            raise self.error(root, "name", "missing; every role file needs the role's name")
        name = self.string(mapping["name"][1], "name").strip()
        if not name:
            raise self.error(mapping["name"][1], "name", "must not be empty")
        if len(name) > _MAX_NAME:
            raise self.error(mapping["name"][1], "name", f"longer than {_MAX_NAME} characters")

        id_derived = "id" not in mapping
        if id_derived:
            role_id = derived_role_id(name)
        else:
            id_node = mapping["id"][1]
            raw = self.string(id_node, "id").strip()
            if not _GUID.match(raw):
                raise self.error(id_node, "id", f"{raw!r} is not a GUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")
            role_id = raw.strip("{}").lower()

        description = ""
        if "description" in mapping:
            description = self.string(mapping["description"][1], "description", allow_null=True).strip()

        entries: list[PrivilegeEntry] = []
        if "tables" in mapping:
            entries.extend(self.tables(mapping["tables"][1]))
        if "privileges" in mapping:
            entries.extend(self.tableless(mapping["privileges"][1]))
        if not entries:
            raise self.error(root, "tables", "the role grants no privileges; add 'tables' or 'privileges'")

        seen: dict[str, PrivilegeEntry] = {}
        for entry in entries:
            if entry.privilege in seen:
                first = seen[entry.privilege]
                raise RoleFileError(
                    self.source, entry.line, entry.privilege,
                    f"privilege granted twice (first on line {first.line})",
                )
            seen[entry.privilege] = entry
        return RoleSpec(name, role_id, description, self.source, tuple(entries), id_derived)

    # --- sections -----------------------------------------------------------------------------

    def tables(self, node: yaml.Node) -> list[PrivilegeEntry]:
        if self.is_null(node):
            return []
        entries: list[PrivilegeEntry] = []
        for table, (key_node, value) in self.mapping(node, "tables").items():
            where = f"tables.{table}"
            if not _TABLE_NAME.match(table):
                raise self.error(
                    key_node, where,
                    "not a table logical name (lower case letters, digits and '_', e.g. account, salesorder)",
                )
            spec = self.mapping(value, where)
            for key, (k_node, _) in spec.items():
                if key not in _TABLE_KEYS:
                    raise self.error(k_node, f"{where}.{key}", f"unknown key; allowed keys: {', '.join(_TABLE_KEYS)}")
            for required in _TABLE_KEYS:
                if required not in spec:
                    raise self.error(value, f"{where}.{required}", "missing")
            depth_node = spec["depth"][1]
            depth = self.depth(depth_node, f"{where}.depth")
            allowed_depths = facts.TABLE_DEPTHS.get(table)
            if allowed_depths is not None and depth not in allowed_depths:
                raise self.error(
                    depth_node, f"{where}.depth",
                    f"{table} privileges allow only {_depth_words(allowed_depths)}, not {depth.lower()}",
                )
            verbs = self.verbs(spec["verbs"][1], f"{where}.verbs", table)
            for verb, line in verbs:
                entries.append(PrivilegeEntry(table, verb, depth, privilege_name(table, verb), line))
        return entries

    def verbs(self, node: yaml.Node, where: str, table: str) -> list[tuple[str, int]]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, where, f"expected a list of verbs, got {self.type_word(node)}; allowed verbs: {_allowed(VERBS)}")
        if not node.value:
            raise self.error(node, where, f"the list is empty; allowed verbs: {_allowed(VERBS)}")
        result: list[tuple[str, int]] = []
        seen: set[str] = set()
        only = facts.TABLE_VERBS.get(table)
        for item in node.value:
            word = self.string(item, where).strip()
            verb = VERBS.get(_normalise_verb(word))
            if verb is None:
                raise self.error(item, where, f"unknown verb {word!r}; allowed verbs: {_allowed(VERBS)}")
            if verb in seen:
                raise self.error(item, where, f"verb {word!r} listed twice")
            if only is not None and verb not in only:
                allowed = ", ".join(k for k, v in VERBS.items() if v in only)
                raise self.error(item, where, f"{table} has no {word!r} privilege; it has only: {allowed}")
            seen.add(verb)
            result.append((verb, item.start_mark.line + 1))
        return result

    def tableless(self, node: yaml.Node) -> list[PrivilegeEntry]:
        if self.is_null(node):
            return []
        entries: list[PrivilegeEntry] = []
        for key, (key_node, value) in self.mapping(node, "privileges").items():
            where = f"privileges.{key}"
            if not _PRIVILEGE_NAME.match(key):
                raise self.error(key_node, where, "not a privilege name (e.g. ActOnBehalfOfAnotherUser)")
            privilege = key if key.startswith("prv") else f"prv{key}"
            depth = self.depth(value, where)
            only = facts.TABLELESS_PRIVILEGES.get(privilege)
            if only is not None and depth != only:
                raise self.error(value, where, f"{privilege} allows only {_depth_words((only,))}, not {depth.lower()}")
            entries.append(PrivilegeEntry(None, None, depth, privilege, key_node.start_mark.line + 1))
        return entries

    # --- scalar helpers ---------------------------------------------------------------------------

    def mapping(self, node: yaml.Node, where: str | None) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """Keys -> (key node, value node), rejecting non-string and duplicate keys."""
        if not isinstance(node, yaml.MappingNode):
            if where is None:
                raise self.error(node, None, f"the file must be a mapping (key: value), got {self.type_word(node)}")
            raise self.error(node, where, f"expected a mapping, got {self.type_word(node)}")
        result: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR:
                raise self.error(key_node, where, f"keys must be strings, got {self.type_word(key_node)}")
            key = key_node.value
            full = key if where is None else f"{where}.{key}"
            if key in result:
                first = result[key][0].start_mark.line + 1
                raise self.error(key_node, full, f"duplicate key (first on line {first})")
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
