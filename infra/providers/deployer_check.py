"""DeployerCheck: the resource that fails a deployment early when the deploying identity lacks its roles.

The check itself -- System Administrator and System Customizer, once per process -- is
:mod:`infra.providers.deployer`; the environment's administration mode is
:mod:`infra.providers.administration_mode`.  Both are re-exported here, where they lived before.
This module keeps the provider class: existing stacks' state names it as
``infra.providers.deployer_check.DeployerCheckProvider``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CreateResult, ReadResult, UpdateResult

from infra.providers.administration_mode import (
    administration_mode,
    administration_mode_message,
    read_administration_mode,
    refuse_in_administration_mode,
    report_administration_mode,
)
from infra.providers.base import (
    DataverseProvider, endpoints_of, formerly, resource_props, strip_internal, user_errors,
)
from infra.providers.runtime import dataverse_client
from infra.providers.deployer import (
    DeployerCheckError,
    DeployerCheckResult,
    RepeatedDeployerCheckError,
    clear_deployer_check_cache,
    ensure_deployer_check,
    run_deployer_check,
)

__all__ = ["DeployerCheck", "DeployerCheckArgs", "DeployerCheckProvider", "DeployerCheckResult", "DeployerCheckError",
           "RepeatedDeployerCheckError", "ensure_deployer_check", "run_deployer_check", "clear_deployer_check_cache",
           "read_administration_mode", "administration_mode", "report_administration_mode",
           "refuse_in_administration_mode", "administration_mode_message"]


# --- the DeployerCheck resource -----------------------------------------------------------------


@dataclass
class DeployerCheckArgs:
    """Inputs of a DeployerCheck: the environment (``EnvironmentEndpoints.to_dict()``)."""

    connection: Mapping[str, Any]


class DeployerCheckProvider(DataverseProvider):
    """A resource other resources can depend on so a refusal shows before any of them runs."""

    resource_label = "DeployerCheck"

    @staticmethod
    def _check(props: Mapping[str, Any]) -> DeployerCheckResult:
        connection = endpoints_of(props)
        client = dataverse_client(connection)
        result = ensure_deployer_check(connection, client)
        report_administration_mode(connection, client, wait=False)  # when already read
        return result

    def _outs(self, props: Mapping[str, Any], result: DeployerCheckResult) -> dict[str, Any]:
        return {**strip_internal(props), "caller_user_id": result.caller_user_id,
                "identity": result.identity}

    @user_errors("deployer-check")
    def create(self, props: dict[str, Any]) -> CreateResult:
        """Run the check (cached per process); report the administration mode when already read."""
        result = self._check(props)
        return CreateResult(result.caller_user_id, self._outs(props, result))

    @user_errors("deployer-check")
    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """As create: the check again for the new connection."""
        return UpdateResult(self._outs(news, self._check(news)))

    @user_errors("deployer-check")
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """No request: the deployer check owns nothing in the environment that could drift; the
        check itself runs again before the next write (create/update of any resource)."""
        return ReadResult(id_, strip_internal(props), {"connection": props["connection"]})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to remove: the check owns nothing in the environment."""
        return None


class DeployerCheck(pulumi.dynamic.Resource, module="dataverse", name="DeployerCheck"):
    """Fails the deployment early when the deploying identity lacks the admin roles."""

    caller_user_id: pulumi.Output[str]
    identity: pulumi.Output[str]
    provider_class = DeployerCheckProvider

    def __init__(self, name: str, args: DeployerCheckArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        """Register the resource (outputs: ``caller_user_id``, ``identity``)."""
        # Recorded as ``dataverse:Preflight`` before the rename; the alias keeps such stacks unchanged.
        super().__init__(DeployerCheckProvider(), name, resource_props(args, ("caller_user_id", "identity")),
                         formerly("Preflight", opts))
