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
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Sequence

from infra import facts
from infra.model.roles import PrivilegeEntry, RoleFileError, RoleSpec, load_role_text, parse_roles
from infra.model.solution_package import PackageError, PackageInfo, discover_packages, read_package
from infra.model.terms import PrivilegeDepth

__all__ = ["ReviewError", "Snapshot", "add_arguments", "main", "render", "review", "review_with_status", "run",
           "snapshot"]

ROLES_DIR = "roles"
SOLUTION_DIR = "solution"
_STACK_FILE = re.compile(r"^Pulumi\.([A-Za-z0-9_.-]+)\.ya?ml$")
FIX_HINT = ("Fix these in this pull request: `bc-sales validate --all-stacks` lists every problem with its file, "
            "line and what is allowed (docs/role-files.md, solution/README.md).")
VERB_WORDS = {
    "Create": "Create", "Read": "Read", "Write": "Write", "Delete": "Delete",
    "Append": "Append", "AppendTo": "Append To", "Assign": "Assign", "Share": "Share",
}
_VERB_ORDER = list(VERB_WORDS)


class ReviewError(Exception):
    """The comparison cannot be made (no such revision, not a git repository, git missing)."""


@dataclass
class Snapshot:
    """Roles and packages at one revision, plus what failed to load there."""

    label: str
    commit: str
    roles: list[RoleSpec] = field(default_factory=list)
    packages: dict[str, PackageInfo] = field(default_factory=dict)  # unique name -> info
    package_paths: dict[str, str] = field(default_factory=dict)  # unique name -> repo-relative path
    problems: list[str] = field(default_factory=list)
    broken_files: set[str] = field(default_factory=set)  # role files that do not load (repo-relative)
    #: stack -> (solutionSource, solutionMinimumVersion, solutionPath) from Pulumi.<stack>.yaml
    solution_sources: dict[str, tuple[str, str, str]] = field(default_factory=dict)


# --- git ----------------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)
    except FileNotFoundError:
        raise ReviewError("git is not installed or not on PATH") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ReviewError(f"git {' '.join(args)} failed: {message[-1] if message else done.returncode}")
    return done.stdout


def _resolve(repo: Path, rev: str) -> str:
    try:
        _git(repo, "rev-parse", "--git-dir")
    except ReviewError:
        raise ReviewError(f"{repo} is not a git repository") from None
    try:
        return _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}").decode().strip()
    except ReviewError:
        raise ReviewError(f"revision {rev!r} does not exist in {repo} (fetch it first, e.g. git fetch origin main)") from None


def _ls(repo: Path, commit: str, folder: str) -> list[str]:
    out = _git(repo, "ls-tree", "-r", "-z", "--name-only", commit, "--", f"{folder}/")
    return sorted(p for p in out.decode("utf-8").split("\0") if p)


def _export(repo: Path, commit: str, folder: str, dest: Path) -> list[str]:
    """Write ``folder`` as it is at ``commit`` under ``dest``, streaming blobs (zips can be large).

    ``git cat-file --batch`` rather than ``git archive``: archive honours ``export-ignore`` and
    ``export-subst`` attributes, which would change what we compare.
    """
    listing = _git(repo, "ls-tree", "-r", "-z", "--full-tree", commit, "--", f"{folder}/")
    blobs: list[tuple[str, PurePosixPath]] = []
    problems: list[str] = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, raw_path = record.split(b"\t", 1)
        mode, kind, sha = meta.decode().split()
        path = PurePosixPath(raw_path.decode("utf-8", "replace"))
        if kind != "blob" or ".." in path.parts or path.is_absolute():
            continue
        if mode == "120000":
            problems.append(f"{path}: symbolic link, not compared")
            continue
        blobs.append((sha, path))
    if not blobs:
        return problems
    proc = subprocess.Popen(["git", "-C", str(repo), "cat-file", "--batch"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for sha, path in blobs:
            proc.stdin.write(f"{sha}\n".encode())
            proc.stdin.flush()
            header = proc.stdout.readline().split()
            if len(header) != 3 or header[1] != b"blob":
                raise ReviewError(f"git cat-file could not read {path} at {commit[:7]}")
            remaining = int(header[2])
            target = dest.joinpath(*path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as fh:
                while remaining:
                    chunk = proc.stdout.read(min(remaining, 1024 * 1024))
                    if not chunk:
                        raise ReviewError(f"git cat-file ended early while reading {path}")
                    fh.write(chunk)
                    remaining -= len(chunk)
            proc.stdout.read(1)  # the newline after each object
    finally:
        proc.stdin.close()
        proc.stdout.close()
        proc.wait()
    return problems


def snapshot(repo: Path | str, rev: str) -> Snapshot:
    """Load roles and packages as they are at ``rev``."""
    repo = Path(repo)
    commit = _resolve(repo, rev)
    snap = Snapshot(rev, commit)

    specs: list[RoleSpec] = []
    for path in _ls(repo, commit, ROLES_DIR):
        p = PurePosixPath(path)
        if p.parent != PurePosixPath(ROLES_DIR) or p.suffix not in (".yaml", ".yml"):
            continue
        text = _git(repo, "show", f"{commit}:{path}").decode("utf-8", "replace")
        try:
            specs.append(load_role_text(text, Path(path)))
        except RoleFileError as exc:
            snap.problems.extend(str(exc).splitlines())
            snap.broken_files.add(path)
    try:
        snap.roles = parse_roles(specs)
    except RoleFileError as exc:
        snap.problems.extend(str(exc).splitlines())
        snap.roles = specs
    snap.solution_sources = _solution_sources(repo, commit)

    with tempfile.TemporaryDirectory(prefix="review-") as tmp:
        root = Path(tmp)
        snap.problems.extend(_export(repo, commit, SOLUTION_DIR, root))
        for pkg in discover_packages(root / SOLUTION_DIR):
            rel = pkg.relative_to(root).as_posix()
            try:
                info = read_package(pkg)
            except PackageError as exc:
                snap.problems.append(str(exc).replace(str(pkg), rel))
                continue
            if info.unique_name in snap.packages:
                snap.problems.append(f"{rel}: the solution {info.unique_name} is also in "
                                     f"{snap.package_paths[info.unique_name]}")
                continue
            snap.packages[info.unique_name] = info
            snap.package_paths[info.unique_name] = rel
    return snap


def _solution_sources(repo: Path, commit: str) -> dict[str, tuple[str, str, str]]:
    """stack -> (solutionSource, solutionMinimumVersion, solutionPath) as the stack files say."""
    import yaml

    out = _git(repo, "ls-tree", "-z", "--name-only", commit)
    result: dict[str, tuple[str, str, str]] = {}
    for name in sorted(p for p in out.decode("utf-8").split("\0") if p):
        match = _STACK_FILE.match(name)
        if not match:
            continue
        try:
            data = yaml.safe_load(_git(repo, "show", f"{commit}:{name}").decode("utf-8", "replace")) or {}
        except yaml.YAMLError:
            continue  # bc-sales validate reports a broken stack file with its line
        config = data.get("config") if isinstance(data, dict) else None
        config = config if isinstance(config, dict) else {}
        text = lambda key, default="": str(config.get(f"bc-sales:{key}") or default)  # noqa: E731
        result[match.group(1)] = (text("solutionSource", "package"), text("solutionMinimumVersion"),
                                  text("solutionPath"))
    return result


# --- comparison ----------------------------------------------------------------------------------


def _depth(depth: str) -> str:
    """'Organization (Global)': the editor's name, then the Web API's."""
    try:
        found = PrivilegeDepth.parse(depth)
    except ValueError:
        return depth
    return f"{found.editor_name} ({found.value})"


def _split_camel(name: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)


def _what(entry: PrivilegeEntry) -> str:
    """'Account — Delete' or 'Act on Behalf of Another User'."""
    if entry.table is None:
        return facts.TABLELESS_DISPLAY_NAMES.get(entry.privilege, _split_camel(entry.privilege.removeprefix("prv")))
    table = facts.TABLE_DISPLAY_NAMES.get(entry.table, entry.table)
    return f"{table} — {VERB_WORDS.get(entry.verb or '', entry.verb)}"


def _sort_key(entry: PrivilegeEntry) -> tuple:
    if entry.table is None:
        return (1, _what(entry).lower(), 0)
    table = facts.TABLE_DISPLAY_NAMES.get(entry.table, entry.table).lower()
    return (0, table, _VERB_ORDER.index(entry.verb) if entry.verb in _VERB_ORDER else 99)


def _privilege_lines(base: RoleSpec | None, head: RoleSpec | None) -> list[str]:
    old = {e.privilege: e for e in base.entries} if base else {}
    new = {e.privilege: e for e in head.entries} if head else {}
    changes: list[tuple[tuple, str]] = []
    for name in old.keys() | new.keys():
        a, b = old.get(name), new.get(name)
        if a is None and b is not None:
            changes.append((_sort_key(b), f"{_what(b)}: added at {_depth(b.depth)}"))
        elif b is None and a is not None:
            changes.append((_sort_key(a), f"{_what(a)}: removed (was {_depth(a.depth)})"))
        elif a is not None and b is not None and a.depth != b.depth:
            changes.append((_sort_key(b), f"{_what(b)}: depth changed from {_depth(a.depth)} to {_depth(b.depth)}"))
    return [f"- {text}" for _, text in sorted(changes)]


def _match_roles(base: list[RoleSpec], head: list[RoleSpec]) -> list[tuple[RoleSpec | None, RoleSpec | None]]:
    """Pair roles by id, then (for an id change) by name."""
    pairs: list[tuple[RoleSpec | None, RoleSpec | None]] = []
    head_by_id = {r.role_id: r for r in head}
    left = []
    used: set[int] = set()
    for r in base:
        h = head_by_id.get(r.role_id)
        if h is not None and id(h) not in used:
            pairs.append((r, h))
            used.add(id(h))
        else:
            left.append(r)
    head_left = [h for h in head if id(h) not in used]
    by_name = {h.name.casefold(): h for h in head_left}
    for r in left:
        h = by_name.pop(r.name.casefold(), None)
        pairs.append((r, h))
        if h is not None:
            used.add(id(h))
    pairs.extend((None, h) for h in head if id(h) not in used)
    return sorted(pairs, key=lambda p: (p[1] or p[0]).name.casefold())  # type: ignore[union-attr]


def _role_section(base: RoleSpec | None, head: RoleSpec | None, head_broken: set[str] = frozenset(),
                  head_label: str = "HEAD") -> list[str]:
    if head is None and base is not None and base.source.as_posix() in head_broken:
        return [f"### Security role: {base.name} — not compared", "",
                f"`{base.source.as_posix()}` does not load at `{head_label}` (see **Problems** above); the role is "
                "still declared, and the deployment refuses to run until the file is fixed.", ""]
    if base is None and head is not None:
        lines = [f"### Security role added: {head.name}", "",
                 f"`{head.source.as_posix()}`, id `{head.role_id}`, {len(head.entries)} privileges:", ""]
        return lines + _privilege_lines(None, head) + [""]
    if head is None and base is not None:
        return [f"### Security role removed: {base.name}", "",
                f"`{base.source.as_posix()}` was deleted; the role (id `{base.role_id}`) is no longer managed. "
                "Whether it is deleted from Dataverse depends on the stack's delete setting.", ""]
    assert base is not None and head is not None
    notes: list[str] = []
    if base.name != head.name:
        notes.append(f"- Renamed from **{base.name}** to **{head.name}**")
    if base.role_id != head.role_id:
        notes.append(f"- Id changed from `{base.role_id}` to `{head.role_id}`: the role will be replaced")
    if base.description != head.description:
        notes.append("- Description changed")
    privileges = _privilege_lines(base, head)
    if not notes and not privileges:
        return []
    return [f"### Security role: {head.name}", ""] + notes + privileges + [""]


def _describe_source(source: tuple[str, str, str]) -> str:
    kind, minimum, path = source
    if kind == "business-central":
        return ("business-central (Business Central imports the solution; required installed"
                + (f" at version {minimum} or later" if minimum else "") + ")")
    return f"package (`{path}`)" if path else "package"


def _source_section(base: Snapshot, head: Snapshot) -> list[str]:
    lines: list[str] = []
    for stack in sorted(base.solution_sources.keys() | head.solution_sources.keys()):
        a, b = base.solution_sources.get(stack), head.solution_sources.get(stack)
        if a is None or b is None or a == b:
            continue
        lines.append(f"- `{stack}`: {_describe_source(a)} → {_describe_source(b)}")
    return lines


def _package_section(base: Snapshot, head: Snapshot) -> list[str]:
    lines: list[str] = []
    for name in sorted(base.packages.keys() | head.packages.keys(), key=str.casefold):
        a, b = base.packages.get(name), head.packages.get(name)
        if a is None and b is not None:
            lines.append(f"- `{name}` added: version {b.version}, {'managed' if b.managed else 'unmanaged'} "
                         f"(`{head.package_paths[name]}`, SHA-256 `{b.sha256[:12]}…`)")
            continue
        if b is None and a is not None:
            lines.append(f"- `{name}` removed from `{base.package_paths[name]}` (was version {a.version}); "
                         "the installed solution stays unless the stack uninstalls it")
            continue
        assert a is not None and b is not None
        items: list[str] = []
        if a.version != b.version:
            direction = "upgrade" if b.version_tuple > a.version_tuple else \
                "**downgrade — will be refused: deployments move forward**" \
                if b.version_tuple < a.version_tuple else "same version, spelled differently"
            items.append(f"version {a.version} → {b.version} ({direction})")
        if a.managed != b.managed:
            items.append(f"**managed flag changed: {'managed' if a.managed else 'unmanaged'} → "
                         f"{'managed' if b.managed else 'unmanaged'}**")
        if a.sha256 != b.sha256:
            items.append(f"package SHA-256 `{a.sha256[:12]}…` → `{b.sha256[:12]}…`")
            if a.version == b.version and b.managed:
                items.append("**content changed without a version change: a managed package is refused at "
                             "preview where this version is installed -- raise the version**")
            elif a.version == b.version:
                items.append("**content changed without a version change: the unmanaged package is imported "
                             "again**")
        if a.sha256 != b.sha256 or a.version != b.version:
            items.append("every security role re-applies its role file after the import")
        if base.package_paths[name] != head.package_paths[name]:
            items.append(f"moved from `{base.package_paths[name]}` to `{head.package_paths[name]}`")
        if items:
            lines.append(f"- `{name}`: " + "; ".join(items))
    return lines


def render(base: Snapshot, head: Snapshot) -> str:
    """The Markdown report."""
    out = [f"## Security roles and solution: `{base.label}` ({base.commit[:7]}) → `{head.label}` ({head.commit[:7]})", ""]
    body: list[str] = []
    if head.problems:
        body += [f"**Problems at `{head.label}`** (the deployment will fail on these):", ""]
        body += [f"- {p}" for p in head.problems] + ["", FIX_HINT, ""]
    if base.problems:
        body += [f"_Some files did not load at `{base.label}` ({len(base.problems)}); "
                 "what they declare shows as added._", ""]
    for a, b in _match_roles(base.roles, head.roles):
        body += _role_section(a, b, head.broken_files, head.label)
    sources = _source_section(base, head)
    if sources:
        body += ["### Solution source", ""] + sources + [""]
    packages = _package_section(base, head)
    if packages:
        bc_only = [s for s, v in head.solution_sources.items() if v[0] == "business-central"]
        note: list[str] = []
        if bc_only and len(bc_only) == len(head.solution_sources):
            note = ["_Every stack uses `solutionSource: business-central`: no stack imports these packages._", ""]
        elif bc_only:
            note = [f"_Stacks {', '.join(f'`{s}`' for s in sorted(bc_only))} use `solutionSource: business-central` "
                    "and import no package._", ""]
        body += ["### Solution package", ""] + note + packages + [""]
    if not body:
        body = ["No changes to security roles or the solution package.", ""]
    return "\n".join(out + body).rstrip() + "\n"


def review(repo: Path | str, base: str, head: str = "HEAD") -> str:
    """Compare ``roles/`` and ``solution/`` between two revisions; returns Markdown."""
    return render(snapshot(repo, base), snapshot(repo, head))


def review_with_status(repo: Path | str, base: str, head: str = "HEAD") -> tuple[str, int]:
    """(Markdown, exit status): 1 when anything does not load at ``head``, else 0."""
    before, after = snapshot(repo, base), snapshot(repo, head)
    return render(before, after), (1 if after.problems else 0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
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
    parser = argparse.ArgumentParser(
        prog="python -m infra.review",
        description="Markdown summary of security-role and solution changes between two git revisions. "
        "Exit status: 0 no problems at the head revision, 1 problems there (listed in the Markdown), "
        "2 bad revision or repository.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
