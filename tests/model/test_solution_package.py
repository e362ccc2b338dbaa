"""The package reader, the deterministic packer and the stand-in guard."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import shutil
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from infra.model.solution_package import (
    PackageError,
    PackageInfo,
    assert_importable,
    discover_packages,
    open_package,
    pack_source,
    read_package,
    write_package,
)
from infra.model.terms import parse_version

REPO = Path(__file__).resolve().parents[2]
STANDIN = REPO / "solution" / "standin"


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    """A private copy of the stand-in source folder to modify."""
    dest = tmp_path / "src"
    shutil.copytree(STANDIN, dest)
    return dest


def _edit(folder: Path, member: str, old: str, new: str) -> None:
    path = folder / member
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {member}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


# --- the stand-in -----------------------------------------------------------------------------------


def test_read_standin_folder() -> None:
    info = read_package(STANDIN)
    assert isinstance(info, PackageInfo)
    assert info.unique_name == "bcsales_IntegrationStandIn"
    assert info.version == "1.0.0.0" and info.version_tuple == (1, 0, 0, 0)
    assert info.managed is True
    assert info.publisher == "bcsalesstandin" and info.publisher_prefix == "bcs"
    assert info.is_standin and info.is_source_folder
    assert info.tables == ("nav_connection", "nav_accountstatistics")
    roles = {r.name: r for r in info.roles}
    assert roles["Integration Administrator"].role_id == "8c8d4f51-a72b-e511-80d9-3863bb349780"
    assert roles["Integration User"].role_id == "6f960e32-a72b-e511-80d9-3863bb349780"
    assert roles["Integration User"].privileges["prvReadAccount"] == "Local"
    assert set(roles) == {"Integration Administrator", "Integration User", "Product Availability User"}
    packed = pack_source(STANDIN)
    assert info.size == len(packed)
    assert info.sha256 == hashlib.sha256(packed).hexdigest()


def test_standin_privileges_are_deliberately_partial() -> None:
    from infra.model.roles import load_roles

    declared = {r.role_id: r.privileges for r in load_roles(REPO / "roles")}
    for role in read_package(STANDIN).roles:
        assert dict(role.privileges) != declared[role.role_id], role.name


def test_packed_zip_reads_the_same_as_the_folder(tmp_path: Path) -> None:
    zpath = write_package(STANDIN, tmp_path / "out" / "standin.zip")
    from_zip, from_folder = read_package(zpath), read_package(STANDIN)
    assert from_zip.sha256 == from_folder.sha256
    assert from_zip.size == zpath.stat().st_size == from_folder.size
    assert (from_zip.unique_name, from_zip.version, from_zip.roles, from_zip.tables) == (
        from_folder.unique_name, from_folder.version, from_folder.roles, from_folder.tables)
    assert not from_zip.is_source_folder
    assert list(tmp_path.joinpath("out").iterdir()) == [zpath]  # no temp file left behind


# --- deterministic packing ------------------------------------------------------------------------


def test_pack_twice_gives_the_same_bytes(source: Path) -> None:
    assert pack_source(source) == pack_source(source) == pack_source(STANDIN)


def test_mtime_and_mode_do_not_change_the_bytes(source: Path) -> None:
    before = pack_source(source)
    for f in source.iterdir():
        os.utime(f, (1_900_000_000, 1_900_000_000))
        f.chmod(0o600)
    (source / ".DS_Store").write_bytes(b"junk")
    assert pack_source(source) == before


def test_content_change_changes_the_hash(source: Path) -> None:
    before = read_package(source).sha256
    _edit(source, "solution.xml", "<Version>1.0.0.0</Version>", "<Version>1.0.0.1</Version>")
    after = read_package(source)
    assert after.sha256 != before and after.version == "1.0.0.1"


def test_zip_layout_sorted_fixed_time_and_mode(source: Path) -> None:
    sub = source / "WebResources"
    sub.mkdir()
    (sub / "b.js").write_text("b")
    (sub / "a.js").write_text("a")
    with zipfile.ZipFile(io.BytesIO(pack_source(source))) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == ["WebResources/a.js", "WebResources/b.js", "[Content_Types].xml", "customizations.xml", "solution.xml"]
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
    assert all(i.external_attr >> 16 == 0o100644 for i in infos)
    assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in infos)


def test_open_package_streams_the_packed_bytes(tmp_path: Path) -> None:
    with open_package(STANDIN) as fh:
        assert fh.read() == pack_source(STANDIN)
    zpath = write_package(STANDIN, tmp_path / "p.zip")
    with open_package(zpath) as fh:
        assert fh.read() == zpath.read_bytes()


def test_symlink_refused(source: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("x")
    (source / "link.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(PackageError, match=r"link.txt: symbolic links are not allowed"):
        pack_source(source)


def test_empty_source_folder(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match=r"the source folder is empty"):
        pack_source(tmp_path)


# --- a large zip is hashed while streaming ------------------------------------------------------------


def test_large_zip_hashed_without_loading_it(tmp_path: Path) -> None:
    big = tmp_path / "big.zip"
    blob = os.urandom(1024 * 1024)
    with zipfile.ZipFile(big, "w") as zf:
        for name in ("[Content_Types].xml", "customizations.xml", "solution.xml"):
            zf.write(STANDIN / name, name)
        with zf.open(zipfile.ZipInfo("WebResources/big.bin"), "w") as dst:
            for _ in range(40):
                dst.write(blob)
    expected = hashlib.sha256(big.read_bytes()).hexdigest()
    tracemalloc.start()
    try:
        info = read_package(big)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.sha256 == expected and info.size == big.stat().st_size
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes while reading a {info.size} byte zip"


# --- bad packages ------------------------------------------------------------------------------------


def test_missing_members_in_folder(source: Path) -> None:
    for name in ("solution.xml", "customizations.xml", "[Content_Types].xml"):
        copy = source.parent / f"copy-{name}"
        shutil.copytree(source, copy)
        (copy / name).unlink()
        with pytest.raises(PackageError) as info:
            read_package(copy)
        assert info.value.element == name
        assert str(info.value) == (f"{copy}: {name}: missing: a solution source folder needs "
                                   "solution.xml, customizations.xml, [Content_Types].xml")


def test_missing_members_in_zip(tmp_path: Path) -> None:
    members = {n: (STANDIN / n).read_bytes() for n in ("solution.xml", "customizations.xml", "[Content_Types].xml")}
    for name in members:
        path = _zip(tmp_path / "p.zip", {k: v for k, v in members.items() if k != name})
        with pytest.raises(PackageError, match=re.escape(f"p.zip: {name}: missing from the zip root")):
            read_package(path)
    nested = _zip(tmp_path / "nested.zip", {f"folder/{k}": v for k, v in members.items()})
    with pytest.raises(PackageError, match=r"solution.xml: missing from the zip root"):
        read_package(nested)


def test_malformed_zip(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"this is not a zip file at all" * 10)
    with pytest.raises(PackageError, match=r"junk.zip: not a valid zip archive"):
        read_package(junk)
    good = write_package(STANDIN, tmp_path / "good.zip").read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(PackageError, match=r"cut.zip: not a valid zip archive"):
        read_package(cut)


def test_package_not_found(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match=r"package not found"):
        read_package(tmp_path / "none.zip")


MANIFEST_CASES = [
    ("bad-version", "solution.xml", "<Version>1.0.0.0</Version>", "<Version>1.0.x</Version>",
     r"solution.xml SolutionManifest/Version: '1.0.x' is not a solution version"),
    ("version-five-parts", "solution.xml", "<Version>1.0.0.0</Version>", "<Version>1.0.0.0.0</Version>",
     r"SolutionManifest/Version: '1.0.0.0.0' is not a solution version"),
    ("version-missing", "solution.xml", "<Version>1.0.0.0</Version>", "",
     r"solution.xml SolutionManifest/Version: missing or empty"),
    ("managed-2", "solution.xml", "<Managed>1</Managed>", "<Managed>2</Managed>",
     r"SolutionManifest/Managed: '2' is not allowed \(2 is a packager-only value\); allowed values: 0 \(unmanaged\), 1 \(managed\)"),
    ("managed-word", "solution.xml", "<Managed>1</Managed>", "<Managed>true</Managed>",
     r"SolutionManifest/Managed: 'true' is not allowed; allowed values: 0"),
    ("unique-name-missing", "solution.xml", "<UniqueName>bcsales_IntegrationStandIn</UniqueName>", "",
     r"solution.xml SolutionManifest/UniqueName: missing or empty"),
    ("unique-name-bad", "solution.xml", "<UniqueName>bcsales_IntegrationStandIn</UniqueName>",
     "<UniqueName>bad name</UniqueName>", r"SolutionManifest/UniqueName: 'bad name' is not a unique name"),
    ("wrong-root-solution", "solution.xml", "<ImportExportXml version", "<Solution version",
     r"solution.xml: not well-formed XML"),
    ("no-manifest", "solution.xml", "<SolutionManifest>", "<SolutionManifestX>",
     r"solution.xml: not well-formed XML: mismatched tag \(line \d+"),
    ("publisher-missing", "solution.xml", "<UniqueName>bcsalesstandin</UniqueName>", "",
     r"SolutionManifest/Publisher/UniqueName: missing or empty"),
    ("role-bad-id", "customizations.xml", 'id="{6f960e32-a72b-e511-80d9-3863bb349780}"', 'id="integration-user"',
     r"customizations.xml Roles/Role\[2\]/@id: 'integration-user' is not a GUID"),
    ("role-bad-level", "customizations.xml", '<RolePrivilege name="prvReadAccount" level="Local" />',
     '<RolePrivilege name="prvReadAccount" level="Organization" />',
     r"Roles/Role\[2\]/RolePrivileges/RolePrivilege\[1\]/@level: 'Organization' is not allowed; allowed values: Basic, Local, Deep, Global"),
    ("role-no-name", "customizations.xml", 'name="Product Availability User"', 'name=""',
     r"Roles/Role\[3\]/@name: missing or empty"),
    ("entity-no-name", "customizations.xml",
     '<Name LocalizedName="Business Central Connection" OriginalName="Business Central Connection">nav_connection</Name>',
     "", r"customizations.xml Entities/Entity\[1\]/Name: missing or empty"),
    ("content-types-root", "[Content_Types].xml", "<Types xmlns", "<Typez xmlns",
     r"\[Content_Types\].xml: not well-formed XML"),
]


@pytest.mark.parametrize(("member", "old", "new", "message"), [c[1:] for c in MANIFEST_CASES],
                         ids=[c[0] for c in MANIFEST_CASES])
def test_bad_manifest(source: Path, member: str, old: str, new: str, message: str) -> None:
    _edit(source, member, old, new)
    with pytest.raises(PackageError) as info:
        read_package(source)
    assert str(info.value).startswith(f"{source}: ")
    assert re.search(message, str(info.value)), str(info.value)


def test_wrong_root_element(source: Path) -> None:
    (source / "solution.xml").write_text('<?xml version="1.0"?><Solution><SolutionManifest/></Solution>')
    with pytest.raises(PackageError, match=r"solution.xml: root element is <Solution>, expected <ImportExportXml>"):
        read_package(source)
    shutil.copy(STANDIN / "solution.xml", source / "solution.xml")
    (source / "customizations.xml").write_text("<Customizations/>")
    with pytest.raises(PackageError, match=r"customizations.xml: root element is <Customizations>, expected <ImportExportXml>"):
        read_package(source)
    (source / "customizations.xml").write_text("<ImportExportXml/>")
    (source / "solution.xml").write_text("<ImportExportXml><Other/></ImportExportXml>")
    with pytest.raises(PackageError, match=r"solution.xml SolutionManifest: missing under <ImportExportXml>"):
        read_package(source)


def test_entity_expansion_refused(source: Path, tmp_path: Path) -> None:
    bomb = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>\n'
            "<ImportExportXml>&lol2;</ImportExportXml>")
    (source / "customizations.xml").write_text(bomb)
    with pytest.raises(PackageError, match=r"customizations.xml: contains a DTD \(line 2\); DTDs and entity declarations are refused"):
        read_package(source)
    members = {n: (STANDIN / n).read_bytes() for n in ("solution.xml", "[Content_Types].xml")}
    members["customizations.xml"] = bomb.encode()
    with pytest.raises(PackageError, match=r"contains a DTD"):
        read_package(_zip(tmp_path / "bomb.zip", members))


def test_utf16_dtd_also_refused(source: Path) -> None:
    text = '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE x SYSTEM "http://example.invalid/x.dtd"><ImportExportXml/>'
    (source / "customizations.xml").write_bytes(text.encode("utf-16"))
    with pytest.raises(PackageError, match=r"contains a DTD"):
        read_package(source)


def test_package_error_format_and_pickle() -> None:
    err = PackageError("solution/x.zip", "solution.xml SolutionManifest/Version", "bad")
    assert str(err) == "solution/x.zip: solution.xml SolutionManifest/Version: bad"
    assert str(pickle.loads(pickle.dumps(err))) == str(err)


# --- versions, discovery, the stand-in guard ----------------------------------------------------------


def test_parse_version() -> None:
    assert parse_version("9.0.2.3") == (9, 0, 2, 3)
    assert parse_version("1.2") == (1, 2, 0, 0)
    assert parse_version("1.10.0.0") > parse_version("1.9.9.9")
    for bad in ("1", "1.2.3.4.5", "a.b", "", "1..2", "-1.0"):
        with pytest.raises(ValueError, match="is not a solution version"):
            parse_version(bad)


def test_discover_packages(tmp_path: Path) -> None:
    shutil.copytree(STANDIN, tmp_path / "standin")
    (tmp_path / "vendor.zip").write_bytes(b"x")
    (tmp_path / "README.md").write_text("x")
    (tmp_path / "empty").mkdir()
    assert [p.name for p in discover_packages(tmp_path)] == ["standin", "vendor.zip"]
    assert discover_packages(tmp_path / "missing") == []
    assert [p.name for p in discover_packages(REPO / "solution")] == ["standin"]


@pytest.mark.parametrize("url", ["https://127.0.0.1:8443", "https://localhost:1/", "https://[::1]:9/", "https://127.5.6.7"])
def test_standin_importable_into_emulator(url: str) -> None:
    assert_importable(read_package(STANDIN), url)


@pytest.mark.parametrize("url", ["https://contoso.crm.dynamics.com", "https://10.0.0.5:8443", "https://localhost.evil.example",
                                 "not a url"])
def test_standin_refused_elsewhere(url: str) -> None:
    with pytest.raises(PackageError) as info:
        assert_importable(read_package(STANDIN), url)
    msg = str(info.value)
    assert "bcsales_IntegrationStandIn is the test stand-in" in msg
    assert "may only be imported into the local emulator" in msg
    assert "MicrosoftDynamicsNavIntegration" in msg


def test_vendor_package_importable_anywhere(source: Path) -> None:
    _edit(source, "solution.xml", "<UniqueName>bcsales_IntegrationStandIn</UniqueName>",
          "<UniqueName>MicrosoftDynamicsNavIntegration</UniqueName>")
    info = read_package(source)
    assert not info.is_standin
    assert_importable(info, "https://contoso.crm.dynamics.com")


def test_standin_manifest_element_order() -> None:
    """solution.xml follows the element order of an exported package (the emulator reads the same)."""
    import xml.etree.ElementTree as ET

    root = ET.parse(STANDIN / "solution.xml").getroot()
    assert root.tag == "ImportExportXml" and root.get("SolutionPackageVersion") == "9.2"
    manifest = root.find("SolutionManifest")
    assert [c.tag for c in manifest] == ["UniqueName", "LocalizedNames", "Descriptions", "Version", "Managed",
                                         "Publisher", "RootComponents", "MissingDependencies"]
    publisher = manifest.find("Publisher")
    assert [c.tag for c in publisher] == ["UniqueName", "LocalizedNames", "Descriptions", "EMailAddress",
                                          "SupportingWebsiteUrl", "CustomizationPrefix",
                                          "CustomizationOptionValuePrefix", "Addresses"]
    assert 2 <= len(publisher.findtext("CustomizationPrefix")) <= 8
    assert 10000 <= int(publisher.findtext("CustomizationOptionValuePrefix")) <= 99999
    cust = ET.parse(STANDIN / "customizations.xml").getroot()
    owners = {e.findtext("Name"): e.findtext("EntityInfo/entity/OwnershipTypeMask") for e in cust.iter("Entity")}
    assert owners == {"nav_connection": "UserOwned", "nav_accountstatistics": "UserOwned"}
