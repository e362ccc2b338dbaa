"""The base of every dynamic provider here: validation in check(), a declarative diff, the deployer check hook.

Pulumi's dynamic provider protocol ("Dynamic Resource Providers", Pulumi docs; the Python SDK's
``pulumi.dynamic.ResourceProvider``) calls check() with the program's inputs, diff() with the
recorded and the new ones, then create/read/update/delete.  :class:`DataverseProvider` gives every
resource the same check (the ``connection`` input parsed once, the subclass's rules, the deploying
identity's roles when credentials are present, then the subclass's live checks) and the same diff
(from :class:`FieldRule` declarations).  What an operation needs at run time is in
:mod:`infra.providers.runtime`; the deploying identity's check in :mod:`infra.providers.deployer`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Iterable, Mapping

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, DiffResult, ResourceProvider

from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.errors import ClientError, ConfigurationError
from infra.model.terms import guid, is_guid
from infra.providers.deployer import DeployerCheckError, ensure_deployer_check
from infra.providers.runtime import (
    ProviderFailure,
    client_for,
    endpoints_of,
    credentials_available,
    has_unknown,
    is_unknown,
    parse_connection,
    progress,
    root_business_unit_id,
    strip_internal,
    user_errors,
    warn,
)

__all__ = [
    "is_guid", "guid", "is_unknown", "progress", "warn", "ProviderFailure", "DataverseProvider",
    "endpoints_of", "formerly", "client_for", "user_errors", "strip_internal", "FieldRule",
    "credentials_available", "root_business_unit_id", "resource_props",
]


def _checked_connection(value: Any) -> tuple[EnvironmentEndpoints | None, list[CheckFailure]]:
    """(the connection when fully known and valid, failures): parsed once per check()."""
    if is_unknown(value):
        return None, []
    if not isinstance(value, Mapping):
        return None, [CheckFailure("connection", "expected a mapping (EnvironmentEndpoints.to_dict())")]
    if has_unknown(value):
        return None, []
    try:
        return parse_connection(value), []
    except ConfigurationError as exc:
        return None, [CheckFailure("connection", str(exc))]


def formerly(type_name: str, opts: pulumi.ResourceOptions | None, *,
             name: str | None = None) -> pulumi.ResourceOptions:
    """``opts`` plus a Pulumi alias to what a renamed resource was recorded as: the dynamic type
    ``pulumi-python:dynamic/dataverse:<type_name>`` (and the logical ``name`` when that changed too).

    Stacks created before the rename then see the same resource -- no replace, no change -- as
    Pulumi's "aliases" resource option documents; any aliases the caller gave are kept.
    """
    type_ = f"pulumi-python:dynamic/dataverse:{type_name}"
    # Alias fields left out default to the resource's own (the SDK's sentinel is ..., not None).
    alias = pulumi.Alias(type_=type_) if name is None else pulumi.Alias(type_=type_, name=name)
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[alias]))


def resource_props(args: Any, outputs: Iterable[str]) -> dict[str, Any]:
    """A dynamic resource's property map: every field of the ``args`` dataclass, then each output
    name set to None (the SDK registers outputs as the props the program leaves unset)."""
    props = {f.name: getattr(args, f.name) for f in fields(args)}
    props.update(dict.fromkeys(outputs))
    return props


@dataclass(frozen=True)
class FieldRule:
    """How one input behaves in diff: ``replace`` forces a new resource when it changes."""

    name: str
    replace: bool = False


class DataverseProvider(ResourceProvider):
    """Base provider: canonical inputs, validation in check(), generic diff, deployer check hook.

    Subclasses set ``fields`` and implement ``validate`` / ``canonical`` (and ``check_live`` for
    checks that read the environment).  No instance state: dill pickles the class by reference
    and an empty ``__dict__``.
    """

    #: The serialized provider holds no secret (tests/providers/test_pickling.py proves it), so
    #: the `__provider` input need not be encrypted per resource.
    serialize_as_secret_always = False

    resource_label: str = "Dataverse resource"
    fields: tuple[FieldRule, ...] = ()
    #: run the (cached) deployer check from check() when credentials are present
    deployer_check_in_check: bool = True

    # -- hooks for subclasses --------------------------------------------------------------

    def canonical(self, news: dict[str, Any]) -> dict[str, Any]:
        """Inputs in the form a reviewer reads and diff compares (sorted lists, lower GUIDs)."""
        return news

    def validate(self, news: Mapping[str, Any]) -> list[CheckFailure]:
        """Offline input rules: every problem at once, as check failures naming the input."""
        return []

    def check_live(self, olds: Mapping[str, Any], inputs: dict[str, Any],
                   connection: EnvironmentEndpoints | None) -> list[CheckFailure]:
        """Checks after the inputs passed validation and the deployer check, typically reading the
        environment when credentials are present.  ``connection`` is None while preview does not
        know it yet.  May complete ``inputs`` (they are the checked inputs check() returns)."""
        return []

    def equal(self, name: str, old: Any, new: Any) -> bool:
        """Whether input ``name`` is unchanged (subclasses compare digests, sets, defaults)."""
        return old == new

    # -- ResourceProvider --------------------------------------------------------------------

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate and canonicalise the inputs; with credentials, run the deployer check and the
        subclass's :meth:`check_live` (every failure is reported, nothing is written)."""
        connection, failures = _checked_connection(news.get("connection"))
        failures += self.validate(news)
        if failures:
            return CheckResult(news, failures)
        inputs = self.canonical(dict(news))
        if self.deployer_check_in_check and connection is not None:
            failure = _deployer_check_in_check(connection)
            if failure is not None:
                return CheckResult(inputs, [failure])
        return CheckResult(inputs, self.check_live(olds, inputs, connection))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Changed inputs from the :attr:`fields` rules; a new environment URL replaces."""
        changed: list[str] = []
        replaces: list[str] = []
        old_conn = olds.get("connection") or {}
        new_conn = news.get("connection") or {}
        if has_unknown(new_conn) or old_conn != new_conn:
            changed.append("connection")
            if has_unknown(new_conn) or _env_url(old_conn) != _env_url(new_conn):
                replaces.append("connection")
        for rule in self.fields:
            old, new = self.old_input(olds, rule.name), news.get(rule.name)
            if is_unknown(new) or (isinstance(new, list) and any(is_unknown(v) for v in new)) \
                    or not self.equal(rule.name, old, new):
                changed.append(rule.name)
                if rule.replace:
                    replaces.append(rule.name)
        if not changed:
            return DiffResult(changes=False)
        return DiffResult(changes=True, replaces=replaces, delete_before_replace=False)

    def old_input(self, olds: Mapping[str, Any], name: str) -> Any:
        """The old value of input ``name``: outputs repeat every input under the same key
        unless a subclass stores it elsewhere (an output of the same name with another meaning)."""
        return olds.get(name)


def _env_url(conn: Mapping[str, Any]) -> str:
    return str(conn.get("environment_url", "")).rstrip("/").lower()


def _deployer_check_in_check(connection: EnvironmentEndpoints) -> CheckFailure | None:
    if not credentials_available(connection):
        return None
    try:
        ensure_deployer_check(connection, brief_repeat=True)
    except DeployerCheckError as exc:
        return CheckFailure("connection", str(exc))
    except (ClientError, ProviderFailure) as exc:
        # Credentials that cannot sign in (expired CLI login, network) must not block a preview
        # without them; the writing operations run the deployer check again and fail there.
        warn(f"deployer check skipped in preview: {exc}")
    return None
