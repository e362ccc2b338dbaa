"""SolutionRequirement: the integration solution must already be installed (``solutionSource:
business-central``) -- nothing is imported.

Business Central online customers usually let Business Central import its own solution: the
assisted setup *Set up a connection to Dynamics 365 Sales* (and the *Redeploy Integration
Solution* action of the *Microsoft Dynamics 365 Connection Setup* page) imports
``MicrosoftDynamicsNavIntegration`` with an administrator account.  In that mode this resource
stands where SolutionImport would: the security roles depend on it, so no role is touched unless
the solution is installed (``solutions`` row with that ``uniquename`` and a non-empty
``installedon``, which is also how Business Central decides it is installed) and, when a minimum
is configured, at or above that version.  Otherwise the deployment stops with what to do.

The resource never imports, upgrades or uninstalls anything: deleting it leaves the solution in
place (Business Central owns it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckFailure, CreateResult, ReadResult, UpdateResult

from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.dataverse import DataverseApi, Solution
from infra.clients.errors import ClientError
from infra.model.terms import parse_version
from infra.providers.base import (
    DataverseProvider, FieldRule, ProviderFailure, client_for, credentials_available, is_unknown, progress,
    resource_props, strip_internal, user_errors, warn,
)
from infra.providers.deployer import checked_client
from infra.providers.runtime import dataverse_client

__all__ = ["SolutionRequirement", "SolutionRequirementArgs", "SolutionRequirementProvider", "check_installed"]

#: What to do when Business Central has not imported the solution (yet) or an old version.
SETUP_HINT = (
    "in Business Central, run the assisted setup 'Set up a connection to Dynamics 365 Sales' (it imports the "
    "integration solution with an administrator account), or choose 'Redeploy Integration Solution' on the "
    "'Microsoft Dynamics 365 Connection Setup' page; then run the deployment again. Or let this stack import "
    "it: set solutionSource: package and solutionPath (solution/README.md)"
)


def check_installed(client: DataverseApi, unique_name: str, minimum_version: str | None, *,
                    require_managed: bool, label: str) -> Solution:
    """The installed solution row, or :class:`ProviderFailure` saying what to do.  Reads only."""
    sol = client.find_solution(unique_name)
    environment = client.connection.environment_url
    if sol is None or not sol.installed_on:
        raise ProviderFailure(
            f"{label}: {unique_name} is not installed in {environment} (solutionSource is business-central, "
            f"so this stack imports nothing and no role was touched): {SETUP_HINT}")
    if minimum_version and parse_version(sol.version) < parse_version(minimum_version):
        raise ProviderFailure(
            f"{label}: {unique_name} {sol.version} is installed in {environment}, older than "
            f"solutionMinimumVersion {minimum_version} (no role was touched): {SETUP_HINT}")
    if require_managed and not sol.is_managed:
        raise ProviderFailure(
            f"{label}: {unique_name} {sol.version} is installed unmanaged in {environment}, but this stack "
            "requires the managed solution (allowUnmanagedSolution is false); Business Central imports its "
            "solution managed -- remove the unmanaged copy and redeploy it from Business Central")
    return sol


class SolutionRequirementProvider(DataverseProvider):
    """Check reads the installed solution (credentials present) into ``observed_version``: the
    requirement is enforced at preview, and when Business Central has upgraded its solution since
    the last run the diff shows it, the update records the new ``installed_version`` and the roles,
    which take that version as input, re-apply their files in the same ``up`` (an upgrade resets
    the roles the solution ships)."""

    resource_label = "SolutionRequirement"
    fields = (FieldRule("unique_name", replace=True), FieldRule("minimum_version"), FieldRule("require_managed"),
              FieldRule("observed_version"))

    def check_live(self, olds: Mapping[str, Any], inputs: dict[str, Any],
                   connection: EnvironmentEndpoints | None) -> list[CheckFailure]:
        """Read the installed solution (credentials present) into ``observed_version``; refuse
        when it is missing, too old or unmanaged against the requirement."""
        # Without a live read the last observation stands (a preview without credentials is no change).
        inputs["observed_version"] = olds.get("observed_version") or ""
        if connection is None:
            return []
        try:
            if not credentials_available(connection):
                return []
            sol = check_installed(dataverse_client(connection), inputs["unique_name"],
                                  inputs.get("minimum_version") or None,
                                  require_managed=bool(inputs.get("require_managed")), label=self._label(inputs))
        except ProviderFailure as exc:
            return [CheckFailure("unique_name", str(exc))]
        except ClientError as exc:
            warn(f"{self._label(inputs)}: not checked in preview: {exc}")
            return []
        inputs["observed_version"] = str(sol.version)
        return []

    def validate(self, news: Mapping[str, Any]) -> list[CheckFailure]:
        """unique_name a non-empty string, minimum_version empty or a solution version."""
        failures: list[CheckFailure] = []
        name = news.get("unique_name")
        if not is_unknown(name) and (not isinstance(name, str) or not name.strip()):
            failures.append(CheckFailure("unique_name", f"unique_name is required (a string), got {name!r}"))
        minimum = news.get("minimum_version")
        if minimum not in (None, "") and not is_unknown(minimum):
            try:
                parse_version(str(minimum))
            except ValueError as exc:
                failures.append(CheckFailure("minimum_version", str(exc)))
        return failures

    def canonical(self, news: dict[str, Any]) -> dict[str, Any]:
        """minimum_version a string, require_managed a bool."""
        out = dict(news)
        out["minimum_version"] = str(news.get("minimum_version") or "")
        out["require_managed"] = bool(news.get("require_managed", False))
        return out

    def _label(self, props: Mapping[str, Any]) -> str:
        return f"solution {props['unique_name']} (installed by Business Central)"

    def _verify(self, props: Mapping[str, Any]) -> dict[str, Any]:
        label = self._label(props)
        client = checked_client(props)
        sol = check_installed(client, props["unique_name"], props.get("minimum_version") or None,
                              require_managed=bool(props.get("require_managed")), label=label)
        progress(f"{label}: version {sol.version} is installed"
                 + (f" (at least {props['minimum_version']} required)" if props.get("minimum_version") else ""))
        return {**strip_internal(props), "observed_version": str(sol.version), "solution_id": str(sol.solution_id),
                "installed_version": str(sol.version), "managed": bool(sol.is_managed)}

    @user_errors("SolutionRequirement")
    def create(self, props: dict[str, Any]) -> CreateResult:
        """Verify the requirement (reads only) and record the installed solution."""
        outs = self._verify(props)
        return CreateResult(outs["solution_id"], outs)

    @user_errors("SolutionRequirement")
    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """As create."""
        return UpdateResult(self._verify(news))

    @user_errors("SolutionRequirement")
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """The installed solution (one request); not installed reads as gone."""
        client = client_for(props)
        sol = client.find_solution(props["unique_name"])
        if sol is None or not sol.installed_on:
            return ReadResult("", {})
        outs = {**strip_internal(props), "observed_version": str(sol.version), "solution_id": str(sol.solution_id),
                "installed_version": str(sol.version), "managed": bool(sol.is_managed)}
        inputs = {k: v for k, v in outs.items() if k not in ("solution_id", "installed_version", "managed")}
        return ReadResult(str(sol.solution_id), outs, inputs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Nothing: Business Central owns the solution."""
        progress(f"solution {props.get('unique_name')}: left installed (Business Central owns it)")


@dataclass
class SolutionRequirementArgs:
    """Inputs of a SolutionRequirement: the solution's ``unique_name``, an optional
    ``minimum_version``, whether it must be managed (``require_managed``)."""

    connection: Mapping[str, Any]
    unique_name: Any
    minimum_version: Any = ""
    require_managed: Any = False
    #: the installed version check() read (set by the provider, not by the program)
    observed_version: Any = ""


class SolutionRequirement(pulumi.dynamic.Resource, module="dataverse", name="SolutionRequirement"):
    """The integration solution, installed by Business Central, at (at least) a minimum version."""

    solution_id: pulumi.Output[str]
    installed_version: pulumi.Output[str]
    managed: pulumi.Output[bool]
    provider_class = SolutionRequirementProvider

    def __init__(self, name: str, args: SolutionRequirementArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        """Register the resource (outputs: solution_id, installed_version, managed)."""
        props = resource_props(args, ("solution_id", "installed_version", "managed"))
        super().__init__(SolutionRequirementProvider(), name, props, opts)
