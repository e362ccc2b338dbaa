"""What the store and its seeding share: the row type, the administrator role templates, the
namespace of the emulator's deterministic ids and the timestamp format.

A module of its own so that seeding.py, which fills a store's tables, need not import store.py,
which seeds itself on construction; ``store.py`` still exports these names.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from ..seed.ids import SYSTEM_ADMINISTRATOR_TEMPLATE_ID, SYSTEM_CUSTOMIZER_TEMPLATE_ID

#: One Dataverse row as the Web API returns it: column logical name -> value.
Record = dict[str, Any]
#: Roles made from these templates (System Administrator, System Customizer) are the administrators.
ADMIN_TEMPLATES = frozenset({SYSTEM_ADMINISTRATOR_TEMPLATE_ID, SYSTEM_CUSTOMIZER_TEMPLATE_ID})
#: uuid5 namespace of the ids the store makes up (seeded business unit, provisioned users, role copies).
ID_NAMESPACE = uuid.UUID("6b1c2d3e-0000-4000-8000-0000000e0000")


def iso(ts: float) -> str:
    """A POSIX timestamp (seconds) as Dataverse writes ``createdon``/``modifiedon``: UTC ISO 8601
    to the second, ``2024-01-31T12:00:00Z`` (Web API "Edm.DateTimeOffset" values)."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
