"""Where :class:`~infra.providers.deployer_check.DeployerCheckProvider` lived before it was renamed.

Pulumi keeps each dynamic resource's provider object in state, pickled by reference to its module
and class; stacks recorded before the rename name ``infra.providers.preflight.PreflightProvider``
there, and ``pulumi refresh`` / ``destroy`` unpickle it.  So this name must keep resolving.
Nothing new should import it.
"""

from infra.providers.deployer_check import DeployerCheckProvider as PreflightProvider

__all__ = ["PreflightProvider"]
