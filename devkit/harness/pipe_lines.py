"""The lines a child process writes to a pipe, collected without losing the last ones.

A thread that iterates a buffered pipe can hold lines in its buffer that it has not appended
yet, so "the pipe is empty" does not mean "every line is in the list". Here the pipe is read
with ``os.read`` and the lines appended under one lock, and :meth:`PipeLines.lines` reads what
is left in the pipe under that lock first: whatever the child wrote before the call is returned.
"""

from __future__ import annotations

import os
import select
import threading
from typing import IO


class PipeLines:
    """Collects ``stream``'s lines (decoded, newline stripped) on a daemon thread.

    ``stream`` is the read end of a child's pipe; it is switched to non-blocking mode and owned
    by this object from then on (:meth:`close` closes it).
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._fd = stream.fileno()
        os.set_blocking(self._fd, False)
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._partial = b""
        self._eof = False
        threading.Thread(target=self._run, daemon=True, name="pipe-lines").start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._eof:
                    return
            try:
                select.select([self._fd], [], [], 0.2)
            except (ValueError, OSError):
                return
            with self._lock:
                self._pump()

    def _pump(self) -> None:
        """Read everything the pipe holds now and append its complete lines (lock held)."""
        while not self._eof:
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                self._eof = True
                return
            if not chunk:
                self._eof = True
                chunk = b"\n" if self._partial else b""
            *complete, self._partial = (self._partial + chunk).split(b"\n")
            self._lines.extend(raw.decode(errors="replace") for raw in complete)

    def lines(self) -> list[str]:
        """Every line written so far (a copy)."""
        with self._lock:
            self._pump()
            return list(self._lines)

    def clear(self) -> None:
        """Forget the lines written so far."""
        with self._lock:
            self._pump()
            self._lines.clear()

    def close(self) -> None:
        """Stop reading and close the pipe (the lines collected stay readable)."""
        with self._lock:
            self._eof = True
            self._stream.close()
