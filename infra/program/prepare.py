"""Everything the program reads before it registers the first resource.

Role files, the solution manifest and the licence seats are checked here so that any refusal is
one clean message (a :class:`pulumi.RunError`, printed without a traceback) and nothing changes.
The solution package is read once per run: config loading reads it to check it against the stack
(:class:`~infra.program.config.LoadedStack`) and :func:`prepare` hands that manifest on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from infra.clients.endpoints import EnvironmentEndpoints
from infra.model.roles import RoleFileError, RoleSpec, load_roles
from infra.model.solution_package import PackageError, PackageInfo, read_package
from infra.program.config import PROJECT_ROOT, LoadedStack
from infra.program.endpoints import endpoints_for
from infra.program.license_seats import SeatSource, run_license_seat_check

__all__ = ["Prepared", "prepare", "graph_seat_source"]

ROLES_DIR = PROJECT_ROOT / "roles"


@dataclass(frozen=True)
class Prepared:
    """What the resources are made from: the package manifest, the role files, the SKU table.

    ``package`` is ``None`` with ``solutionSource: business-central`` (nothing is imported);
    ``sku_ids`` is part number -> skuId after the licence seat check (the tenant's ids win).
    """

    package: PackageInfo | None
    roles: list[RoleSpec]
    sku_ids: dict[str, str]


def graph_seat_source(connection: EnvironmentEndpoints, env: Mapping[str, str]) -> SeatSource | None:
    """A Graph-backed seat source when credentials are present in ``env``, else ``None``."""
    from infra.clients.credentials import resolve_credential
    from infra.clients.errors import ConfigurationError

    try:
        credential = resolve_credential(connection, env=env)
    except ConfigurationError:
        return None
    from infra.program.license_seats_graph import GraphSeatSource

    return GraphSeatSource(connection, credential)


def prepare(
    stack: LoadedStack,
    *,
    env: Mapping[str, str],
    log: Callable[[str], None],
    seat_source: Callable[[], SeatSource | None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> Prepared:
    """Load the role files, take the package manifest and run the licence seat check.

    ``stack`` is the loaded config; its package is used as it is, and read here only when loading
    did not read it (config loaded without file checks).  ``seat_source`` replaces the Graph seat
    source made from ``env`` (tests); ``log``/``warn`` get the seat check's notes and warnings.
    Raises :class:`pulumi.RunError` listing every problem ("cannot deploy (nothing was changed)").
    """
    import pulumi

    settings = stack.settings
    problems: list[str] = []
    roles: list[RoleSpec] = []
    try:
        roles = load_roles(ROLES_DIR)
    except RoleFileError as exc:
        problems.append(str(exc))
    package = stack.package
    if package is None and settings.solution_file is not None:
        try:
            package = read_package(settings.solution_file)
        except PackageError as exc:
            problems.append(f"bc-sales:solutionPath: {exc}")
    sku_ids = settings.sku_table()
    if not problems:
        factory = seat_source or (lambda: graph_seat_source(endpoints_for(settings), env))
        try:
            sku_ids = run_license_seat_check(settings, factory, log, warn)
        except ValueError as exc:
            problems.append(str(exc))
    if problems or (package is None and settings.solution_source == "package"):
        raise pulumi.RunError("cannot deploy (nothing was changed):\n" + "\n".join(f"  - {p}" for p in problems))
    return Prepared(package=package, roles=roles, sku_ids=sku_ids)
