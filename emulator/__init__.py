"""Local cloud emulator: Entra token endpoint, Microsoft Graph and Dataverse Web API over HTTPS.

See docs/emulator.md. ``Emulator.start(...)`` serves in-process; ``python -m emulator``
serves as its own process.
"""

from .context import EmulatorContext, EmulatorUrls, ServiceProtection, Settings
from .faults import FaultRule
from .log import RequestRecord
from .server import Emulator
from .entra.tokens import TokenError

__all__ = ["Emulator", "FaultRule", "EmulatorUrls", "RequestRecord", "EmulatorContext", "Settings",
           "ServiceProtection", "TokenError"]
