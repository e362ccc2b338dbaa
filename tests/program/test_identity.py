"""Client secret rotation periods and resource naming (pure functions of IntegrationIdentity)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infra.program.identity import ROTATION_EPOCH, resource_slug, rotation_period


def test_same_period_same_label_so_no_change_between_runs() -> None:
    a = rotation_period(datetime(2026, 11, 25, 8, 0, tzinfo=UTC), 90)
    b = rotation_period(datetime(2026, 11, 25, 23, 59, tzinfo=UTC), 90)
    assert a == b


def test_boundary_starts_a_new_period_that_outlives_the_old_one() -> None:
    start = ROTATION_EPOCH + timedelta(days=90 * 12)
    before = rotation_period(start - timedelta(seconds=1), 90)
    after = rotation_period(start, 90)
    assert before.index + 1 == after.index
    assert after.start == start and before.end_date == start + timedelta(days=90)
    assert after.label != before.label
    assert after.end_date_rfc3339 == (start + timedelta(days=180)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_local_time_zones_do_not_matter() -> None:
    from datetime import timezone

    utc = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
    there = utc.astimezone(timezone(timedelta(hours=-8)))  # still Feb 28 locally
    assert rotation_period(utc, 30) == rotation_period(there, 30)


def test_rotation_days_must_be_positive() -> None:
    with pytest.raises(ValueError):
        rotation_period(datetime.now(UTC), 0)


def test_resource_slug_is_stable_and_safe() -> None:
    assert resource_slug("Sales01@Contoso.Example") == "sales01-contoso-example"
    assert resource_slug("o'brien+crm@x.example") == "o-brien-crm-x-example"
