"""Provider-host harness: drives our dynamic providers through the SDK's real provider host
(used by the provider tests, the proof suite and the benchmark).

``ProviderHost`` owns a ``python -m pulumi.dynamic`` subprocess; ``Stack`` carries inputs and
outputs between operations like the engine does.  ``credentials_env`` builds the environment a
deployment would give the host for a given emulator app.
"""

from .host import CheckOutcome, DiffOutcome, ProviderError, ProviderHost, ReadOutcome, type_token, urn_for
from .stack import CheckFailed, Stack, StateEntry, StepResult

__all__ = ["ProviderHost", "ProviderError", "CheckOutcome", "DiffOutcome", "ReadOutcome",
           "Stack", "StateEntry", "StepResult", "CheckFailed", "type_token", "urn_for"]
