"""PipeLines: every line a child wrote before ``lines()`` is called is returned."""

from __future__ import annotations

import subprocess
import sys

from devkit.harness.pipe_lines import PipeLines

# Writes n lines to stderr in one burst, then answers on stdout -- like the provider host, which
# logs and then answers the RPC.  A buffered reader thread used to hold some of the burst back.
CHILD = r"""
import sys
for line in sys.stdin:
    n = int(line)
    sys.stderr.write("".join(f"line {i} of {n}\n" for i in range(n)))
    sys.stderr.flush()
    print("answered", flush=True)
"""


def test_lines_written_before_the_answer_are_all_there() -> None:
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=False)
    assert proc.stdin and proc.stdout and proc.stderr
    lines = PipeLines(proc.stderr)
    try:
        for n in (1, 7, 3000, 2, 20000):
            lines.clear()
            proc.stdin.write(f"{n}\n".encode())
            proc.stdin.flush()
            assert proc.stdout.readline() == b"answered\n"
            got = lines.lines()
            assert len(got) == n and got[-1] == f"line {n - 1} of {n}", (n, len(got))
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
    # closing stops reading but keeps what was collected
    lines.close()
    assert lines.lines() == got


def test_unterminated_last_line_is_kept_at_end_of_file() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stderr.write('a\\nb')"],
                            stderr=subprocess.PIPE)
    assert proc.stderr
    lines = PipeLines(proc.stderr)
    proc.wait(timeout=10)
    assert lines.lines() == ["a", "b"]
    lines.close()
