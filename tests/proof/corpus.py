"""The bad-input corpus: every case is data -- what to break, and what the message must name.

Layers:
* ``config``    -- stack configuration through the program's config model (``load_settings``);
* ``role_file`` -- one role file's text through the role loader;
* ``role_dir``  -- a roles/ folder (cross-file rules: duplicate role name or id);
* ``package``   -- a solution package (zip or folder) through the package reader;
* ``provider``  -- inputs that reach a provider in the real provider host; for these the emulator's
  request log must show no Dataverse write.

``expect`` lists substrings (compared case-insensitively) that together name *where* (key, file,
property) and *what* (the bad value or the rule). A case passes only if every one appears.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from emulator.seed import ids

REPO = Path(__file__).resolve().parents[2]
STANDIN = REPO / "solution" / "standin"

# --- stack config -----------------------------------------------------------------------------

#: A valid stack configuration (the local stack's, endpoints given directly). Values are given as
#: the CLI passes them: strings, objects and lists as JSON text.
BASE_CONFIG: dict[str, Any] = {
    "tenantId": ids.TENANT_ID,
    "environmentUrl": "https://127.0.0.1:8443",
    "identityMode": "existing",
    "integrationUser": {"userPrincipalName": "bc-integration@contoso.example", "usageLocation": "US",
                        "licenseSku": "DYN365_ENTERPRISE_SALES",
                        "objectId": ids.INTEGRATION_USER_OBJECT_ID},
    "salespeople": [{"userPrincipalName": "sales01@contoso.example", "roles": ["Salesperson"],
                     "objectId": ids.salesperson_object_id(1)}],
    "seatCheck": "off",
    "applicationUser": True,
    "applicationClientId": ids.BUSINESS_CENTRAL_APP_ID,
    "solutionPath": "solution/standin",
}


def config_raw(values: dict[str, Any]) -> dict[str, str]:
    def raw(v: Any) -> str:
        if isinstance(v, (dict, list)) or v is None:
            return json.dumps(v)
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)

    return {k: raw(v) for k, v in values.items() if v is not _DROP}


_DROP = object()


def with_config(**changes: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(BASE_CONFIG))
    for key, value in changes.items():
        if "__" in key:  # integrationUser__usageLocation -> nested key
            top, sub = key.split("__", 1)
            out[top][sub] = value
        else:
            out[key] = value
    return out


# --- role files -------------------------------------------------------------------------------

GOOD_ROLE = "name: Case Role\ntables:\n  account: {verbs: [read], depth: global}\n"


# --- packages ---------------------------------------------------------------------------------


def _standin_members() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in STANDIN.iterdir() if p.is_file()}


def zip_with(tmp: Path, *, drop: tuple[str, ...] = (), replace: dict[str, bytes] | None = None,
             name: str = "case.zip") -> Path:
    members = _standin_members()
    for d in drop:
        members.pop(d, None)
    members.update(replace or {})
    path = tmp / name
    with zipfile.ZipFile(path, "w") as zf:
        for member, data in sorted(members.items()):
            zf.writestr(member, data)
    return path


def folder_with(tmp: Path, *, drop: tuple[str, ...] = (), replace: dict[str, bytes] | None = None) -> Path:
    target = tmp / "case-folder"
    shutil.copytree(STANDIN, target)
    for d in drop:
        (target / d).unlink()
    for member, data in (replace or {}).items():
        (target / member).write_bytes(data)
    return target


def _replace_in(member: str, old: str, new: str) -> bytes:
    text = (STANDIN / member).read_text(encoding="utf-8")
    assert old in text, f"{member} has no {old!r}: the corpus needs updating"
    return text.replace(old, new, 1).encode()


BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
                  b'<ImportExportXml><SolutionManifest><UniqueName>&lol2;</UniqueName></SolutionManifest>'
                  b'</ImportExportXml>')


@dataclass(frozen=True)
class Case:
    id: str
    layer: str
    data: Any                      # config dict / role text / {file: text} / package builder / provider spec
    expect: tuple[str, ...]
    known_bug: str = ""            # a real defect this case found; the case stays, marked xfail(strict)


@dataclass(frozen=True)
class ProviderCase:
    """A provider-layer input: resource kind, how to change a valid input, optional setup."""

    kind: str
    change: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]  # (inputs, ctx) -> inputs
    env: str = "deployer"          # deployer | missing | wrong-secret | limited
    setup: str | None = None       # "install-standin" before the case
    extra: dict[str, Any] = field(default_factory=dict)


def _set(**kv: Any) -> Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]:
    def change(inputs: dict[str, Any], _ctx: dict[str, Any]) -> dict[str, Any]:
        out = dict(inputs)
        for k, v in kv.items():
            if k.startswith("connection."):
                out["connection"] = {**out["connection"], k.split(".", 1)[1]: v}
            else:
                out[k] = v
        return out
    return change


def _with_privilege(name: str, depth: str) -> Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]:
    def change(inputs: dict[str, Any], _ctx: dict[str, Any]) -> dict[str, Any]:
        return {**inputs, "privileges": {**inputs["privileges"], name: depth}}
    return change


def _older_package(inputs: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
    from infra.model.solution_package import read_package

    folder = folder_with(ctx["tmp"], replace={"solution.xml": _replace_in(
        "solution.xml", "<Version>1.0.0.0</Version>", "<Version>0.9.0.0</Version>")})
    info = read_package(folder)
    return {**inputs, "package_path": str(folder), "version": info.version, "sha256": info.sha256}


CASES: list[Case] = [
    # --- stack config (program config model) ----------------------------------------------------
    Case("config-tenant-not-guid", "config", with_config(tenantId="contoso"), ("bc-sales:tenantId", "contoso", "GUID")),
    Case("config-http-environment-url", "config", with_config(environmentUrl="http://contoso.crm.dynamics.com"),
         ("bc-sales:environmentUrl", "http://contoso.crm.dynamics.com", "https")),
    Case("config-missing-environment-url", "config", with_config(environmentUrl=_DROP),
         ("bc-sales:environmentUrl", "required")),
    Case("config-integration-user-wrong-type", "config", with_config(integrationUser="bc-integration@contoso.example"),
         ("bc-sales:integrationUser",)),
    Case("config-usage-location", "config", with_config(integrationUser__usageLocation="USA"),
         ("integrationUser.usageLocation", "USA")),
    Case("config-salespeople-not-list", "config", with_config(salespeople="sales01@contoso.example"),
         ("bc-sales:salespeople", "list")),
    Case("config-duplicate-salesperson", "config",
         with_config(salespeople=[BASE_CONFIG["salespeople"][0], BASE_CONFIG["salespeople"][0]]),
         ("bc-sales:salespeople", "sales01@contoso.example", "twice")),
    Case("config-salesperson-bad-upn", "config",
         with_config(salespeople=[{**BASE_CONFIG["salespeople"][0], "userPrincipalName": "sales01"}]),
         ("salespeople[0]", "sales01")),
    Case("config-unknown-key-typo", "config", {**BASE_CONFIG, "salesPeople": []},
         ("bc-sales:salesPeople", "unknown key", "salespeople")),
    Case("config-identity-mode", "config", with_config(identityMode="maybe"), ("bc-sales:identityMode", "maybe", "create")),
    Case("config-rotation-days-range", "config", with_config(clientSecretRotationDays=3),
         ("bc-sales:clientSecretRotationDays", "3")),
    Case("config-seat-check", "config", with_config(seatCheck="sometimes"), ("bc-sales:seatCheck", "sometimes")),
    Case("config-solution-path-missing", "config", with_config(solutionPath="solution/nope.zip"),
         ("bc-sales:solutionPath", "solution/nope.zip")),
    Case("config-standin-real-environment", "config", with_config(environmentUrl="https://contoso.crm.dynamics.com"),
         ("bc-sales:solutionPath", "stand-in", "contoso.crm.dynamics.com")),
    Case("config-unknown-licence-sku", "config",
         with_config(identityMode="create", applicationClientId="",
                     integrationUser__licenseSku="DYN365_NO_SUCH_SKU", integrationUser__objectId=None),
         ("integrationUser.licenseSku", "DYN365_NO_SUCH_SKU")),
    Case("config-bool-wrong-type", "config", with_config(applicationUser="yes please"),
         ("bc-sales:applicationUser", "yes please")),
    Case("config-existing-without-object-id", "config", with_config(integrationUser__objectId=None),
         ("integrationUser.objectId", "existing")),
    Case("config-ca-bundle-missing", "config", with_config(caBundle="certs/none.pem"),
         ("bc-sales:caBundle", "certs/none.pem")),
    Case("config-authority-http", "config", with_config(authorityHost="http://login.example.com"),
         ("bc-sales:authorityHost", "http://login.example.com")),

    # --- role files -------------------------------------------------------------------------------
    Case("role-verbs-wrong-type", "role_file", "name: X\ntables:\n  account: {verbs: read, depth: global}\n",
         ("case.yaml:3", "tables.account.verbs", "list")),
    Case("role-unknown-verb", "role_file", "name: X\ntables:\n  account: {verbs: [reed], depth: global}\n",
         ("case.yaml:3", "reed", "allowed")),
    Case("role-unknown-depth", "role_file", "name: X\ntables:\n  account: {verbs: [read], depth: everything}\n",
         ("case.yaml:3", "tables.account.depth", "everything")),
    Case("role-forbidden-verb", "role_file", "name: X\ntables:\n  organization: {verbs: [delete], depth: global}\n",
         ("case.yaml:3", "organization", "delete")),
    Case("role-forbidden-depth-basic-only", "role_file",
         "name: X\ntables:\n  userentityuisettings: {verbs: [read], depth: global}\n",
         ("case.yaml:3", "userentityuisettings", "basic", "global")),
    Case("role-forbidden-depth-global-only", "role_file", "name: X\nprivileges:\n  prvActOnBehalfOfAnotherUser: basic\n",
         ("case.yaml:3", "prvActOnBehalfOfAnotherUser", "basic")),
    Case("role-duplicate-key", "role_file",
         "name: X\ntables:\n  account: {verbs: [read], depth: global}\n  account: {verbs: [write], depth: global}\n",
         ("case.yaml:4", "tables.account", "duplicate")),
    Case("role-missing-name", "role_file", "tables:\n  account: {verbs: [read], depth: global}\n", ("case.yaml", "name", "missing")),
    Case("role-id-not-guid", "role_file", "name: X\nid: not-a-guid\ntables:\n  account: {verbs: [read], depth: global}\n",
         ("case.yaml:2", "id", "not-a-guid")),
    Case("role-name-too-long", "role_file", "name: " + "x" * 101 + "\ntables:\n  account: {verbs: [read], depth: global}\n",
         ("case.yaml:1", "name", "100")),
    Case("role-unknown-top-key", "role_file", "name: X\ncolour: red\ntables:\n  account: {verbs: [read], depth: global}\n",
         ("case.yaml:2", "colour", "unknown")),
    Case("role-empty-verbs", "role_file", "name: X\ntables:\n  account: {verbs: [], depth: global}\n",
         ("case.yaml:3", "tables.account.verbs", "empty")),
    Case("role-yaml-syntax", "role_file", "name: [unclosed\n", ("case.yaml", "YAML")),
    Case("role-not-a-mapping", "role_file", "- a\n- b\n", ("case.yaml", "mapping")),
    Case("role-bad-table-name", "role_file", "name: X\ntables:\n  Account-Table: {verbs: [read], depth: global}\n",
         ("case.yaml:3", "Account-Table")),
    Case("role-name-wrong-type", "role_file", "name: 42\ntables:\n  account: {verbs: [read], depth: global}\n",
         ("case.yaml:1", "name", "string")),
    Case("role-unknown-table-key", "role_file",
         "name: X\ntables:\n  account: {verbs: [read], depth: global, level: 3}\n",
         ("case.yaml:3", "tables.account.level", "unknown")),
    Case("role-missing-depth", "role_file", "name: X\ntables:\n  account: {verbs: [read]}\n",
         ("case.yaml:3", "tables.account.depth", "missing")),
    Case("role-empty-file", "role_file", "", ("case.yaml", "empty")),
    Case("role-duplicate-verb", "role_file", "name: X\ntables:\n  account: {verbs: [read, read], depth: global}\n",
         ("case.yaml:3", "read", "twice")),
    Case("roles-duplicate-role-name", "role_dir", {"a.yaml": GOOD_ROLE, "b.yaml": GOOD_ROLE.replace("Case Role", "case role")},
         ("b.yaml", "name", "case role", "a.yaml")),
    Case("roles-duplicate-role-id", "role_dir",
         {"a.yaml": "name: A\nid: 6f960e32-a72b-e511-80d9-3863bb349780\ntables:\n  account: {verbs: [read], depth: global}\n",
          "b.yaml": "name: B\nid: 6f960e32-a72b-e511-80d9-3863bb349780\ntables:\n  account: {verbs: [read], depth: global}\n"},
         ("b.yaml", "id", "6f960e32-a72b-e511-80d9-3863bb349780")),
    Case("roles-empty-folder", "role_dir", {}, ("no role files",)),

    # --- solution packages ------------------------------------------------------------------------
    Case("package-malformed-zip", "package", lambda t: (t / "bad.zip").write_bytes(b"PK\x03\x04 not a zip") and t / "bad.zip",
         ("bad.zip", "zip")),
    Case("package-truncated-zip", "package",
         lambda t: _truncate(zip_with(t), t), ("truncated.zip",)),
    Case("package-empty-file", "package", lambda t: (t / "empty.zip").write_bytes(b"") or t / "empty.zip", ("empty.zip",)),
    Case("package-missing-manifest", "package", lambda t: zip_with(t, drop=("solution.xml",)), ("case.zip", "solution.xml")),
    Case("package-missing-customizations", "package", lambda t: zip_with(t, drop=("customizations.xml",)),
         ("case.zip", "customizations.xml")),
    Case("package-missing-content-types", "package", lambda t: zip_with(t, drop=("[Content_Types].xml",)),
         ("case.zip", "[Content_Types].xml")),
    Case("package-folder-missing-manifest", "package", lambda t: folder_with(t, drop=("solution.xml",)),
         ("case-folder", "solution.xml")),
    Case("package-manifest-not-xml", "package", lambda t: zip_with(t, replace={"solution.xml": b"this is not xml"}),
         ("case.zip", "solution.xml")),
    Case("package-dtd-entities", "package", lambda t: zip_with(t, replace={"solution.xml": BILLION_LAUGHS}),
         ("case.zip", "solution.xml", "DTD")),
    Case("package-bad-version", "package", lambda t: zip_with(t, replace={"solution.xml": _replace_in(
        "solution.xml", "<Version>1.0.0.0</Version>", "<Version>1.0.x</Version>")}), ("case.zip", "Version", "1.0.x")),
    Case("package-bad-managed-flag", "package", lambda t: zip_with(t, replace={"solution.xml": _replace_in(
        "solution.xml", "<Managed>1</Managed>", "<Managed>7</Managed>")}), ("case.zip", "Managed", "7")),
    Case("package-missing-unique-name", "package", lambda t: zip_with(t, replace={"solution.xml": _replace_in(
        "solution.xml", "<UniqueName>bcsales_IntegrationStandIn</UniqueName>", "")}), ("case.zip", "UniqueName")),
    Case("package-bad-unique-name", "package", lambda t: zip_with(t, replace={"solution.xml": _replace_in(
        "solution.xml", "<UniqueName>bcsales_IntegrationStandIn</UniqueName>", "<UniqueName>bad name!</UniqueName>")}),
         ("case.zip", "UniqueName", "bad name!")),
    Case("package-bad-privilege-level", "package", lambda t: zip_with(t, replace={"customizations.xml": _replace_in(
        "customizations.xml", 'level="Global"', 'level="Everything"')}), ("case.zip", "customizations.xml", "Everything")),
    Case("package-path-not-found", "package", lambda t: t / "missing.zip", ("missing.zip", "not found")),

    # --- through the provider host (no Dataverse write allowed) -------------------------------------
    Case("provider-role-unknown-privilege", "provider",
         ProviderCase("SecurityRole", _with_privilege("prvFlyToMoon", "Global")), ("prvFlyToMoon",)),
    Case("provider-role-forbidden-depth", "provider",
         ProviderCase("SecurityRole", _with_privilege("prvReadOrganization", "Basic")), ("prvReadOrganization", "Basic")),
    Case("provider-role-bad-depth-word", "provider",
         ProviderCase("SecurityRole", _with_privilege("prvReadAccount", "Everything")), ("privileges", "Everything")),
    Case("provider-role-id-not-guid", "provider", ProviderCase("SecurityRole", _set(role_id="role-1")), ("role_id", "role-1")),
    Case("provider-role-empty-name", "provider", ProviderCase("SecurityRole", _set(name="")), ("name",)),
    Case("provider-role-privileges-wrong-type", "provider",
         ProviderCase("SecurityRole", _set(privileges=["prvReadAccount"])), ("privileges",)),
    Case("provider-access-object-id-not-guid", "provider",
         ProviderCase("UserRoleAssignment", _set(object_id="sales01@contoso.example")), ("object_id", "sales01@contoso.example")),
    Case("provider-access-sysadmin-integration-user", "provider",
         ProviderCase("UserRoleAssignment", _set(roles=["System Administrator"])), ("System Administrator",)),
    Case("provider-access-unknown-role", "provider",
         ProviderCase("UserRoleAssignment", _set(roles=["No Such Role"])), ("No Such Role",)),
    Case("provider-access-unknown-user", "provider",
         ProviderCase("UserRoleAssignment", _set(object_id="6b1c2d3e-0000-4000-8000-0000000fffff", wait_timeout_seconds=1)),
         ("6b1c2d3e-0000-4000-8000-0000000fffff", "licen")),
    Case("provider-appuser-application-id-not-guid", "provider",
         ProviderCase("ApplicationUser", _set(application_id="business-central")), ("application_id", "business-central")),
    Case("provider-appuser-unknown-role", "provider",
         ProviderCase("ApplicationUser", _set(roles=["No Such Role"])), ("No Such Role",)),
    Case("provider-solution-version-backwards", "provider",
         ProviderCase("SolutionImport", _older_package, setup="install-standin"), ("0.9.0.0", "1.0.0.0")),
    Case("provider-solution-standin-real-environment", "provider",
         ProviderCase("SolutionImport", _set(**{"connection.environment_url": "https://contoso.crm.dynamics.com"})),
         ("stand-in", "contoso.crm.dynamics.com")),
    Case("provider-solution-sha-mismatch", "provider",
         ProviderCase("SolutionImport", _set(sha256="0" * 64)), ("sha256",)),
    Case("provider-solution-package-missing", "provider",
         ProviderCase("SolutionImport", _set(package_path="/nonexistent/solution.zip")), ("/nonexistent/solution.zip",)),
    Case("provider-connection-http-url", "provider",
         ProviderCase("DeployerCheck", _set(**{"connection.environment_url": "http://127.0.0.1:9"})),
         ("environment_url", "http://127.0.0.1:9", "https")),
    Case("provider-connection-missing-tenant", "provider",
         ProviderCase("DeployerCheck", _set(**{"connection.tenant_id": ""})), ("tenant_id",)),
    Case("provider-missing-credentials", "provider", ProviderCase("DeployerCheck", _set(), env="missing"),
         ("AZURE_CLIENT_ID",)),
    Case("provider-wrong-client-secret", "provider", ProviderCase("DeployerCheck", _set(), env="wrong-secret"),
         (ids.DEPLOYER_CLIENT_ID,)),
    Case("provider-deployer-check-missing-admin-roles", "provider", ProviderCase("SecurityRole", _set(), env="limited"),
         (ids.LIMITED_CLIENT_ID, "System Administrator")),
]


def _truncate(path: Path, tmp: Path) -> Path:
    data = path.read_bytes()
    out = tmp / "truncated.zip"
    out.write_bytes(data[: len(data) // 2])
    return out
