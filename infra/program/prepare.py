"""Everything the program reads before it registers the first resource.

Role files, the solution manifest and the licence seats are checked here so that any refusal is
one clean message (a :class:`pulumi.RunError`, printed without a traceback) and nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from infra.clients.connection import Connection
from infra.model.roles import RoleFileError, RoleSpec, load_roles
from infra.model.solution_package import PackageError, PackageInfo, read_package
from infra.program.config import PROJECT_ROOT, StackSettings
from infra.program.skus import SeatSource, run_seat_preflight

__all__ = ["Prepared", "prepare", "graph_seat_source"]

ROLES_DIR = PROJECT_ROOT / "roles"


@dataclass(frozen=True)
class Prepared:
    package: PackageInfo | None  # None with solutionSource business-central (nothing is imported)
    roles: list[RoleSpec]
    sku_ids: dict[str, str]


def graph_seat_source(connection: Connection, env: Mapping[str, str]) -> SeatSource | None:
    """A Graph-backed seat source when credentials are present, else ``None``."""
    from infra.clients.credentials import resolve_credential
    from infra.clients.errors import ConfigurationError

    try:
        credential = resolve_credential(connection, env=env)
    except ConfigurationError:
        return None
    from infra.program.graph_seats import GraphSeatSource

    return GraphSeatSource(connection, credential)


def prepare(
    settings: StackSettings,
    *,
    env: Mapping[str, str],
    log: Callable[[str], None],
    seat_source: Callable[[], SeatSource | None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> Prepared:
    import pulumi

    from infra.program.sales import connection_for

    problems: list[str] = []
    roles: list[RoleSpec] = []
    try:
        roles = load_roles(ROLES_DIR)
    except RoleFileError as exc:
        problems.append(str(exc))
    package: PackageInfo | None = None
    if settings.solution_file is not None:
        try:
            package = read_package(settings.solution_file)
        except PackageError as exc:
            problems.append(f"bc-sales:solutionPath: {exc}")
    sku_ids = settings.sku_table()
    if not problems:
        factory = seat_source or (lambda: graph_seat_source(connection_for(settings), env))
        try:
            sku_ids = run_seat_preflight(settings, factory, log, warn)
        except ValueError as exc:
            problems.append(str(exc))
    if problems or (package is None and settings.solution_source == "package"):
        raise pulumi.RunError("cannot deploy (nothing was changed):\n" + "\n".join(f"  - {p}" for p in problems))
    return Prepared(package=package, roles=roles, sku_ids=sku_ids)
