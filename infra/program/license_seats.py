"""The licence seat check (``seatCheck``): part number -> skuId, seats, usage locations, before any write.

Why check first: ``azuread.UserLicense`` fails one user at a time -- when a SKU runs out, or
when the user has no usage location ("License assignment cannot be done for user with invalid
usage location") -- after other users were already changed.  So, with Graph credentials, the
program first reads ``subscribedSkus`` and every licensed user's usage location and licence
assignment states (``licenseAssignmentStates``: direct, or through a group) and refuses the whole
plan up front, naming each user and what to change.

* Seats: users who already hold the SKU -- directly or through any group -- need no seat, so a
  re-run of an unchanged stack never fails for seats its own users consume.  Each user consumes
  one seat per SKU however it holds it.
* Usage location (``licenseAssignment: direct``): a salesperson without one in Entra ID and
  without ``salespeople[i].usageLocation`` is a problem (the integration user we create gets it
  from ``integrationUser.usageLocation``).  With ``licenseAssignment: group`` Entra gives users
  without one the directory's location, so that is only a warning.
* Group licensing: the licensing group must exist and assign each SKU the stack needs.  A user
  who gets a SKU both directly and through a group is reported (a warning: it works, but removing
  it from the group would not take the licence away).

Without Graph credentials the check is skipped with a note (``seatCheck: auto``) or refused
(``seatCheck: required``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from infra.program.config import PROJECT, StackSettings

__all__ = [
    "SkuSeats",
    "SeatSource",
    "LicenseNeed",
    "LicensedUser",
    "SeatReport",
    "UserState",
    "license_needs",
    "licensed_users",
    "check_seats",
    "check_license_seats",
    "run_license_seat_check",
]


@dataclass(frozen=True)
class SkuSeats:
    """One subscribed SKU as Graph reports it (``subscribedSku``: ``skuPartNumber``, ``skuId``,
    ``prepaidUnits.enabled`` and ``consumedUnits``, counted in seats)."""

    part_number: str
    sku_id: str
    enabled: int
    consumed: int

    @property
    def free(self) -> int:
        """Seats not assigned yet (negative when the tenant is over its subscription)."""
        return self.enabled - self.consumed


class SeatSource(Protocol):
    """What the seat check needs from Graph (:class:`GraphSeatSource`, or a fake in tests).

    ``license_states`` and ``group_sku_ids`` are optional: a source with ``assigned_sku_ids``
    only is treated as "direct assignments, usage locations unknown"."""

    def subscribed_skus(self) -> Iterable[SkuSeats]:
        """Every SKU the tenant subscribes to (Graph ``GET /subscribedSkus``)."""
        ...

    def assigned_sku_ids(self, users: Sequence[str]) -> Mapping[str, set[str] | None]:
        """UPN -> the skuIds the user holds; ``None`` when the user does not exist yet."""
        ...


@dataclass(frozen=True)
class UserState:
    """What the seat check knows of one user: usage location and how it holds each SKU.

    ``direct`` and ``held`` are lower-case skuIds (held: active now, however assigned), ``groups``
    skuId -> the groups it is inherited from; ``known_location`` is false when the source could
    not say (a source with ``assigned_sku_ids`` only).
    """

    usage_location: str | None
    direct: frozenset[str]
    groups: Mapping[str, tuple[str, ...]]  # sku id -> groups it is inherited from
    held: frozenset[str]                   # sku ids held now (active), however assigned
    known_location: bool = True


@dataclass(frozen=True)
class LicenseNeed:
    """Who should hold one SKU (by part number), and where the config asked for it."""

    part_number: str
    users: tuple[str, ...]


@dataclass(frozen=True)
class LicensedUser:
    """A user the stack licenses: where the config names it and what it says about it."""

    user_principal_name: str
    config_path: str                  # e.g. bc-sales:salespeople[2]
    part_number: str
    usage_location: str | None        # from the config; None = not given
    created_here: bool                # the integration user (azuread.User sets its location)


def license_needs(settings: StackSettings) -> list[LicenseNeed]:
    """The licences the stack assigns, grouped by SKU part number (identityMode create only)."""
    by_part: dict[str, list[str]] = {}
    for user in licensed_users(settings):
        by_part.setdefault(user.part_number, []).append(user.user_principal_name)
    return [LicenseNeed(part, tuple(users)) for part, users in sorted(by_part.items())]


def licensed_users(settings: StackSettings) -> list[LicensedUser]:
    """Every user that gets a licence from this stack, integration user first."""
    if settings.identity_mode != "create":
        return []
    iu = settings.integration_user
    users = [LicensedUser(iu.user_principal_name, f"{PROJECT}:integrationUser", iu.license_sku,
                          iu.usage_location, True)]
    for i, person in enumerate(settings.salespeople):
        if person.license_sku:
            users.append(LicensedUser(person.user_principal_name, f"{PROJECT}:salespeople[{i}]",
                                      person.license_sku, person.usage_location, False))
    return users


@dataclass
class SeatReport:
    """Outcome of the seat check: resolved ids, problems (fatal), warnings and notes.

    ``sku_ids`` is part number -> skuId after the check (the tenant's ids win over the table).
    """

    sku_ids: dict[str, str]
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _user_states(source: Any, users: Sequence[str]) -> dict[str, UserState | None]:
    if not users:
        return {}
    if hasattr(source, "license_states"):
        out: dict[str, UserState | None] = {}
        for upn, lic in source.license_states(users).items():
            if lic is None:
                out[upn] = None
                continue
            skus = {a.sku_id for a in lic.assignments}
            out[upn] = UserState(
                usage_location=lic.usage_location,
                direct=frozenset(s.lower() for s in lic.direct_sku_ids()),
                groups={s: tuple(lic.groups_of(s)) for s in skus if lic.groups_of(s)},
                held=frozenset(s.lower() for s in lic.held_sku_ids()))
        return out
    held = source.assigned_sku_ids(list(users))
    return {u: None if h is None else UserState(None, frozenset(x.lower() for x in h), {},
                                                frozenset(x.lower() for x in h), known_location=False)
            for u, h in held.items()}


def check_seats(
    needs: Iterable[LicenseNeed],
    table: Mapping[str, str],
    source: SeatSource,
    *,
    states: Mapping[str, UserState | None] | None = None,
) -> SeatReport:
    """Resolve each part number against the tenant and check that enough seats are free.

    The tenant's ``subscribedSkus`` wins over the static table: a differing id is reported as a
    note and the tenant's id is used.  A user holding the SKU in any way needs no new seat.
    """
    needs = list(needs)
    subscribed = {s.part_number: s for s in source.subscribed_skus()}
    if states is None:
        states = _user_states(source, sorted({u for n in needs for u in n.users}))
    report = SeatReport(sku_ids=dict(table))
    for need in needs:
        seats = subscribed.get(need.part_number)
        if seats is None:
            report.problems.append(
                f"licence {need.part_number}: the tenant has no subscription for this SKU "
                f"(needed by {', '.join(need.users)}); subscribed: {', '.join(sorted(subscribed)) or 'none'}"
            )
            continue
        known = table.get(need.part_number)
        if known and known.lower() != seats.sku_id.lower():
            report.notes.append(
                f"licence {need.part_number}: the tenant's skuId {seats.sku_id} differs from the table's "
                f"{known}; using the tenant's (fix {PROJECT}:skuIds or infra/facts.py)"
            )
        report.sku_ids[need.part_number] = seats.sku_id
        missing = []
        for upn in need.users:
            state = states.get(upn)
            if state is None or seats.sku_id.lower() not in state.held:
                missing.append(upn)
        if len(missing) > seats.free:
            report.problems.append(
                f"licence {need.part_number}: {len(missing)} new assignment(s) needed "
                f"({', '.join(missing)}) but only {max(seats.free, 0)} of {seats.enabled} seats are free; "
                "buy seats or remove users from the stack config"
            )
        else:
            report.notes.append(
                f"licence {need.part_number}: {len(missing)} new assignment(s), {seats.free} seat(s) free"
            )
    return report


def check_license_seats(settings: StackSettings, table: Mapping[str, str], source: SeatSource) -> SeatReport:
    """Seats, usage locations and group licensing for every user the stack licenses.

    ``table`` is part number -> skuId before the tenant is asked; Graph errors propagate as
    :class:`~infra.clients.errors.ClientError` (the caller decides by ``seatCheck``).
    """
    users = licensed_users(settings)
    states = _user_states(source, [u.user_principal_name for u in users])
    report = check_seats(license_needs(settings), table, source, states=states)
    group_mode = settings.license_assignment == "group"
    group_skus: set[str] | None = None
    if group_mode and hasattr(source, "group_sku_ids"):
        group_skus = source.group_sku_ids(str(settings.licensing_group_id))
        if group_skus is None:
            report.problems.append(
                f"{PROJECT}:licensingGroupId = {settings.licensing_group_id!r}: no such group in Entra ID "
                "(give the object id of the security group that licenses its members)")
        else:
            for need in license_needs(settings):
                sku = report.sku_ids.get(need.part_number, "").lower()
                if sku and sku not in group_skus:
                    report.problems.append(
                        f"licence {need.part_number}: the licensing group {settings.licensing_group_id} does not "
                        f"assign it (needed by {', '.join(need.users)}); assign the licence to the group "
                        "(Entra admin center > Groups > the group > Licenses) or use licenseAssignment: direct")
    for user in users:
        state = states.get(user.user_principal_name)
        sku = report.sku_ids.get(user.part_number, "").lower()
        where = f"{user.config_path} ({user.user_principal_name})"
        if state is None:
            if not user.created_here:
                report.notes.append(f"{where}: not found in Entra ID; counted as needing a new licence")
            continue
        groups = state.groups.get(sku, ())
        if not group_mode and groups:
            report.warnings.append(
                f"{where} gets {user.part_number} both directly (this stack) and through group(s) "
                f"{', '.join(groups)}: it holds one seat, but leaving the group would not remove the licence; "
                f"use licenseAssignment: group, or set {user.config_path}.licenseSku: null to leave it to the group")
        if group_mode and sku in state.direct:
            report.warnings.append(
                f"{where} holds {user.part_number} both directly (assigned outside this stack) and through the "
                f"licensing group: remove the direct assignment so the group is the only source "
                "(Entra admin center > Users > the user > Licenses)")
        if user.created_here or not state.known_location:
            continue
        if user.usage_location:
            if state.usage_location != user.usage_location:
                report.notes.append(f"{where}: usage location {state.usage_location or 'none'} is set to "
                                    f"{user.usage_location} before the licence")
            continue
        if state.usage_location:
            continue
        if group_mode:
            report.warnings.append(
                f"{where} has no usage location: for group licences Entra uses the directory's country; set "
                f"{user.config_path}.usageLocation to the country the user works in")
        elif sku not in state.direct:
            report.problems.append(
                f"{where} has no usage location in Entra ID, and Graph refuses a licence for a user without "
                f"one; add {user.config_path}.usageLocation: <ISO 3166-1 alpha-2 country code, e.g. US> "
                f"(set with: pulumi config set --path '{user.config_path.split(':', 1)[1]}.usageLocation' US)")
    return report


def run_license_seat_check(
    settings: StackSettings,
    source_factory: Callable[[], SeatSource | None],
    log: Callable[[str], None],
    warn: Callable[[str], None] | None = None,
) -> dict[str, str]:
    """The program's entry point: returns the SKU table to use (part number -> skuId).

    ``source_factory`` returns ``None`` when no Graph credentials are present; ``log`` gets the
    notes, ``warn`` (default ``log``) the warnings.  Raises ``ValueError`` listing every problem
    when the check refuses the plan, or when ``seatCheck: required`` cannot ask Graph.
    """
    from infra.clients.errors import ClientError

    warn = warn or log
    table = settings.sku_table()
    if not licensed_users(settings) or settings.seat_check == "off":
        return table
    source = source_factory()
    if source is None:
        if settings.seat_check == "required":
            raise ValueError(
                f"{PROJECT}:seatCheck is required but no Graph credentials were found "
                "(set AZURE_TENANT_ID/AZURE_CLIENT_ID with a secret, certificate or federated token, or the ARM_* "
                "equivalents)"
            )
        log("licence seat check skipped: no Graph credentials in the environment (AZURE_*/ARM_*); "
            "the static SKU table is used")
        return table
    try:
        report = check_license_seats(settings, table, source)
    except ClientError as exc:
        if settings.seat_check == "required":
            raise ValueError(f"licence seat check could not read Microsoft Graph: {exc}") from None
        warn(f"licence seat check skipped: Microsoft Graph refused or failed ({exc}); the static SKU table is used")
        return table
    for note in report.notes:
        log(note)
    for warning in report.warnings:
        warn(warning)
    if report.problems:
        raise ValueError("licence seat check failed:\n" + "\n".join(f"  - {p}" for p in report.problems))
    return report.sku_ids
