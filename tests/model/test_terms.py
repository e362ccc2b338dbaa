"""The field's terms, defined once (infra.model.terms), and the callers that moved to them."""

from __future__ import annotations

import pytest

from infra.model.terms import PrivilegeDepth, guid, is_guid, parse_version
from tests.program.test_config import load

ID = "6b1c2d3e-0000-4000-8000-00000000e000"


def test_privilege_depth_names_numbers_and_editor_names() -> None:
    assert [d.value for d in PrivilegeDepth.role_depths()] == ["Basic", "Local", "Deep", "Global"]
    assert PrivilegeDepth.parse("global") is PrivilegeDepth.GLOBAL
    assert PrivilegeDepth.parse("3") is PrivilegeDepth.GLOBAL
    assert PrivilegeDepth.parse("Organization") is PrivilegeDepth.GLOBAL
    assert PrivilegeDepth.LOCAL.number == 1 and PrivilegeDepth.LOCAL.editor_name == "Business Unit"
    with pytest.raises(ValueError, match="unknown privilege depth 'everywhere'; allowed: Basic, Local, Deep, Global"):
        PrivilegeDepth.parse("everywhere")


def test_guid_canonical_form() -> None:
    assert guid("{" + ID.upper() + "}") == ID
    assert is_guid(ID) and not is_guid("not-a-guid") and not is_guid(None)
    with pytest.raises(ValueError, match="is not a GUID"):
        guid("1234-abcd")


def test_parse_version() -> None:
    assert parse_version("9.0") == (9, 0, 0, 0)
    for bad in ("9", "9.0.0.0.0", "9.x"):
        with pytest.raises(ValueError, match="is not a solution version"):
            parse_version(bad)


def test_config_ids_take_the_same_guid_definition() -> None:
    """Config ids are canonicalised by terms.guid like role files and packages: braces and capitals go."""
    user = {"userPrincipalName": "x@contoso.example", "usageLocation": "US", "objectId": "{" + ID.upper() + "}"}
    assert load("local", {"integrationUser": user}).integration_user.object_id == ID
