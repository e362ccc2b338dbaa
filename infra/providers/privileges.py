"""A role file's privileges against the environment: depths, the catalog, digests and drift.

Privilege names compare case-insensitively in Dataverse; depths are the ``PrivilegeDepth`` names
(:class:`infra.model.terms.PrivilegeDepth`), of which a role file may ask for Basic, Local, Deep and
Global.  Every unknown name and every depth a privilege does not allow is reported at once,
before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any, Iterable, Mapping, Sequence

from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.dataverse import DataverseApi, Privilege
from infra.model.solution_package import PackageError, package_privileges, read_package
from infra.model.terms import PrivilegeDepth
from infra.providers.runtime import ProviderFailure
from infra.providers.solution_install import resolve_package_path

__all__ = ["role_depth", "privileges_digest", "catalog_privileges", "privilege_problems",
           "resolve_privileges", "privilege_drift", "package_allowed"]


def role_depth(value: Any) -> str | None:
    """A depth a role file may ask for, by its ``PrivilegeDepth`` name: ``"global"``/``3``/``3.0``/
    ``"Organization"`` -> ``"Global"``; None for anything else (RecordFilter included)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    try:
        depth = PrivilegeDepth.parse(value)
    except ValueError:
        return None
    return depth.value if depth in PrivilegeDepth.role_depths() else None


def privileges_digest(privileges: Mapping[str, Any] | None) -> str:
    """SHA-256 (hex) of the privilege map in a canonical form (sorted, depth names normalised).

    Why: the outputs keep this digest instead of a second copy of the map (the inputs hold the
    map), which halves a large role's state; diff and update compare digests.  Privilege names
    compare case-insensitively in Dataverse, so they are lower-cased here."""
    canon = sorted((str(k).lower(), role_depth(v) or str(v)) for k, v in (privileges or {}).items())
    return hashlib.sha256(json.dumps(canon, separators=(",", ":")).encode()).hexdigest()


# Privileges found in the catalog, per host process and connection: check() looks every role's
# names up at preview, and the create/update that follows in the same process need not ask again.
# Only privileges that exist are kept -- a name the import is about to add is asked again later.
_CATALOG: dict[tuple[EnvironmentEndpoints, str], Privilege] = {}
_CATALOG_LOCK = threading.Lock()


def catalog_privileges(client: DataverseApi, names: Iterable[str]) -> dict[str, Privilege]:
    """name (lower case) -> Privilege for the names that exist; ONE request for the uncached ones."""
    key = client.connection
    names = sorted({str(n) for n in names})
    with _CATALOG_LOCK:
        found = {n.lower(): _CATALOG[(key, n.lower())] for n in names if (key, n.lower()) in _CATALOG}
    missing = [n for n in names if n.lower() not in found]
    if missing:
        live = client.privileges_by_name(missing)
        with _CATALOG_LOCK:
            for priv in live.values():
                _CATALOG[(key, str(priv.name).lower())] = priv
        found.update({k.lower(): v for k, v in live.items()})
    return found


def privilege_problems(wanted: Mapping[str, str], allowed_by_name: Mapping[str, Sequence[str]]) -> list[str]:
    """Unknown names and depths not allowed, all at once (``allowed_by_name``: lower-case names)."""
    unknown = sorted(n for n in wanted if n.lower() not in allowed_by_name)
    bad_depth = [f"{name} at {depth} (allowed: {', '.join(allowed_by_name[name.lower()]) or 'none'})"
                 for name, depth in sorted(wanted.items())
                 if name.lower() in allowed_by_name and depth not in allowed_by_name[name.lower()]]
    problems = []
    if unknown:
        problems.append(f"unknown privilege name(s): {', '.join(unknown)}")
    if bad_depth:
        problems.append(f"depth not allowed for: {'; '.join(bad_depth)}")
    return problems


def resolve_privileges(client: DataverseApi, wanted: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """privilege name -> (privilege id, depth), or :class:`ProviderFailure` listing every bad entry.

    One catalog request for all names not looked up yet in this process; nothing is written here.
    """
    lower = catalog_privileges(client, wanted)
    problems = privilege_problems(wanted, {k: v.allowed_depths for k, v in lower.items()})
    if problems:
        raise ProviderFailure(
            f"{'; '.join(problems)} -- nothing was changed. Depths are Basic, Local, Deep, Global; "
            "check the role file against the environment's privilege catalog")
    return {name: (lower[name.lower()].privilege_id, depth) for name, depth in sorted(wanted.items())}


def privilege_drift(live: Mapping[str, str], wanted: Mapping[str, str]) -> tuple[list[str], list[str], list[str]]:
    """(missing, extra, at another depth) of the live privileges against the wanted ones."""
    have = {k.lower(): (k, v) for k, v in live.items()}
    want = {k.lower(): (k, v) for k, v in wanted.items()}
    missing = sorted(want[k][0] for k in want.keys() - have.keys())
    extra = sorted(have[k][0] for k in have.keys() - want.keys())
    depth = sorted(f"{want[k][0]} {have[k][1]} -> {want[k][1]}" for k in want.keys() & have.keys()
                   if (role_depth(have[k][1]) or have[k][1]) != (role_depth(want[k][1]) or want[k][1]))
    return missing, extra, depth


def package_allowed(solution: Any) -> dict[str, tuple[str, ...]]:
    """Privileges the role's solution package creates (lower-case name -> allowed depths), from its
    customizations.xml; {} without a readable package (SolutionImport's check reports that)."""
    if not isinstance(solution, Mapping) or not isinstance(solution.get("package_path"), str):
        return {}
    try:
        info = read_package(resolve_package_path(solution["package_path"]))
    except PackageError:
        return {}
    return {k.lower(): v for k, v in package_privileges(info).items()}
