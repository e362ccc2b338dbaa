"""Where :class:`~infra.providers.user_role_assignment.UserRoleAssignmentProvider` lived before it
was renamed.

Pulumi keeps each dynamic resource's provider object in state, pickled by reference to its module
and class; stacks recorded before the rename name ``infra.providers.user_access.UserAccessProvider``
there, and ``pulumi refresh`` / ``destroy`` unpickle it.  So this name must keep resolving.
Nothing new should import it.
"""

from infra.providers.user_role_assignment import UserRoleAssignmentProvider as UserAccessProvider

__all__ = ["UserAccessProvider"]
