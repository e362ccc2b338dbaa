"""The review aid's input: roles, packages and solution sources as they are at one git revision.

Files are read straight from git (``git ls-tree``, ``git show``, ``git cat-file --batch``); the
work tree is not used, so a review compares exactly what the two revisions hold.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from infra.model.roles import RoleFileError, RoleSpec, load_role_text, parse_roles
from infra.model.solution_package import PackageError, PackageInfo, discover_packages, read_package

__all__ = ["ROLES_DIR", "SOLUTION_DIR", "ReviewError", "Snapshot", "snapshot"]

ROLES_DIR = "roles"
SOLUTION_DIR = "solution"
_STACK_FILE = re.compile(r"^Pulumi\.([A-Za-z0-9_.-]+)\.ya?ml$")


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
    """Load roles and packages as they are at ``rev`` (read from git, not the work tree).

    Files that do not load are listed in ``problems``; raises :class:`ReviewError` when ``rev`` or
    the repository does not exist, or git is missing.
    """
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


