"""tests/proof: long variants run only when asked for with ``-m soak``.

Why deselect here instead of skipping: a skipped test reads like unfinished work in the report;
a deselected opt-in test is simply not part of the normal run (the quick variants are).
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "soak" in (config.getoption("markexpr") or ""):
        return
    keep = [item for item in items if item.get_closest_marker("soak") is None]
    dropped = [item for item in items if item.get_closest_marker("soak") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
