"""The Dataverse client: one environment's Web API (v9.2) as one identity.

:class:`DataverseClient` joins the topic classes -- :class:`~.users.UsersApi` (the caller, users,
role assignment), :class:`~.roles.RolesApi` (roles and privileges) and
:class:`~.solutions.SolutionsApi` (solutions and their async operations) -- over the transport of
:class:`~.core.DataverseCore`.  It satisfies :class:`~.api.DataverseApi`, the Protocol providers
are typed with.
"""

from __future__ import annotations

from infra.clients.dataverse.roles import RolesApi
from infra.clients.dataverse.solutions import SolutionsApi
from infra.clients.dataverse.users import UsersApi

__all__ = ["DataverseClient"]


class DataverseClient(UsersApi, RolesApi, SolutionsApi):
    """One Dataverse environment as one identity.  Thread-safe; get it with :meth:`for_connection`.

    Results are frozen dataclasses (:mod:`~infra.clients.dataverse.dto`); paging
    (``@odata.nextLink``) is followed transparently; ``$batch`` is used where it saves round trips;
    errors are :mod:`infra.clients.errors` classes; retries, throttling, 401 refresh and
    concurrency live in :mod:`infra.clients.http`.  Calls that start server-side work which must
    not run twice (solution import / upgrade / uninstall, user creation) are sent as
    *non-idempotent*: an unknown outcome raises
    :class:`~infra.clients.errors.AmbiguousOutcomeError` instead of being retried.  Refuses to be
    pickled (providers are pickled into Pulumi state; build it at operation time).
    """
