"""One problem found by ``bc-sales validate``: where it is (file, line, key) and what to do."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Problem"]


@dataclass(frozen=True)
class Problem:
    """A mistake in a project file.

    ``file`` is relative to the project root (as a person opens it), ``line`` is 1-based or
    ``None`` when the file has no line for it (a key missing from the file, a whole folder),
    ``key`` is the config key or role-file key path, ``message`` says what is wrong and what is
    allowed.  ``str()`` reads ``Pulumi.dev.yaml:3: bc-sales:tenantId: ...``.
    """

    file: str
    line: int | None
    key: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"
