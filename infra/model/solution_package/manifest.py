"""What a solution package says about itself: :class:`PackageInfo` from its manifest and hash.

``solution/`` holds either a vendor zip (Microsoft's ``MicrosoftDynamicsNavIntegration``) or an
unpacked source folder.  The SolutionImport provider keeps only the manifest facts and the SHA-256
in Pulumi state, so both must be cheap to compute and reproducible (see
:mod:`infra.model.solution_package.archive`).  The members and elements read are those of the
solution file format ("Solution concepts" and "SolutionPackager" in the Power Platform ALM docs):
``solution.xml`` ``SolutionManifest``, ``customizations.xml`` ``Entities`` and ``Roles``.
"""

from __future__ import annotations

import ipaddress
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from xml.etree.ElementTree import Element
from urllib.parse import urlsplit

from infra import facts
from infra.model.solution_package.archive import (
    CHUNK,
    pack_into,
    read_member,
    read_small_file,
    sha256_stream,
)
from infra.model.solution_package.errors import PackageError
from infra.model.solution_package.xml_guard import parse_xml, text_of
from infra.model.terms import PrivilegeDepth, guid, parse_version

__all__ = [
    "CONTENT_TYPES_XML",
    "CUSTOMIZATIONS_XML",
    "REQUIRED_MEMBERS",
    "SOLUTION_XML",
    "PackageInfo",
    "PackageRole",
    "assert_importable",
    "discover_packages",
    "is_loopback_url",
    "package_privileges",
    "read_package",
]

SOLUTION_XML = "solution.xml"
CUSTOMIZATIONS_XML = "customizations.xml"
CONTENT_TYPES_XML = "[Content_Types].xml"
REQUIRED_MEMBERS = (SOLUTION_XML, CUSTOMIZATIONS_XML, CONTENT_TYPES_XML)

_UNIQUE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: RolePrivilege/@level values: the Web API names of the four role depths, exact case.
_LEVELS = tuple(d.value for d in PrivilegeDepth.role_depths())


@dataclass(frozen=True)
class PackageRole:
    """A security role the package ships (``customizations.xml`` ``Roles/Role``).

    ``role_id`` is the canonical GUID, ``privileges`` privilege name -> depth (``Basic`` .. ``Global``).
    """

    role_id: str
    name: str
    privileges: Mapping[str, str] = field(default_factory=dict)  # privilege name -> depth


@dataclass(frozen=True)
class PackageInfo:
    """What the manifest says, plus the package's identity (hash and size of the bytes imported).

    ``sha256`` is lower-case hex of the zip (a folder: of its deterministic packing), ``size`` in
    bytes, ``tables`` the logical names of the tables the package declares (lower case).
    """

    unique_name: str
    version: str
    managed: bool
    publisher: str
    sha256: str
    size: int
    path: Path
    roles: tuple[PackageRole, ...]
    tables: tuple[str, ...]
    is_standin: bool
    friendly_name: str = ""
    publisher_prefix: str = ""
    is_source_folder: bool = False
    #: table name as written in customizations.xml (the privilege stem) -> "user" | "organization"
    table_ownership: Mapping[str, str] = field(default_factory=dict)

    @property
    def version_tuple(self) -> tuple[int, ...]:
        """The version as four integers (:func:`~infra.model.terms.parse_version`), for comparing."""
        return parse_version(self.version)


# --- reading ------------------------------------------------------------------------------------


def read_package(path: Path | str) -> PackageInfo:
    """Read and validate a package: a ``.zip`` file or an unpacked source folder.

    Raises :class:`PackageError` naming the member and element at fault (missing members, a DTD,
    malformed XML, a bad version or GUID, an unknown privilege level).
    """
    path = Path(path)
    if path.is_dir():
        for name in REQUIRED_MEMBERS:
            if not (path / name).is_file():
                raise PackageError(path, name, "missing: a solution source folder needs " + ", ".join(REQUIRED_MEMBERS))
        solution = read_small_file(path / SOLUTION_XML, path)
        customizations = read_small_file(path / CUSTOMIZATIONS_XML, path)
        parse_xml(read_small_file(path / CONTENT_TYPES_XML, path), path, CONTENT_TYPES_XML, "Types")
        with tempfile.SpooledTemporaryFile(max_size=16 * CHUNK) as tmp:
            pack_into(path, tmp)
            size = tmp.tell()
            tmp.seek(0)
            digest = sha256_stream(tmp)
        return _info(path, solution, customizations, digest, size, source_folder=True)
    if not path.is_file():
        raise PackageError(path, None, "package not found (expected a .zip file or a folder with solution.xml)")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            for name in REQUIRED_MEMBERS:
                if name not in names:
                    raise PackageError(path, name, "missing from the zip root: a solution package needs "
                                       + ", ".join(REQUIRED_MEMBERS))
            solution = read_member(zf, SOLUTION_XML, path)
            customizations = read_member(zf, CUSTOMIZATIONS_XML, path)
            parse_xml(read_member(zf, CONTENT_TYPES_XML, path), path, CONTENT_TYPES_XML, "Types")
    except zipfile.BadZipFile as exc:
        raise PackageError(path, None, f"not a valid zip archive ({exc})") from None
    except (zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as exc:
        raise PackageError(path, None, f"cannot read the zip archive ({type(exc).__name__}: {exc})") from None
    with path.open("rb") as fh:
        digest = sha256_stream(fh)
    return _info(path, solution, customizations, digest, path.stat().st_size, source_folder=False)


def discover_packages(root: Path | str = "solution") -> list[Path]:
    """Packages directly under ``root``: ``*.zip`` files and folders holding a ``solution.xml``.

    Sorted by name; empty when ``root`` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    found = [
        p for p in root.iterdir()
        if not p.name.startswith(".")
        and ((p.is_file() and p.suffix.lower() == ".zip") or (p.is_dir() and (p / SOLUTION_XML).is_file()))
    ]
    return sorted(found, key=lambda p: p.name)


def assert_importable(info: PackageInfo, environment_url: str) -> None:
    """Refuse to send the stand-in anywhere but the local emulator (a loopback host).

    The stand-in only imitates Microsoft's solution; imported into a real environment it would
    create look-alike tables and roles that Business Central would then trust.  Raises
    :class:`PackageError` for the stand-in and a non-loopback ``environment_url``.
    """
    if not info.is_standin:
        return
    if is_loopback_url(environment_url):
        return
    host = urlsplit(environment_url).hostname or ""
    raise PackageError(
        info.path, None,
        f"{info.unique_name} is the test stand-in, not Microsoft's integration solution; it may only be "
        f"imported into the local emulator (a loopback address), not {host or environment_url!r}. "
        f"Put the vendor package ({facts.SALES_INTEGRATION_SOLUTION}) in solution/ for a real environment.",
    )


def is_loopback_url(url: str) -> bool:
    """Whether ``url``'s host is this machine: ``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    host = urlsplit(url).hostname or ""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- the manifest -------------------------------------------------------------------------------


def _info(path: Path, solution: bytes, customizations: bytes, digest: str, size: int, *,
          source_folder: bool) -> PackageInfo:
    sol = parse_xml(solution, path, SOLUTION_XML, "ImportExportXml")
    manifest = sol.find("SolutionManifest")
    if manifest is None:
        raise PackageError(path, f"{SOLUTION_XML} SolutionManifest", "missing under <ImportExportXml>")

    unique_name = text_of(manifest, "UniqueName", path, SOLUTION_XML, "SolutionManifest/UniqueName")
    if not _UNIQUE_NAME.match(unique_name):
        raise PackageError(path, f"{SOLUTION_XML} SolutionManifest/UniqueName",
                           f"{unique_name!r} is not a unique name (letters, digits, '_')")
    version = text_of(manifest, "Version", path, SOLUTION_XML, "SolutionManifest/Version")
    try:
        parse_version(version)
    except ValueError:
        raise PackageError(path, f"{SOLUTION_XML} SolutionManifest/Version",
                           f"{version!r} is not a solution version (major.minor[.build[.revision]], digits only)"
                           ) from None
    managed_text = text_of(manifest, "Managed", path, SOLUTION_XML, "SolutionManifest/Managed")
    if managed_text not in ("0", "1"):
        hint = " (2 is a packager-only value)" if managed_text == "2" else ""
        raise PackageError(path, f"{SOLUTION_XML} SolutionManifest/Managed",
                           f"{managed_text!r} is not allowed{hint}; allowed values: 0 (unmanaged), 1 (managed)")
    publisher_el = manifest.find("Publisher")
    if publisher_el is None:
        raise PackageError(path, f"{SOLUTION_XML} SolutionManifest/Publisher", "missing")
    publisher = text_of(publisher_el, "UniqueName", path, SOLUTION_XML, "SolutionManifest/Publisher/UniqueName")
    prefix = text_of(publisher_el, "CustomizationPrefix", path, SOLUTION_XML,
                     "SolutionManifest/Publisher/CustomizationPrefix", required=False)
    friendly = ""
    for ln in manifest.findall("LocalizedNames/LocalizedName"):
        if ln.get("languagecode") == "1033" or not friendly:
            friendly = ln.get("description", "")

    cust = parse_xml(customizations, path, CUSTOMIZATIONS_XML, "ImportExportXml")
    tables: list[str] = []
    ownership: dict[str, str] = {}
    for i, entity in enumerate(cust.findall("Entities/Entity"), 1):
        name = text_of(entity, "Name", path, CUSTOMIZATIONS_XML, f"Entities/Entity[{i}]/Name")
        tables.append(name.lower())
        mask = text_of(entity, "EntityInfo/entity/OwnershipTypeMask", path, CUSTOMIZATIONS_XML,
                       f"Entities/Entity[{i}]/EntityInfo/entity/OwnershipTypeMask", required=False)
        if mask in _OWNERSHIP:
            ownership[name] = _OWNERSHIP[mask]
    roles = tuple(_role(path, role, i) for i, role in enumerate(cust.findall("Roles/Role"), 1))

    return PackageInfo(
        unique_name=unique_name,
        version=version,
        managed=managed_text == "1",
        publisher=publisher,
        sha256=digest,
        size=size,
        path=path,
        roles=roles,
        tables=tuple(tables),
        is_standin=unique_name.casefold() == facts.STANDIN_SOLUTION_UNIQUE_NAME.casefold(),
        friendly_name=friendly,
        publisher_prefix=prefix,
        is_source_folder=source_folder,
        table_ownership=ownership,
    )


def _role(path: Path, role: Element, index: int) -> PackageRole:  # an element Roles/Role
    where = f"{CUSTOMIZATIONS_XML} Roles/Role[{index}]"
    try:
        role_id = guid(role.get("id", "").strip())
    except ValueError:
        raise PackageError(path, f"{where}/@id", f"{role.get('id')!r} is not a GUID") from None
    name = role.get("name", "").strip()
    if not name:
        raise PackageError(path, f"{where}/@name", "missing or empty")
    privileges: dict[str, str] = {}
    for j, rp in enumerate(role.findall("RolePrivileges/RolePrivilege"), 1):
        pname, level = rp.get("name", "").strip(), rp.get("level", "").strip()
        if not pname:
            raise PackageError(path, f"{where}/RolePrivileges/RolePrivilege[{j}]/@name", "missing or empty")
        if level not in _LEVELS:
            raise PackageError(path, f"{where}/RolePrivileges/RolePrivilege[{j}]/@level",
                               f"{level!r} is not allowed; allowed values: {', '.join(_LEVELS)}")
        privileges[pname] = level
    return PackageRole(role_id, name, privileges)


# --- the privileges an import creates -------------------------------------------------------------

#: customizations.xml OwnershipTypeMask -> ownership of the table's records.
_OWNERSHIP = {"UserOwned": "user", "TeamOwned": "user", "OrganizationOwned": "organization"}
#: Verbs and depths of a new table's privileges by ownership: records owned by users or teams have
#: all eight verbs at every depth; organization-owned records have no owner, so no Assign/Share,
#: and only the organization (Global) depth.
_TABLE_PRIVILEGES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "user": (facts.PRIVILEGE_VERBS, _LEVELS),
    "organization": (("Create", "Read", "Write", "Delete", "Append", "AppendTo"), (PrivilegeDepth.GLOBAL.value,)),
}


def package_privileges(info: PackageInfo) -> dict[str, tuple[str, ...]]:
    """Privileges the import of ``info`` creates: ``prv<Verb><table>`` -> allowed depths.

    Dataverse creates a table's privileges when the table is created, named after the table's
    schema name (``customizations.xml`` ``Entities/Entity/Name``); a first deployment's preview
    checks role files against these before the solution is in the environment."""
    out: dict[str, tuple[str, ...]] = {}
    for table, ownership in info.table_ownership.items():
        verbs, depths = _TABLE_PRIVILEGES[ownership]
        for verb in verbs:
            out[f"prv{verb}{table}"] = tuple(depths)
    return out
