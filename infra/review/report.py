"""The review aid's Markdown: role, solution-source and package changes between two snapshots.

Pulumi's preview of dynamic resources shows a privilege map as one opaque change; this states it
the way the security-role editor does ("Account — Delete: added at Organization (Global)").
"""

from __future__ import annotations

import re

from infra import facts
from infra.model.roles import PrivilegeEntry, RoleSpec
from infra.model.terms import PrivilegeDepth
from infra.review.snapshot import Snapshot

__all__ = ["FIX_HINT", "VERB_WORDS", "render"]

FIX_HINT = ("Fix these in this pull request: `bc-sales validate --all-stacks` lists every problem with its file, "
            "line and what is allowed (docs/role-files.md, solution/README.md).")
VERB_WORDS = {
    "Create": "Create", "Read": "Read", "Write": "Write", "Delete": "Delete",
    "Append": "Append", "AppendTo": "Append To", "Assign": "Assign", "Share": "Share",
}
_VERB_ORDER = list(VERB_WORDS)


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
    """The Markdown report comparing ``base`` with ``head``: problems at the head first, then each
    changed role, the solution source per stack, and the packages."""
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


