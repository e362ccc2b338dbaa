"""Licence SKUs: part number -> skuId, and the seat preflight against Graph ``subscribedSkus``.

Why a preflight: ``azuread.UserLicense`` fails one user at a time when a SKU runs out, after the
user accounts were already changed.  Counting the free seats first (``prepaidUnits.enabled -
consumedUnits``) lets the program refuse the whole plan up front, naming the SKU and the numbers.

Users who already hold the SKU need no new seat, so a re-run of an unchanged stack never fails
for lack of seats that its own users consume.  Without Graph credentials the check is skipped
with a note (``seatCheck: auto``) or refused (``seatCheck: required``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from infra.program.config import PROJECT, StackSettings

__all__ = [
    "SkuSeats",
    "SeatSource",
    "LicenceNeed",
    "SeatReport",
    "licence_needs",
    "check_seats",
    "run_seat_preflight",
]


@dataclass(frozen=True)
class SkuSeats:
    """One subscribed SKU as Graph reports it."""

    part_number: str
    sku_id: str
    enabled: int
    consumed: int

    @property
    def free(self) -> int:
        return self.enabled - self.consumed


class SeatSource(Protocol):
    """What the preflight needs from Graph (the clients' GraphClient, or a fake in tests)."""

    def subscribed_skus(self) -> Iterable[SkuSeats]: ...

    def assigned_sku_ids(self, users: Sequence[str]) -> Mapping[str, set[str] | None]:
        """UPN -> the skuIds the user holds; ``None`` when the user does not exist yet."""
        ...


@dataclass(frozen=True)
class LicenceNeed:
    """Who should hold one SKU (by part number), and where the config asked for it."""

    part_number: str
    users: tuple[str, ...]


def licence_needs(settings: StackSettings) -> list[LicenceNeed]:
    """The licences the stack assigns, grouped by SKU part number (identityMode create only)."""
    if settings.identity_mode != "create":
        return []
    by_part: dict[str, list[str]] = {}
    by_part.setdefault(settings.integration_user.license_sku, []).append(
        settings.integration_user.user_principal_name
    )
    for person in settings.salespeople:
        if person.license_sku:
            by_part.setdefault(person.license_sku, []).append(person.user_principal_name)
    return [LicenceNeed(part, tuple(users)) for part, users in sorted(by_part.items())]


@dataclass
class SeatReport:
    """Outcome of the seat preflight: resolved ids, problems (fatal) and notes (informational)."""

    sku_ids: dict[str, str]
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def check_seats(
    needs: Iterable[LicenceNeed],
    table: Mapping[str, str],
    source: SeatSource,
) -> SeatReport:
    """Resolve each part number against the tenant and check that enough seats are free.

    The tenant's ``subscribedSkus`` wins over the static table: a differing id is reported as a
    note and the tenant's id is used.
    """
    needs = list(needs)
    subscribed = {s.part_number: s for s in source.subscribed_skus()}
    holdings = source.assigned_sku_ids(sorted({u for n in needs for u in n.users}))
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
            held = holdings.get(upn)
            if held is None or seats.sku_id.lower() not in {h.lower() for h in held}:
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


def run_seat_preflight(
    settings: StackSettings,
    source_factory: Callable[[], SeatSource | None],
    log: Callable[[str], None],
) -> dict[str, str]:
    """The program's entry point: returns the SKU table to use; raises ``ValueError`` on refusal.

    ``source_factory`` returns ``None`` when no Graph credentials are present.
    """
    table = settings.sku_table()
    needs = licence_needs(settings)
    if not needs or settings.seat_check == "off":
        return table
    source = source_factory()
    if source is None:
        if settings.seat_check == "required":
            raise ValueError(
                f"{PROJECT}:seatCheck is required but no Graph credentials were found "
                "(set AZURE_TENANT_ID/AZURE_CLIENT_ID with a secret, certificate or federated token, or the ARM_* "
                "equivalents)"
            )
        log("licence seat preflight skipped: no Graph credentials in the environment (AZURE_*/ARM_*); "
            "the static SKU table is used")
        return table
    report = check_seats(needs, table, source)
    for note in report.notes:
        log(note)
    if report.problems:
        raise ValueError("licence seat preflight failed:\n" + "\n".join(f"  - {p}" for p in report.problems))
    return report.sku_ids
