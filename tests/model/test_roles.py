"""The role-file loader: the shipped files, name expansion, and every bad input's message."""

from __future__ import annotations

import pickle
import re
import textwrap
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from infra import facts
from infra.model.roles import RoleFileError, RoleSpec, derived_role_id, load_role_file, load_role_text, load_roles

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "roles"

# --- the reference's minimum privileges, written out independently of the YAML ---------------------
# Letters as in the reference: C create, R read, W write, D delete, A append, T append to, S assign.
_LETTERS = {"C": "Create", "R": "Read", "W": "Write", "D": "Delete", "A": "Append", "T": "AppendTo", "S": "Assign"}


def _expand(spec: str, depth: str = "Global") -> dict[str, str]:
    """'Account:CRWATS Note:CRWDAS' -> {prvCreateAccount: Global, ...} (stems spelled out here)."""
    out: dict[str, str] = {}
    for item in spec.split():
        stem, letters = item.split(":")
        for letter in letters:
            out[f"prv{_LETTERS[letter]}{stem}"] = depth
    return out


EXPECTED_INTEGRATION_ADMINISTRATOR = _expand(
    "AppModule:R PluginAssembly:R PluginType:R Relationship:R SdkMessage:R SdkMessageProcessingStep:R "
    "SdkMessageProcessingStepImage:R SystemForm:W nav_accountstatistics:R nav_connection:CRWD msdyn_PostConfig:W"
)
EXPECTED_INTEGRATION_USER = {
    **_expand(
        "Account:CRWATS ActionCard:R Connection:R Contact:CRWAT Note:CRWDAS Opportunity:CRWAT Post:CRT "
        "Invoice:CRWAT Order:RWATS Product:CRWAT DynamicProperty:R DynamicPropertyAssociation:R "
        "DynamicPropertyOptionSetItem:R Quote:R Incident:R TransactionCurrency:CRW Organization:RW Role:R "
        "User:CRWAT UserSettings:CRWDT Attribute:R PluginAssembly:R PluginType:R SdkMessage:R "
        "SdkMessageProcessingStep:R WebResource:R nav_accountstatistics:CRWT nav_connection:R"
    ),
    **_expand("UserEntityUISettings:CRW", depth="Basic"),
    "prvActOnBehalfOfAnotherUser": "Global",
}
EXPECTED_PRODUCT_AVAILABILITY_USER = _expand("nav_accountstatistics:CRWT nav_connection:R")


def test_shipped_role_files_grant_exactly_the_reference_privileges() -> None:
    roles = {r.name: r for r in load_roles(ROLES)}
    assert set(roles) == {"Integration Administrator", "Integration User", "Product Availability User"}
    assert roles["Integration Administrator"].privileges == EXPECTED_INTEGRATION_ADMINISTRATOR
    assert roles["Integration User"].privileges == EXPECTED_INTEGRATION_USER
    assert roles["Product Availability User"].privileges == EXPECTED_PRODUCT_AVAILABILITY_USER


def test_shipped_role_ids() -> None:
    roles = {r.name: r for r in load_roles(ROLES)}
    assert roles["Integration Administrator"].role_id == "8c8d4f51-a72b-e511-80d9-3863bb349780"
    assert roles["Integration User"].role_id == "6f960e32-a72b-e511-80d9-3863bb349780"
    pau = roles["Product Availability User"]
    assert pau.id_derived is True
    assert pau.role_id == str(uuid.uuid5(uuid.UUID(facts.DERIVED_ROLE_ID_NAMESPACE), "product availability user"))
    assert not roles["Integration User"].id_derived


def test_standin_solution_uses_the_same_role_ids() -> None:
    root = ET.parse(REPO / "solution" / "standin" / "customizations.xml").getroot()
    shipped = {r.get("name"): r.get("id").strip("{}") for r in root.iter("Role")}
    assert shipped == {r.name: r.role_id for r in load_roles(ROLES)}


def test_derived_id_is_stable_and_ignores_case_and_spaces() -> None:
    assert derived_role_id("Product Availability User") == derived_role_id("  product availability USER ")
    assert derived_role_id("A") != derived_role_id("B")
    spec = load_role_text("name: Some Role\ntables:\n  account: {verbs: [read], depth: global}\n", "x.yaml")
    assert spec.role_id == derived_role_id("Some Role") and spec.id_derived


def test_entries_carry_table_verb_and_line() -> None:
    spec = load_role_file(ROLES / "integration-user.yaml")
    by_name = {e.privilege: e for e in spec.entries}
    e = by_name["prvReadOrder"]
    assert (e.table, e.verb, e.depth) == ("salesorder", "Read", "Global")
    text = (ROLES / "integration-user.yaml").read_text().splitlines()
    assert text[e.line - 1].lstrip().startswith("salesorder:")
    act = by_name["prvActOnBehalfOfAnotherUser"]
    assert (act.table, act.verb) == (None, None)
    assert "ActOnBehalfOfAnotherUser" in text[act.line - 1]
    assert "salesorder" in spec.tables


# --- name expansion -------------------------------------------------------------------------------

STEM_EXCEPTIONS = {
    "systemuser": "prvReadUser",
    "salesorder": "prvReadOrder",
    "annotation": "prvReadNote",
    "incident": "prvReadIncident",
    "activitypointer": "prvReadActivity",
    "savedquery": "prvReadQuery",
    "attribute": "prvReadAttribute",
    "relationship": "prvReadRelationship",
    "appmodule": "prvReadAppModule",
    "msdyn_postconfig": "prvReadmsdyn_PostConfig",
}


def test_every_stem_exception_is_covered_here() -> None:
    assert set(STEM_EXCEPTIONS) == set(facts.PRIVILEGE_STEM_EXCEPTIONS)


@pytest.mark.parametrize(("table", "expected"), sorted(STEM_EXCEPTIONS.items()))
def test_stem_exception_expands(table: str, expected: str) -> None:
    spec = load_role_text(f"name: R\ntables:\n  {table}: {{verbs: [read], depth: global}}\n", "x.yaml")
    assert spec.privileges == {expected: "Global"}


@pytest.mark.parametrize(
    ("table", "verb", "expected"),
    [
        ("account", "create", "prvCreateAccount"),
        ("transactioncurrency", "write", "prvWriteTransactionCurrency"),
        ("sdkmessageprocessingstep", "read", "prvReadSdkMessageProcessingStep"),
        ("userentityuisettings", "read", "prvReadUserEntityUISettings"),
        ("contoso_widget", "append-to", "prvAppendTocontoso_widget"),  # unknown custom table: logical name
        ("account", "AppendTo", "prvAppendToAccount"),
        ("account", "append_to", "prvAppendToAccount"),
        ("account", "Share", "prvShareAccount"),
    ],
)
def test_expansion(table: str, verb: str, expected: str) -> None:
    depth = "basic" if table == "userentityuisettings" else "global"
    spec = load_role_text(f"name: R\ntables:\n  {table}: {{verbs: [{verb}], depth: {depth}}}\n", "x.yaml")
    assert list(spec.privileges) == [expected]


def test_tableless_privilege_with_or_without_prefix() -> None:
    a = load_role_text("name: R\nprivileges:\n  ActOnBehalfOfAnotherUser: global\n", "x.yaml")
    b = load_role_text("name: R\nprivileges:\n  prvActOnBehalfOfAnotherUser: Global\n", "x.yaml")
    assert a.privileges == b.privileges == {"prvActOnBehalfOfAnotherUser": "Global"}


def test_all_depth_words() -> None:
    for word, depth in [("basic", "Basic"), ("Local", "Local"), ("DEEP", "Deep"), ("global", "Global")]:
        spec = load_role_text(f"name: R\ntables:\n  account: {{verbs: [read], depth: {word}}}\n", "x.yaml")
        assert spec.privileges == {"prvReadAccount": depth}


# --- bad input --------------------------------------------------------------------------------------

OK_TABLES = "tables:\n  account: {verbs: [read], depth: global}\n"

BAD = [
    # (id, text, line, key, message regex)
    ("empty", "", None, None, r"the file is empty"),
    ("only-comments", "# nothing\n", None, None, r"the file is empty"),
    ("syntax", "name: R\ntables:\n  account: {verbs: [read, depth: global}\n", 3, None, r"YAML syntax error"),
    ("syntax-indent", "name: R\n tables: x\n  - y\n", 2, None, r"YAML syntax error"),
    ("not-a-mapping", "- a\n- b\n", 1, None, r"the file must be a mapping \(key: value\), got a list"),
    ("missing-name", OK_TABLES, 1, "name", r"missing; every role file needs the role's name"),
    ("name-number", "name: 42\n" + OK_TABLES, 1, "name", r"expected a string, got a number"),
    ("name-empty", "name: ''\n" + OK_TABLES, 1, "name", r"must not be empty"),
    ("name-too-long", f"name: {'x' * 101}\n" + OK_TABLES, 1, "name", r"longer than 100 characters"),
    ("unknown-top-key", "name: R\nprivilege: {}\n" + OK_TABLES, 2, "privilege",
     r"unknown key; allowed keys: name, id, description, tables, privileges"),
    ("bad-guid", "name: R\nid: 1234-abcd\n" + OK_TABLES, 2, "id", r"'1234-abcd' is not a GUID"),
    ("guid-number", "name: R\nid: 12\n" + OK_TABLES, 2, "id", r"expected a string, got a number"),
    ("no-privileges", "name: R\n", 1, "tables", r"the role grants no privileges"),
    ("tables-list", "name: R\ntables:\n  - account\n", 3, "tables", r"expected a mapping, got a list"),
    ("table-bad-name", "name: R\ntables:\n  Account: {verbs: [read], depth: global}\n", 3, "tables.Account",
     r"not a table logical name"),
    ("table-value-string", "name: R\ntables:\n  account: read\n", 3, "tables.account", r"expected a mapping, got a string"),
    ("duplicate-table", "name: R\ntables:\n  account: {verbs: [read], depth: global}\n"
     "  contact: {verbs: [read], depth: global}\n  account: {verbs: [write], depth: global}\n",
     5, "tables.account", r"duplicate key \(first on line 3\)"),
    ("duplicate-top-key", "name: R\nname: S\n" + OK_TABLES, 2, "name", r"duplicate key \(first on line 1\)"),
    ("table-unknown-key", "name: R\ntables:\n  account: {verbs: [read], depth: global, level: x}\n", 3,
     "tables.account.level", r"unknown key; allowed keys: verbs, depth"),
    ("missing-depth", "name: R\ntables:\n  account: {verbs: [read]}\n", 3, "tables.account.depth", r"missing"),
    ("missing-verbs", "name: R\ntables:\n  account: {depth: global}\n", 3, "tables.account.verbs", r"missing"),
    ("unknown-depth", "name: R\ntables:\n  account: {verbs: [read], depth: organization}\n", 3, "tables.account.depth",
     r"unknown depth 'organization'; allowed depths: basic, local, deep, global"),
    ("depth-number", "name: R\ntables:\n  account: {verbs: [read], depth: 3}\n", 3, "tables.account.depth",
     r"expected a depth, got a number; allowed depths: basic, local, deep, global"),
    ("unknown-verb", "name: R\ntables:\n  account:\n    verbs: [read, erase]\n    depth: global\n", 4,
     "tables.account.verbs",
     r"unknown verb 'erase'; allowed verbs: create, read, write, delete, append, append-to, assign, share"),
    ("verbs-string", "name: R\ntables:\n  account: {verbs: read, depth: global}\n", 3, "tables.account.verbs",
     r"expected a list of verbs, got a string"),
    ("verbs-empty", "name: R\ntables:\n  account: {verbs: [], depth: global}\n", 3, "tables.account.verbs",
     r"the list is empty"),
    ("verb-bool", "name: R\ntables:\n  account: {verbs: [yes], depth: global}\n", 3, "tables.account.verbs",
     r"expected a string, got true/false"),
    ("verb-twice", "name: R\ntables:\n  account:\n    verbs:\n      - read\n      - Read\n    depth: global\n", 6,
     "tables.account.verbs", r"verb 'Read' listed twice"),
    ("organization-delete", "name: R\ntables:\n  organization: {verbs: [read, delete], depth: global}\n", 3,
     "tables.organization.verbs", r"organization has no 'delete' privilege; it has only: read, write, append-to"),
    ("uiesettings-global", "name: R\ntables:\n  userentityuisettings: {verbs: [read], depth: global}\n", 3,
     "tables.userentityuisettings.depth", r"userentityuisettings privileges allow only basic, not global"),
    ("act-on-behalf-basic", "name: R\nprivileges:\n  ActOnBehalfOfAnotherUser: basic\n", 3,
     "privileges.ActOnBehalfOfAnotherUser", r"prvActOnBehalfOfAnotherUser allows only global, not basic"),
    ("tableless-bad-name", "name: R\nprivileges:\n  act on behalf: global\n", 3, "privileges.act on behalf",
     r"not a privilege name"),
    ("tableless-mapping", "name: R\nprivileges:\n  ActOnBehalfOfAnotherUser: {depth: global}\n", 3,
     "privileges.ActOnBehalfOfAnotherUser", r"expected a depth, got a mapping"),
    ("privilege-twice", "name: R\ntables:\n  account: {verbs: [read], depth: global}\nprivileges:\n"
     "  ReadAccount: local\n", 5, "prvReadAccount", r"privilege granted twice \(first on line 3\)"),
    ("number-key", "name: R\ntables:\n  1: {verbs: [read], depth: global}\n", 3, "tables",
     r"keys must be strings, got a number"),
    ("description-list", "name: R\ndescription: [a]\n" + OK_TABLES, 2, "description", r"expected a string, got a list"),
]


@pytest.mark.parametrize(("text", "line", "key", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_role_file(tmp_path: Path, text: str, line: int | None, key: str | None, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(RoleFileError) as info:
        load_role_file(path)
    err = info.value
    assert err.file == str(path)
    assert err.line == line
    assert err.key == key
    assert re.search(message, err.message), err.message
    where = f"{path}:{line}" if line is not None else str(path)
    assert str(err).startswith(f"{where}: " + (f"{key}: " if key else ""))


def test_error_string_format_and_pickle() -> None:
    err = RoleFileError("roles/x.yaml", 12, "tables.account.depth", "unknown depth 'x'")
    assert str(err) == "roles/x.yaml:12: tables.account.depth: unknown depth 'x'"
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err) and again.line == 12
    assert str(RoleFileError("roles", None, None, "no role files")) == "roles: no role files"


def test_missing_file_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(RoleFileError, match=r"nope.yaml: file not found"):
        load_role_file(tmp_path / "nope.yaml")
    (tmp_path / "latin.yaml").write_bytes(b"name: R\xe9le\n")
    with pytest.raises(RoleFileError, match=r"latin.yaml: not UTF-8 text"):
        load_role_file(tmp_path / "latin.yaml")


def _write(folder: Path, name: str, body: str) -> None:
    (folder / name).write_text(textwrap.dedent(body))


def test_duplicate_role_name_across_files(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", "name: Sales Helper\n" + OK_TABLES)
    _write(tmp_path, "b.yaml", "name: sales helper\nid: 11111111-2222-3333-4444-555555555555\n" + OK_TABLES)
    with pytest.raises(RoleFileError) as info:
        load_roles(tmp_path)
    assert str(info.value) == f"{tmp_path / 'b.yaml'}: name: role name 'sales helper' is already used by {tmp_path / 'a.yaml'}"


def test_duplicate_role_id_across_files(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", "name: A\nid: 11111111-2222-3333-4444-555555555555\n" + OK_TABLES)
    _write(tmp_path, "b.yaml", "name: B\nid: '{11111111-2222-3333-4444-555555555555}'\n" + OK_TABLES)
    with pytest.raises(RoleFileError, match=r"b.yaml: id: role id 11111111-2222-3333-4444-555555555555 is already "
                                            r"used by .*a.yaml \('A'\)"):
        load_roles(tmp_path)


def test_guid_is_normalised(tmp_path: Path) -> None:
    spec = load_role_text("name: A\nid: '{8C8D4F51-A72B-E511-80D9-3863BB349780}'\n" + OK_TABLES, "x.yaml")
    assert spec.role_id == "8c8d4f51-a72b-e511-80d9-3863bb349780" and not spec.id_derived


def test_empty_and_missing_role_directory(tmp_path: Path) -> None:
    with pytest.raises(RoleFileError, match=r"no role files \(\*\.yaml\) in this directory"):
        load_roles(tmp_path)
    with pytest.raises(RoleFileError, match=r"role directory not found"):
        load_roles(tmp_path / "missing")


def test_load_roles_sorted_and_ignores_other_files(tmp_path: Path) -> None:
    _write(tmp_path, "b.yaml", "name: B\n" + OK_TABLES)
    _write(tmp_path, "a.yml", "name: A\n" + OK_TABLES)
    _write(tmp_path, "README.md", "not a role")
    assert [r.name for r in load_roles(tmp_path)] == ["A", "B"]


def test_rolespec_is_immutable_and_privileges_sorted() -> None:
    spec = load_role_text("name: R\ntables:\n  contact: {verbs: [write, read], depth: local}\n", "x.yaml")
    assert isinstance(spec, RoleSpec)
    assert list(spec.privileges) == ["prvReadContact", "prvWriteContact"]
    with pytest.raises(AttributeError):
        spec.name = "other"  # type: ignore[misc]
