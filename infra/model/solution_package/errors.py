"""What makes a solution package unusable: :class:`PackageError` (file, element, message)."""

from __future__ import annotations

from typing import Any

from pathlib import Path

__all__ = ["PackageError"]


class PackageError(ValueError):
    """A package is unusable; ``str()`` reads ``solution/x.zip: solution.xml SolutionManifest/Version: ...``.

    ``file`` is the package path as given, ``element`` the member and XML path of the problem (or
    ``None`` when the whole package is at fault), ``message`` what is wrong and what is allowed.
    """

    def __init__(self, file: Path | str, element: str | None, message: str) -> None:
        self.file = str(file)
        self.element = element
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.file}: {self.element}: {self.message}" if self.element else f"{self.file}: {self.message}"

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:  # picklable across process boundaries (pytest-xdist, provider hosts)
        return (type(self), (self.file, self.element, self.message))
