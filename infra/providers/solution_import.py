"""SolutionImport: bring the integration solution to the declared version, forward only.

State holds the unique name, version, managed flag and the package's SHA-256 -- never the bytes.
How a package is staged, imported and followed is :mod:`infra.providers.solution_install`; the
async-operation lifecycle (status codes, polling) is :mod:`infra.clients.dataverse.operations`.
This module keeps the provider class: existing stacks' state names it as
``infra.providers.solution_import.SolutionImportProvider``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckFailure, CreateResult, ReadResult, UpdateResult

from infra.clients.endpoints import EnvironmentEndpoints
from infra.clients.dataverse import Solution
from infra.clients.errors import ClientError, NotFoundError
from infra.model.solution_package import PackageError, assert_importable, read_package
from infra.model.terms import parse_version
from infra.providers.base import (
    DataverseProvider, FieldRule, ProviderFailure, client_for, endpoints_of, credentials_available, is_unknown,
    progress, resource_props, strip_internal, user_errors, warn,
)
from infra.providers.deployer import checked_client, ensure_deployer_check
from infra.providers.runtime import dataverse_client
from infra.providers.solution_install import (
    OperationStillRunning, install_solution, installed_solution, next_version, resolve_package_path,
    wait_for_operation,
)

__all__ = ["SolutionImport", "SolutionImportArgs", "SolutionImportProvider", "resolve_package_path",
           "install_solution", "wait_for_operation", "OperationStillRunning"]


class SolutionImportProvider(DataverseProvider):
    """Installs the package's version (forward only); the unique name replaces."""

    resource_label = "SolutionImport"
    fields = (FieldRule("unique_name", replace=True), FieldRule("version"), FieldRule("managed"),
              FieldRule("sha256"),
              FieldRule("overwrite_unmanaged_customizations"), FieldRule("publish_workflows"),
              FieldRule("uninstall_on_delete"), FieldRule("timeout_seconds"))

    def validate(self, news: Mapping[str, Any]) -> list[CheckFailure]:
        """Strings where required, a solution version, a SHA-256, an existing package whose
        manifest matches the declared identity, a positive time-out."""
        failures: list[CheckFailure] = []
        for key in ("unique_name", "version", "sha256", "package_path"):
            if not is_unknown(news.get(key)) and not isinstance(news.get(key), str):
                failures.append(CheckFailure(key, f"{key} is required (a string), got {news.get(key)!r}"))
        if failures:
            return failures
        try:
            parse_version(news["version"])
        except ValueError as exc:
            failures.append(CheckFailure("version", str(exc)))
        sha = news["sha256"]
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha.lower()):
            failures.append(CheckFailure("sha256", f"sha256 must be 64 hex characters, got {sha!r}"))
        path = resolve_package_path(news["package_path"])
        if not path.exists():
            failures.append(CheckFailure("package_path", f"package not found: {path}"))
        timeout = news.get("timeout_seconds", 3600)
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            failures.append(CheckFailure("timeout_seconds", f"must be a positive number, got {timeout!r}"))
        if not failures:
            failures += self._package_failures(news)
        return failures

    @staticmethod
    def _package_failures(news: Mapping[str, Any]) -> list[CheckFailure]:
        """The manifest must match the declared identity; the stand-in stays in the emulator."""
        try:
            info = read_package(resolve_package_path(news["package_path"]))
        except PackageError as exc:
            return [CheckFailure("package_path", str(exc))]
        failures = []
        for key, actual in (("unique_name", info.unique_name), ("version", info.version),
                            ("managed", info.managed)):
            if key in news and news[key] != actual and not (key == "managed" and bool(news[key]) == actual):
                failures.append(CheckFailure(key, f"{key} {news[key]!r} does not match the package manifest ({actual!r})"))
        if info.sha256 != str(news["sha256"]).lower():
            failures.append(CheckFailure("sha256", f"sha256 does not match the package ({info.sha256})"))
        conn = news.get("connection") or {}
        if isinstance(conn, Mapping) and isinstance(conn.get("environment_url"), str):
            try:
                assert_importable(info, conn["environment_url"])
            except PackageError as exc:
                failures.append(CheckFailure("package_path", str(exc)))
        return failures

    def check_live(self, olds: Mapping[str, Any], inputs: dict[str, Any],
                   connection: EnvironmentEndpoints | None) -> list[CheckFailure]:
        """A managed package whose bytes changed but whose version did not is refused (see
        :meth:`_same_version_new_bytes`)."""
        failure = self._same_version_new_bytes(olds, inputs, connection)
        return [failure] if failure is not None else []

    @staticmethod
    def _same_version_new_bytes(olds: Mapping[str, Any], news: Mapping[str, Any],
                                connection: EnvironmentEndpoints | None) -> CheckFailure | None:
        """A managed package whose bytes changed but whose version did not is refused here, at
        preview, before anything is written: Dataverse keeps an installed managed solution of
        the same version, so the new content would never arrive (an unmanaged one is imported
        again by update()).  Compared with what the state recorded; the installed version is
        read live when credentials are present."""
        old_sha, new_sha = str(olds.get("sha256") or "").lower(), str(news.get("sha256") or "").lower()
        if not old_sha or not new_sha or old_sha == new_sha or not news.get("managed"):
            return None
        if any(is_unknown(news.get(k)) for k in ("version", "unique_name")) or not olds.get("version"):
            return None
        try:
            if parse_version(olds["version"]) != parse_version(news["version"]):
                return None
        except ValueError:
            return None
        installed = str(olds["version"])
        where = "recorded in the stack state"
        try:
            if connection is not None and credentials_available(connection):
                live = installed_solution(dataverse_client(connection), news["unique_name"])
                if live is not None:
                    installed, where = str(live.version), "installed in the environment"
        except (ClientError, ProviderFailure) as exc:
            warn(f"solution {news['unique_name']}: could not read the installed version in preview: {exc}")
        return CheckFailure("sha256", (
            f"solution {news['unique_name']}: the package changed but its version did not -- version "
            f"{installed} is {where} (package sha256 {old_sha}) and the package {news.get('package_path')} "
            f"is version {news['version']} too (sha256 {new_sha}). Dataverse keeps an installed managed "
            f"solution of the same version, so the new content would never arrive: raise the version in "
            f"solution.xml (e.g. {next_version(news['version'])}) and run again. Nothing was changed."))

    def canonical(self, news: dict[str, Any]) -> dict[str, Any]:
        """SHA-256 lower-cased, flags as bools, defaults filled in."""
        out = dict(news)
        out["sha256"] = str(news["sha256"]).lower()
        out["managed"] = bool(news.get("managed", False))
        out.setdefault("overwrite_unmanaged_customizations", True)
        out.setdefault("publish_workflows", True)
        out["uninstall_on_delete"] = bool(news.get("uninstall_on_delete", False))
        out["timeout_seconds"] = news.get("timeout_seconds", 3600)
        return out

    def equal(self, name: str, old: Any, new: Any) -> bool:
        """The time-out compares as a number (default 3600)."""
        if name == "timeout_seconds":
            return float(old or 3600) == float(new or 3600)
        return old == new

    def _outs(self, props: Mapping[str, Any], sol: Solution, adopted: bool) -> dict[str, Any]:
        return {**strip_internal(props), "solution_id": str(sol.solution_id),
                "installed_version": str(sol.version), "adopted": adopted}

    def _label(self, props: Mapping[str, Any]) -> str:
        return f"solution {props['unique_name']} {props['version']}"

    def _install(self, props: Mapping[str, Any], *, reimport_same_version: bool = False) -> tuple[Solution, bool]:
        label = self._label(props)
        connection = endpoints_of(props)
        try:
            info = read_package(resolve_package_path(props["package_path"]))
            assert_importable(info, connection.environment_url)
        except PackageError as exc:
            raise ProviderFailure(f"{label}: {exc}") from None
        if info.sha256 != props["sha256"]:
            raise ProviderFailure(f"{label}: the package changed since preview (sha256 {info.sha256}); "
                                  "run the deployment again")
        client = dataverse_client(connection)
        ensure_deployer_check(connection, client)  # after the offline package checks: a bad package costs no request
        return install_solution(client, props, label, reimport_same_version=reimport_same_version)

    @user_errors("SolutionImport")
    def create(self, props: dict[str, Any]) -> CreateResult:
        """Install the package's version (or adopt it when installed)."""
        sol, adopted = self._install(props)
        return CreateResult(str(sol.solution_id), self._outs(props, sol, adopted))

    @user_errors("SolutionImport")
    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Install a new version (an unmanaged package with new bytes: the same version again);
        no request when only settings changed."""
        if (olds.get("version") == news["version"] and olds.get("sha256") == news["sha256"]
                and olds.get("managed") == news["managed"]):
            return UpdateResult({**olds, **strip_internal(news)})
        changed_bytes = str(olds.get("sha256") or "").lower() != news["sha256"]
        sol, adopted = self._install(news, reimport_same_version=changed_bytes and not news["managed"])
        return UpdateResult(self._outs(news, sol, adopted))

    @user_errors("SolutionImport")
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """The installed version and managed flag (one request); not installed reads as gone."""
        client = client_for(props)
        sol = installed_solution(client, props["unique_name"])
        if sol is None:
            return ReadResult("", {})
        outs = {**strip_internal(props), "solution_id": str(sol.solution_id),
                "installed_version": str(sol.version),
                "managed": bool(sol.is_managed)}
        inputs = {k: v for k, v in strip_internal(props).items()
                  if k not in ("solution_id", "installed_version", "adopted")}
        if str(sol.version) != props.get("version"):
            progress(f"solution {props['unique_name']}: installed version is {sol.version}, "
                     f"state says {props.get('version')}")
            inputs["version"] = str(sol.version)
            outs["version"] = str(sol.version)
        inputs["managed"] = outs["managed"]
        return ReadResult(str(sol.solution_id), outs, inputs)

    @user_errors("SolutionImport")
    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Uninstall only with uninstall_on_delete; otherwise the solution stays."""
        label = f"solution {props.get('unique_name')}"
        if not props.get("uninstall_on_delete"):
            progress(f"{label}: left installed (uninstall_on_delete is false)")
            return
        client = checked_client(props)
        if installed_solution(client, props["unique_name"]) is None:
            progress(f"{label}: already uninstalled")
            return
        progress(f"{label}: uninstalling")
        try:
            job = client.uninstall_solution_async(props["unique_name"])
        except NotFoundError:
            return
        wait_for_operation(client, job.async_operation_id, float(props.get("timeout_seconds", 3600)), label, "uninstall")


@dataclass
class SolutionImportArgs:
    """Inputs of a SolutionImport.

    ``package_path``: the solution .zip, relative to the project folder (or absolute);
    ``unique_name``, ``version``, ``managed``, ``sha256``: the package's identity, checked against
    its manifest and bytes; ``overwrite_unmanaged_customizations`` and ``publish_workflows``: the
    ImportSolutionAsync parameters of the same names; ``uninstall_on_delete``: uninstall on
    destroy; ``timeout_seconds``: how long to follow an import or uninstall.
    """

    connection: Mapping[str, Any]
    package_path: Any
    unique_name: Any
    version: Any
    managed: Any
    sha256: Any
    overwrite_unmanaged_customizations: bool = True
    publish_workflows: bool = True
    uninstall_on_delete: bool = False
    timeout_seconds: float = 3600


class SolutionImport(pulumi.dynamic.Resource, module="dataverse", name="SolutionImport"):
    """A Dataverse solution installed at (at least) the package's version."""

    solution_id: pulumi.Output[str]
    installed_version: pulumi.Output[str]
    provider_class = SolutionImportProvider

    def __init__(self, name: str, args: SolutionImportArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        """Register the resource (outputs: solution_id, installed_version, adopted)."""
        props = resource_props(args, ("solution_id", "installed_version", "adopted"))
        if isinstance(props["package_path"], Path):
            props["package_path"] = str(props["package_path"])
        super().__init__(SolutionImportProvider(), name, props, opts)
