"""Read what an import needs from a solution package zip: manifest, roles, tables.

The emulator really reads the zip so that a broken package fails here the way it fails in
Dataverse, and an imported package creates exactly the roles and table privileges it carries.
"""

from __future__ import annotations

import re
import zipfile
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, IO

from .errors import IMPORT_FILE_INVALID, DataverseError

_VERSION = re.compile(r"^\d+(\.\d+){1,3}$")
REQUIRED_ENTRIES = ("solution.xml", "customizations.xml", "[Content_Types].xml")


@dataclass
class PackageRole:
    id: str
    name: str
    privileges: dict[str, str] = field(default_factory=dict)   # privilege name -> level
    customizable: bool = True                                   # <IsCustomizable> (default 1)


@dataclass
class PackageInfo:
    unique_name: str
    friendly_name: str
    version: str
    managed: bool
    publisher: str
    roles: list[PackageRole] = field(default_factory=list)
    tables: dict[str, str] = field(default_factory=dict)        # schema name -> "user" | "organization"
    missing_dependencies: list[dict[str, Any]] = field(default_factory=list)
    size: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PackageInfo":
        d = dict(d)
        d["roles"] = [PackageRole(**r) for r in d.get("roles", [])]
        return cls(**d)


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def invalid(message: str) -> DataverseError:
    return DataverseError(400, IMPORT_FILE_INVALID, message)


def _strip_ns(root: ET.Element) -> ET.Element:
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]
    return root


def _parse_xml(zf: zipfile.ZipFile, name: str) -> ET.Element:
    try:
        with zf.open(name) as fh:
            return _strip_ns(ET.parse(fh).getroot())
    except ET.ParseError as exc:
        raise invalid(f"The solution file is invalid: {name} is not well-formed XML ({exc}).") from None


def read_package(source: str | Path | IO[bytes], size: int = 0) -> PackageInfo:
    """Parse a solution zip (a path or a binary file object); raise DataverseError(400) if invalid."""
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise invalid("The solution file is invalid. The compressed file must be a zip file containing "
                      f"{', '.join(REQUIRED_ENTRIES)} at its root.") from None
    with zf:
        names = set(zf.namelist())
        missing = [n for n in ("solution.xml", "customizations.xml") if n not in names]
        if missing:
            raise invalid(f"The solution file is invalid. The compressed file must contain {', '.join(REQUIRED_ENTRIES)} "
                          f"at its root; missing: {', '.join(missing)}.")
        manifest = _parse_xml(zf, "solution.xml").find("SolutionManifest")
        if manifest is None:
            raise invalid("The solution file is invalid: solution.xml has no ImportExportXml/SolutionManifest.")
        info = _manifest(manifest)
        _customizations(_parse_xml(zf, "customizations.xml"), info)
    info.size = size
    return info


def _text(el: ET.Element, path: str) -> str:
    found = el.find(path)
    return (found.text or "").strip() if found is not None and found.text else ""


def _manifest(m: ET.Element) -> PackageInfo:
    unique = _text(m, "UniqueName")
    if not unique:
        raise invalid("The solution file is invalid: solution.xml has no SolutionManifest/UniqueName.")
    version = _text(m, "Version")
    if not _VERSION.match(version):
        raise invalid(f"The solution file is invalid: Version {version!r} is not major.minor[.build[.revision]].")
    managed = _text(m, "Managed")
    if managed not in ("0", "1"):
        raise invalid(f"The solution file is invalid: Managed {managed!r} must be 0 or 1.")
    friendly_el = m.find("LocalizedNames/LocalizedName")
    friendly = friendly_el.get("description", unique) if friendly_el is not None else unique
    deps = []
    for md in m.findall("MissingDependencies/MissingDependency"):
        req = md.find("Required")
        if req is None:
            continue
        sol = req.get("solution", "")
        deps.append({"RequiredComponentSchemaName": req.get("schemaName") or req.get("id"),
                     "RequiredComponentType": int(req.get("type", "0") or 0),
                     "RequiredSolutionName": sol.split(" (")[0].strip(),
                     "RequiredComponentDisplayName": req.get("displayName")})
    return PackageInfo(unique_name=unique, friendly_name=friendly, version=version, managed=managed == "1",
                       publisher=_text(m, "Publisher/UniqueName"), missing_dependencies=deps)


def _customizations(root: ET.Element, info: PackageInfo) -> None:
    for ent in root.findall("Entities/Entity"):
        schema = _text(ent, "Name")
        mask = _text(ent, "EntityInfo/entity/OwnershipTypeMask")
        if not schema:
            raise invalid("The solution file is invalid: customizations.xml has an Entity without Name.")
        if mask not in ("UserOwned", "OrganizationOwned"):
            raise invalid(f"The solution file is invalid: entity {schema} has OwnershipTypeMask {mask!r} "
                          "(expected UserOwned or OrganizationOwned).")
        info.tables[schema] = "user" if mask == "UserOwned" else "organization"
    for role in root.findall("Roles/Role"):
        rid = (role.get("id") or "").strip("{}").lower()
        name = role.get("name") or ""
        if not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", rid) or not name:
            raise invalid(f"The solution file is invalid: Role id={role.get('id')!r} name={name!r} needs a GUID id and a name.")
        privs = {}
        for rp in role.findall("RolePrivileges/RolePrivilege"):
            level = rp.get("level", "")
            if level not in ("Basic", "Local", "Deep", "Global"):
                raise invalid(f"The solution file is invalid: role {name}: RolePrivilege {rp.get('name')} "
                              f"has level {level!r} (allowed: Basic, Local, Deep, Global).")
            privs[rp.get("name", "")] = level
        customizable = _text(role, "IsCustomizable") != "0"
        info.roles.append(PackageRole(rid, name, privs, customizable))
