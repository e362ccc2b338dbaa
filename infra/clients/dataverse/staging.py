"""The ``StageSolution`` request body, streamed: ``{"CustomizationFile": "<base64 of the package>"}``.

A solution package can be 100 MB; base64 of it in a JSON string, built in memory, would hold it
three times over.  The body is produced block by block from the file instead (blocks a multiple
of 3 bytes long, so the base64 pieces concatenate into one valid string) and its length computed
up front for ``Content-Length``, so memory stays O(block) and the body can be re-sent on a retry.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any, BinaryIO, Callable, ContextManager, Iterator

from infra.clients.errors import ConfigurationError

__all__ = ["STAGE_READ_BLOCK", "open_package", "stage_solution_body", "stage_body_length"]

#: Bytes read per block: a multiple of 3, so each block's base64 has no padding in the middle.
STAGE_READ_BLOCK = 3 * 64 * 1024

_STAGE_PREFIX = b'{"CustomizationFile":"'
_STAGE_SUFFIX = b'"}'

Opener = Callable[[], ContextManager[BinaryIO]]


def open_package(package: BinaryIO | Path | str) -> tuple[Opener, int]:
    """(callable returning a fresh binary stream as a context manager, size in bytes).

    A path is opened anew for every call; a seekable stream is rewound to where it stood and not
    closed.  Raises :class:`ConfigurationError` for an unreadable path or an unseekable stream.
    """
    if isinstance(package, (str, Path)):
        path = Path(package)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ConfigurationError(f"solution package {str(path)!r} cannot be read: {exc.strerror or exc}") from None
        return (lambda: path.open("rb")), size
    stream = package
    if stream.seekable():
        start = stream.tell()
        stream.seek(0, io.SEEK_END)
        size = stream.tell() - start
        stream.seek(start)

        class _NoClose:
            def __init__(self) -> None:
                stream.seek(start)

            def __enter__(self) -> BinaryIO:
                return stream

            def __exit__(self, *exc: Any) -> None:
                return None

        return _NoClose, size
    raise ConfigurationError("solution package stream must be seekable (pass a Path or an open file)")


def stage_solution_body(open_stream: Opener, block: int = STAGE_READ_BLOCK) -> Iterator[bytes]:
    """Yield ``{"CustomizationFile": "<base64>"}`` in chunks; memory stays O(block).

    ``block`` must be a multiple of 3 (ValueError otherwise).
    """
    if block % 3:
        raise ValueError(f"block must be a multiple of 3 bytes, got {block}")
    yield _STAGE_PREFIX
    with open_stream() as stream:
        while True:
            chunk = stream.read(block)
            if not chunk:
                break
            while len(chunk) % 3:  # short read mid-file: top up to a multiple of 3
                more = stream.read(3 - len(chunk) % 3)
                if not more:
                    break
                chunk += more
            yield base64.b64encode(chunk)
    yield _STAGE_SUFFIX


def stage_body_length(size: int) -> int:
    """The body's length in bytes for a package of ``size`` bytes (the ``Content-Length``)."""
    return len(_STAGE_PREFIX) + 4 * ((size + 2) // 3) + len(_STAGE_SUFFIX)
