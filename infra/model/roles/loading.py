"""Loading role files: one file, its text, or a whole directory (every problem reported at once)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from infra.model.roles.errors import RoleFileError, raise_all
from infra.model.roles.parser import RoleFileParser
from infra.model.roles.spec import RoleSpec

__all__ = ["load_role_file", "load_role_text", "load_roles", "parse_roles", "role_files"]


def role_files(directory: Path) -> list[Path]:
    """The role files in ``directory``: ``*.yaml`` / ``*.yml``, no dot files, sorted by name."""
    return sorted(p for p in directory.iterdir()
                  if p.suffix in (".yaml", ".yml") and p.is_file() and not p.name.startswith("."))


def load_role_file(path: Path | str) -> RoleSpec:
    """Load and validate one role file.

    Raises :class:`RoleFileError` (or :class:`~infra.model.roles.errors.RoleFileErrors` for
    several problems) naming the file, line and key; a missing or non-UTF-8 file is one too.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RoleFileError(path, None, None, "file not found") from None
    except UnicodeDecodeError as exc:
        raise RoleFileError(path, None, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return load_role_text(text, path)


def load_role_text(text: str, source: Path | str) -> RoleSpec:
    """Validate a role file's text; ``source`` is only used in messages and ``RoleSpec.source``.

    Raises :class:`RoleFileError`; its ``partial`` holds what did load (for checks beyond syntax).
    """
    return RoleFileParser(Path(source)).parse(text)


def load_roles(directory: Path | str = "roles") -> list[RoleSpec]:
    """Load every ``*.yaml`` / ``*.yml`` file in ``directory`` (sorted by file name).

    Role names (case-insensitively, as Dataverse compares them) and ids must be unique across
    files.  Every file is read, so one :class:`RoleFileError` reports every problem of the folder.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise RoleFileError(directory, None, None, "role directory not found")
    files = role_files(directory)
    if not files:
        raise RoleFileError(directory, None, None, "no role files (*.yaml) in this directory")
    problems: list[RoleFileError] = []
    specs: list[RoleSpec] = []
    for p in files:
        try:
            specs.append(load_role_file(p))
        except RoleFileError as exc:
            problems.extend(exc.each())
    try:
        result = parse_roles(specs)
    except RoleFileError as exc:
        problems.extend(exc.each())
        result = specs
    raise_all(problems)
    return result


def parse_roles(specs: Iterable[RoleSpec]) -> list[RoleSpec]:
    """Check a set of loaded roles for duplicate names and ids across files (all problems at once).

    Returns the specs that are not duplicates, in order; raises :class:`RoleFileError` otherwise.
    """
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
    raise_all(problems)
    return result
