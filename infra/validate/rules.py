"""The checking rules of ``bc-sales validate`` as plain functions: inputs in, problems out.

Each rule takes already-loaded values (stack file, role specs, package manifest, catalog) and
returns :class:`~infra.validate.problems.Problem` values; none reads the network or calls Pulumi.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from infra import facts
from infra.model.roles import VERBS, RoleSpec
from infra.model.solution_package import PackageInfo, is_loopback_url
from infra.validate.catalog import OWNER_VERBS, Catalog, suggest
from infra.validate.problems import Problem
from infra.program.config import PROJECT, SECRET_KEYS
from infra.validate.stack_file import SECRET, StackFile

__all__ = [
    "PLACEHOLDER_STACKS",
    "ZERO_GUID",
    "placeholder_problems",
    "plaintext_secret_problems",
    "role_catalog_problems",
    "managed_role_problems",
    "salespeople_role_problems",
    "package_problems",
]

#: Stacks that may keep example values (the emulator's seed uses contoso.example on purpose).
PLACEHOLDER_STACKS = frozenset({"local"})
ZERO_GUID = "00000000-0000-0000-0000-000000000000"
_EXAMPLE = re.compile(r"(?<![A-Za-z0-9])example(?![A-Za-z0-9])", re.IGNORECASE)
_VERB_WORDS = {v: k for k, v in VERBS.items()}
#: The roles the program manages, by name (each needs a role file).
MANAGED_ROLES = tuple(facts.MANAGED_ROLES.values())


def _rel(path: Path | str) -> str:
    return Path(path).as_posix()


# --- placeholders ---------------------------------------------------------------------------


def _placeholder_reason(text: str) -> str | None:
    lowered = text.lower()
    if ZERO_GUID in lowered:
        return "it is the all-zero GUID"
    if "contoso" in lowered:
        return "it contains 'contoso', Microsoft's example company"
    if "placeholder" in lowered:
        return "it contains 'PLACEHOLDER'"
    if _EXAMPLE.search(text):
        return "it contains 'example', a name reserved for examples"
    return None


def placeholder_problems(sf: StackFile) -> list[Problem]:
    """Example values left in a real stack's file (every stack but ``local``)."""
    if sf.stack in PLACEHOLDER_STACKS:
        return []
    problems = []
    for path, line, text in sf.scalars():
        reason = _placeholder_reason(text)
        if reason:
            problems.append(Problem(
                sf.display, line, path,
                f"{text!r} is an example value ({reason}); replace it with your tenant's own value "
                f"(example values are allowed only in the {', '.join(sorted(PLACEHOLDER_STACKS))} stack)",
            ))
    return problems


def plaintext_secret_problems(sf: StackFile) -> list[Problem]:
    """Keys that must hold a Pulumi secret (``secure: v1:...``) but hold plain text."""
    problems = []
    for key in SECRET_KEYS:
        full = f"{PROJECT}:{key}"
        value = sf.raw(full)
        if value not in (None, "", SECRET):
            problems.append(Problem(
                sf.display, sf.line_of(full), full,
                f"stored in plain text; store it encrypted with `pulumi config set --secret {full} <value>` "
                "(and rotate it: it has been in the file)"))
    return problems


# --- role files against the catalog ---------------------------------------------------------


def _depth_words(depths: Iterable[str]) -> str:
    return ", ".join(d.lower() for d in depths)


def role_catalog_problems(specs: Sequence[RoleSpec], catalog: Catalog, package: PackageInfo | None) -> list[Problem]:
    """Table and table-less privilege names, depths and verbs, checked against the catalog.

    A table is known when the catalog lists it or the configured ``package`` declares it; a
    table the role file marks ``solution: X`` comes from another solution and is not checked
    here -- unless X is the configured package, which must then declare it.
    """
    problems: list[Problem] = []
    package_tables = {t.lower() for t in package.tables} if package else set()
    for spec in specs:
        file = _rel(spec.source)
        by_table: dict[str, list] = {}
        for entry in spec.entries:
            if entry.table is not None:
                by_table.setdefault(entry.table, []).append(entry)
        for table, entries in by_table.items():
            first = entries[0]
            where = f"tables.{table}"
            if first.solution:
                if package and package.unique_name.casefold() == first.solution.casefold() \
                        and table not in package_tables:
                    problems.append(Problem(
                        file, first.line, f"{where}.solution",
                        f"the configured package {package.unique_name} {package.version} does not declare table "
                        f"{table!r}; it declares: {', '.join(sorted(package_tables)) or 'no tables'}",
                    ))
                continue
            if table in package_tables:
                continue
            info = catalog.table(table)
            if info is None:
                hint = suggest(table, list(catalog.tables) + sorted(package_tables))
                did_you_mean = f" (did you mean {hint[0]}?)" if hint else ""
                from_package = f", a table the package {package.unique_name} declares" if package else ""
                problems.append(Problem(
                    file, first.line, where,
                    f"unknown table {table!r}{did_you_mean}; allowed: a standard table of Microsoft's table "
                    f"reference (infra/validate/catalog.yaml){from_package}, or a table of another solution "
                    f"declared with 'solution: <unique name>' (docs/role-files.md)",
                ))
                continue
            allowed = info.depths
            if allowed is not None and first.depth not in allowed:
                problems.append(Problem(
                    file, first.line, f"{where}.depth",
                    f"{table} is {info.ownership}-owned, so its privileges allow only {_depth_words(allowed)}, "
                    f"not {first.depth.lower()}",
                ))
            if not info.has_owner:
                for entry in entries:
                    if entry.verb in OWNER_VERBS:
                        problems.append(Problem(
                            file, entry.line, f"{where}.verbs",
                            f"{table} is {info.ownership}-owned: its records have no owner, so there is no "
                            f"{_VERB_WORDS[entry.verb]!r} privilege; allowed verbs: "
                            f"{', '.join(k for k, v in VERBS.items() if v not in OWNER_VERBS)}",
                        ))
        for entry in spec.entries:
            if entry.table is not None:
                continue
            known, only = catalog.tableless(entry.privilege)
            key = f"privileges.{entry.privilege.removeprefix('prv')}"
            if not known:
                hint = suggest(entry.privilege, catalog.tableless_privileges)
                did_you_mean = f" (did you mean {hint[0].removeprefix('prv')}?)" if hint else ""
                problems.append(Problem(
                    file, entry.line, key,
                    f"unknown privilege {entry.privilege!r}{did_you_mean}; allowed: the miscellaneous and "
                    "privacy-related privileges listed in infra/validate/catalog.yaml",
                ))
            elif only is not None and entry.depth != only and entry.privilege not in facts.TABLELESS_PRIVILEGES:
                problems.append(Problem(file, entry.line, key,
                                        f"{entry.privilege} allows only {only.lower()}, not {entry.depth.lower()}"))
    return problems


def managed_role_problems(specs: Sequence[RoleSpec], roles_dir: str = "roles") -> list[Problem]:
    """The program manages three roles by name: each needs a role file."""
    names = {s.name.casefold() for s in specs}
    problems = []
    for name in MANAGED_ROLES:
        if name.casefold() not in names:
            hint = suggest(name, [s.name for s in specs])
            problems.append(Problem(
                f"{roles_dir}/", None, None,
                f"no role file declares the role {name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                + f"; the program manages {', '.join(MANAGED_ROLES)}; found: "
                + (", ".join(sorted(s.name for s in specs)) or "none"),
            ))
    return problems


def salespeople_role_problems(sf: StackFile, project: str, specs: Sequence[RoleSpec],
                              catalog: Catalog) -> list[Problem]:
    """Every role a salesperson is given exists: a predefined Sales role or one of the role files."""
    raw = sf.raw(f"{project}:salespeople")
    if not isinstance(raw, list):
        return []
    known = list(catalog.security_roles) + [s.name for s in specs]
    folded = {k.casefold() for k in known}
    problems = []
    for i, person in enumerate(raw):
        if not isinstance(person, Mapping) or not isinstance(person.get("roles"), list):
            continue
        for j, role in enumerate(person["roles"]):
            if not isinstance(role, str) or not role.strip() or role.strip().casefold() in folded:
                continue
            path = f"{project}:salespeople[{i}].roles[{j}]"
            hint = suggest(role.strip(), known)
            problems.append(Problem(
                sf.display, sf.line_of(path), path,
                f"unknown security role {role!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                + "; allowed: a predefined Dynamics 365 Sales role (" + ", ".join(catalog.security_roles)
                + ") or a role declared in roles/*.yaml (" + ", ".join(sorted(s.name for s in specs)) + ")",
            ))
    return problems


def package_problems(sf: StackFile, project: str, package: PackageInfo, specs: Sequence[RoleSpec],
                     environment_url: str | None) -> list[Problem]:
    """The package is the one the stack expects, and its roles keep the ids the role files give."""
    key = f"{project}:solutionPath"
    line = sf.line_of(key)
    problems = []
    expected = {facts.SALES_INTEGRATION_SOLUTION.casefold()}
    if environment_url is not None and is_loopback_url(environment_url):
        expected.add(facts.STANDIN_SOLUTION_UNIQUE_NAME.casefold())
    if package.unique_name.casefold() not in expected:
        problems.append(Problem(
            sf.display, line, key,
            f"the package is {package.unique_name} {package.version}, but this stack expects Business Central's "
            f"integration solution {facts.SALES_INTEGRATION_SOLUTION}"
            + (f" (or the stand-in {facts.STANDIN_SOLUTION_UNIQUE_NAME} on the emulator)"
               if len(expected) > 1 else ""),
        ))
    by_name = {s.name.casefold(): s for s in specs}
    for role in package.roles:
        spec = by_name.get(role.name.casefold())
        if spec is not None and spec.role_id and not spec.id_derived and spec.role_id != role.role_id:
            problems.append(Problem(
                _rel(spec.source), None, "id",
                f"role {spec.name!r} has id {spec.role_id}, but the package {package.unique_name} ships it with id "
                f"{role.role_id}; use the package's id (the role is adopted by id)",
            ))
    return problems
