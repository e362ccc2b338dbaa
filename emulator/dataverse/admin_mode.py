"""Administration mode: only System Administrators and System Customizers get in.

"You can set a sandbox, production, or trial environment in administration mode so that only users
with System Administrator or System Customizer security roles are able to sign in" (Power Platform
admin docs, "Administration mode").  A non-admin caller -- Business Central's integration user or
application user -- is refused on every request with the message Microsoft documents for this case
("User does not have required privileges (or role membership) to access the org when it is in
Admin Only mode.", Copilot for Sales troubleshooting; Dataverse ServiceClient 1.0.39 release
notes).  HTTP 403; the hex code is a GUESS.  The setting itself lives on the store
(``administration_mode``) and is served by the Power Platform admin API (emulator/powerplatform.py).
"""

from __future__ import annotations

from typing import Any

from .errors import ADMIN_ONLY_MODE, DataverseError

MESSAGE = ("User does not have required privileges (or role membership) to access the org when it is in "
           "Admin Only mode.")


def enforce(store: Any, caller: dict[str, Any]) -> None:
    """Refuse a caller without System Administrator / System Customizer while the mode is on."""
    if store.administration_mode and not store.is_admin(caller["systemuserid"]):
        raise DataverseError(403, ADMIN_ONLY_MODE, MESSAGE)
