"""Role-diff review aid: what a change does to the security roles and the solution package.

``python -m infra.review --base origin/main [--head HEAD] [--repo .]`` reads ``roles/`` and
``solution/`` at two git revisions (straight from git, the work tree is not used) and prints
Markdown for a pull request.  Pulumi's preview of dynamic resources shows a privilege map as one
opaque change; this states it the way the security-role editor does ("Account — Delete: added at
Organization (Global)").

Exit status: 0 when the comparison was made and everything loads at the head revision; 1 when
something does not load at the head revision (a role file that no longer parses, a broken package:
the Markdown lists them under "Problems" with what to fix, and such a file is never reported as a
removed role); 2 when a revision or the repository does not exist.

The stacks' ``solutionSource`` (``Pulumi.<stack>.yaml``) is read at both revisions too: a stack
whose Business Central imports the solution (``business-central``) imports no package, so the
report says which stacks a package change reaches and shows a change of source or minimum version.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from infra.review.report import render
from infra.review.snapshot import ReviewError, Snapshot, snapshot

__all__ = ["ReviewError", "Snapshot", "add_arguments", "main", "render", "review", "review_with_status", "run",
           "snapshot"]


def review(repo: Path | str, base: str, head: str = "HEAD") -> str:
    """Compare ``roles/`` and ``solution/`` between two revisions; returns Markdown.

    Raises :class:`ReviewError` like :func:`snapshot`.
    """
    return render(snapshot(repo, base), snapshot(repo, head))


def review_with_status(repo: Path | str, base: str, head: str = "HEAD") -> tuple[str, int]:
    """(Markdown, exit status): 1 when anything does not load at ``head``, else 0."""
    before, after = snapshot(repo, base), snapshot(repo, head)
    return render(before, after), (1 if after.problems else 0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--base``, ``--head`` and ``--repo`` (shared by ``bc-sales review`` and ``python -m infra.review``)."""
    parser.add_argument("--base", required=True, help="base revision, e.g. origin/main")
    parser.add_argument("--head", default="HEAD", help="head revision (default: HEAD)")
    parser.add_argument("--repo", default=".", help="repository path (default: .)")


def run(args: argparse.Namespace, prog: str = "infra.review") -> int:
    """Print the Markdown; the exit status of :func:`review_with_status` (2 for a bad revision)."""
    try:
        text, status = review_with_status(Path(args.repo), args.base, args.head)
    except ReviewError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    if status:
        print(f"{prog}: problems at {args.head} (listed in the Markdown); exit status {status}", file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m infra.review``: parse ``argv`` and :func:`run`; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m infra.review",
        description="Markdown summary of security-role and solution changes between two git revisions. "
        "Exit status: 0 no problems at the head revision, 1 problems there (listed in the Markdown), "
        "2 bad revision or repository.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))

