"""Rules that involve more than one key, and the files the config names (CA bundle, package).

Each rule runs only when the keys it reads are valid on their own (a key that failed its own check
is already reported), and falls back to the key's default when it is not set.  The solution
package is read here once; the loader hands the :class:`PackageInfo` on, so the program and
``bc-sales validate`` do not read it a second time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra import facts
from infra.model.solution_package import PackageError, PackageInfo, assert_importable, read_package
from infra.program.config.keys import ConfigKey
from infra.program.config.messages import show
from infra.program.config.project import PROJECT

__all__ = ["cross_checks"]


class _Known:
    """The valid values, with defaults for the keys that are not set."""

    def __init__(self, values: Mapping[str, Any], keys: list[ConfigKey]) -> None:
        self.values = values
        self.defaults = {k.field: k.default for k in keys if not k.required}

    def have(self, *names: str) -> bool:
        return all(n in self.values or n in self.defaults for n in names)

    def get(self, name: str) -> Any:
        return self.values.get(name, self.defaults.get(name))


def cross_checks(values: Mapping[str, Any], keys: list[ConfigKey], *, check_files: bool,
                 root: Path) -> tuple[list[str], PackageInfo | None]:
    """(problem lines, the solution package read) for the valid ``values`` (field -> value).

    ``check_files`` reads the CA bundle's and the package's paths (relative ones against
    ``root``); without it, or when the package cannot be read, the package is ``None``.
    """
    known = _Known(values, keys)
    problems = _identity_problems(known) + _github_problems(known) + _licensing_problems(known)
    package: PackageInfo | None = None
    if check_files and values.get("ca_bundle"):
        ca = _resolve(values["ca_bundle"], root)
        if not ca.is_file():
            problems.append(f"{PROJECT}:caBundle = {show(values['ca_bundle'])}: file not found")
    problems += _solution_problems(known)
    source = known.get("solution_source") if known.have("solution_source") else None
    if check_files and source == "package" and values.get("solution_path"):
        package, found = _package_problems(known, root)
        problems += found
    return problems, package


def _resolve(raw: str, root: Path) -> Path:
    path = Path(raw)
    return path if path.is_absolute() else root / path


def _identity_problems(known: _Known) -> list[str]:
    values, get, have = known.values, known.get, known.have
    problems: list[str] = []
    existing = have("identity_mode") and get("identity_mode") == "existing"
    if existing and "integration_user" in values and values["integration_user"].object_id is None:
        problems.append(
            f"{PROJECT}:integrationUser.objectId: required when identityMode is existing "
            "(the Entra object id of the integration user)"
        )
    if existing and "salespeople" in values:
        for i, person in enumerate(values["salespeople"]):
            if person.object_id is None:
                problems.append(
                    f"{PROJECT}:salespeople[{i}].objectId: required when identityMode is existing "
                    f"({person.user_principal_name})"
                )
    if have("identity_mode", "application_user", "application_client_id"):
        if get("identity_mode") == "existing" and get("application_user") and not get("application_client_id"):
            problems.append(
                f"{PROJECT}:applicationClientId: required when identityMode is existing and applicationUser is "
                "true (the client id of Business Central's app registration)"
            )
        if get("identity_mode") == "create" and values.get("application_client_secret"):
            problems.append(
                f"{PROJECT}:applicationClientSecret: only used with identityMode existing (with identityMode create "
                "the stack makes its own secret: set clientSecret: true); remove it"
            )
        if get("identity_mode") == "existing" and get("client_secret"):
            problems.append(
                f"{PROJECT}:clientSecret = true: only possible with identityMode create "
                "(the secret belongs to the app registration this stack creates)"
            )
    return problems


def _github_problems(known: _Known) -> list[str]:
    get = known.get
    problems: list[str] = []
    if known.have("github_repository", "github_environments", "github_branches"):
        if not get("github_repository") and (get("github_environments") or get("github_branches")):
            problems.append(
                f"{PROJECT}:githubRepository: required when githubEnvironments or githubBranches are set "
                "(owner/repository of the pipeline)"
            )
        if get("github_repository") and get("identity_mode") == "existing":
            problems.append(
                f"{PROJECT}:githubRepository = {show(get('github_repository'))}: federated credentials are only "
                "created with identityMode create"
            )
    return problems


def _licensing_problems(known: _Known) -> list[str]:
    values, get, have = known.values, known.get, known.have
    problems: list[str] = []
    if have("license_assignment", "licensing_group_id", "identity_mode"):
        group_mode = get("license_assignment") == "group"
        if group_mode and not get("licensing_group_id"):
            problems.append(
                f"{PROJECT}:licensingGroupId: required when licenseAssignment is group (the object id of the "
                "Entra security group whose licences its members get)"
            )
        if get("licensing_group_id") and not group_mode:
            problems.append(
                f"{PROJECT}:licensingGroupId = {show(get('licensing_group_id'))}: only used with licenseAssignment "
                "group; remove it or set licenseAssignment: group"
            )
        if group_mode and get("identity_mode") == "existing":
            problems.append(
                f"{PROJECT}:licenseAssignment = 'group': only possible with identityMode create (identityMode "
                "existing assigns no licence)"
            )
    if have("identity_mode") and "salespeople" in values and get("identity_mode") == "existing":
        for i, person in enumerate(values["salespeople"]):
            if person.usage_location is not None:
                problems.append(
                    f"{PROJECT}:salespeople[{i}].usageLocation = {show(person.usage_location)}: only applied with "
                    "identityMode create (identityMode existing changes nothing in Entra ID)"
                )
    if have("sku_ids", "identity_mode") and get("identity_mode") == "create":
        table = {**facts.SKU_IDS, **get("sku_ids")}
        wanted: list[tuple[str, str]] = []
        if "integration_user" in values:
            wanted.append((f"{PROJECT}:integrationUser.licenseSku", values["integration_user"].license_sku))
        for i, person in enumerate(values.get("salespeople", [])):
            if person.license_sku:
                wanted.append((f"{PROJECT}:salespeople[{i}].licenseSku", person.license_sku))
        for path, part in wanted:
            if part not in table:
                problems.append(
                    f"{path} = {show(part)}: no SKU id known for this part number; known: "
                    f"{', '.join(sorted(table))}; add it as {PROJECT}:skuIds.{part}: <skuId GUID>"
                )
    return problems


def _solution_problems(known: _Known) -> list[str]:
    values = known.values
    source = known.get("solution_source") if known.have("solution_source") else None
    problems: list[str] = []
    if source == "package" and not values.get("solution_path"):
        problems.append(
            f"{PROJECT}:solutionPath: required when solutionSource is package (the integration solution's .zip or "
            "unpacked folder, relative to the project root); or set solutionSource: business-central when "
            "Business Central imports the solution"
        )
    if source == "business-central" and values.get("solution_path"):
        problems.append(
            f"{PROJECT}:solutionPath = {show(values['solution_path'])}: not used with solutionSource "
            "business-central (Business Central imports the solution); remove it, or set solutionSource: package"
        )
    if source == "package" and values.get("solution_minimum_version"):
        problems.append(
            f"{PROJECT}:solutionMinimumVersion = {show(values['solution_minimum_version'])}: only used with "
            "solutionSource business-central (with a package, the package's version is installed); remove it"
        )
    return problems


def _package_problems(known: _Known, root: Path) -> tuple[PackageInfo | None, list[str]]:
    """Read the package ``solutionPath`` names (the one read per load) and check it fits the stack."""
    values = known.values
    path = _resolve(values["solution_path"], root)
    key = f"{PROJECT}:solutionPath = {show(values['solution_path'])}"
    try:
        info = read_package(path)
    except PackageError as exc:
        hint = ""
        if not path.exists():
            hint = ("; put the integration solution there (solution/README.md says where it comes from), or set "
                    "solutionSource: business-central when Business Central imports it")
        return None, [f"{key}: {exc.message if exc.element is None else f'{exc.element}: {exc.message}'}{hint}"]
    problems: list[str] = []
    if not info.managed and not known.get("allow_unmanaged_solution"):
        problems.append(
            f"{key}: {info.unique_name} {info.version} is unmanaged, but allowUnmanagedSolution is false "
            "(production takes the managed vendor package)"
        )
    if "environment_url" in values:
        try:
            assert_importable(info, values["environment_url"])
        except PackageError as exc:
            problems.append(f"{key}: {exc.message}")
    return info, problems
