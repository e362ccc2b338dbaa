"""Entry point of the bc-sales-guardrails policy pack (run by the Pulumi CLI, not imported).

`pulumi preview --policy-pack policy` starts this file in policy/venv; constructing PolicyPack
serves the policies to the engine until the CLI stops it. The rules themselves are in
guardrails.py (plain functions) and policies.py (pulumi-policy adapters).
"""

import os
import sys

# The CLI runs the pack directory as a program, which normally puts it on sys.path; make the
# sibling imports independent of how the pack is launched.
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policies import ALL_POLICIES, PACK_NAME  # noqa: E402

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=ALL_POLICIES,
    description="Guardrails for the Business Central <-> Dynamics 365 Sales integration stacks.",
)
