"""What goes wrong in a role file: one :class:`RoleFileError` per problem, or several at once."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, TYPE_CHECKING

if TYPE_CHECKING:  # the spec module does not import this one back at run time
    from infra.model.roles.spec import RoleSpec

__all__ = ["RoleFileError", "RoleFileErrors", "raise_all"]


class RoleFileError(ValueError):
    """A role file is invalid; ``str()`` reads ``roles/x.yaml:12: tables.account.depth: ...``.

    ``file`` is the path as given, ``line`` 1-based (``None`` when the problem has no line, e.g. a
    missing file), ``key`` the dotted key path (``tables.account.depth``) or ``None``.
    """

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

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:  # keep picklable across process boundaries (pytest-xdist, providers)
        return (type(self), (self.file, self.line, self.key, self.message))

    def each(self) -> list[RoleFileError]:
        """The single problems this error stands for: ``[self]`` (several for :class:`RoleFileErrors`)."""
        return [self]


class RoleFileErrors(RoleFileError):
    """Several problems at once (one file or a whole directory); ``problems`` lists them in order.

    ``file``/``line``/``key``/``message`` are the first problem's, so code that handles one
    :class:`RoleFileError` keeps working; ``str()`` gives one line per problem.  Raises
    ``ValueError`` when built from no problem at all.
    """

    def __init__(self, problems: Iterable[RoleFileError]) -> None:
        self.problems = list(problems)
        if not self.problems:
            raise ValueError("RoleFileErrors needs at least one problem")
        first = self.problems[0]
        super().__init__(first.file, first.line, first.key, first.message)

    def __str__(self) -> str:
        return "\n".join(RoleFileError.__str__(p) for p in self.problems)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (type(self), (self.problems,))

    def each(self) -> list[RoleFileError]:
        """Every problem, in the order found."""
        return list(self.problems)


def raise_all(problems: list[RoleFileError]) -> None:
    """Raise nothing for no problem, the problem itself for one, :class:`RoleFileErrors` for more."""
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise RoleFileErrors(problems)
