"""Read a Dataverse solution package's manifest, pack source folders deterministically, hash packages.

``solution/`` holds either a vendor zip (Microsoft's ``MicrosoftDynamicsNavIntegration``) or an
unpacked source folder.  The SolutionImport provider keeps only the manifest facts and the SHA-256
in Pulumi state, so both must be cheap to compute and reproducible:

* a zip is hashed while streaming it from disk (vendor zips can be large); only the two small XML
  members are read into memory;
* a folder is packed with sorted entries, a fixed timestamp and fixed permissions, so the same
  source always gives the same bytes -- and the same hash, whichever machine or checkout packs it.

XML comes from files users drop into the repository, so DTDs (and with them entity expansion) are
refused before the document is parsed.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
import xml.parsers.expat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO, Iterator, Mapping
from urllib.parse import urlsplit

from infra import facts

__all__ = [
    "PackageError",
    "PackageInfo",
    "PackageRole",
    "assert_importable",
    "discover_packages",
    "open_package",
    "pack_source",
    "package_privileges",
    "parse_version",
    "read_package",
    "write_package",
]

SOLUTION_XML = "solution.xml"
CUSTOMIZATIONS_XML = "customizations.xml"
CONTENT_TYPES_XML = "[Content_Types].xml"
REQUIRED_MEMBERS = (SOLUTION_XML, CUSTOMIZATIONS_XML, CONTENT_TYPES_XML)

#: Fixed entry timestamp: the earliest a zip can store.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644  # regular file, rw-r--r--
_CHUNK = 1024 * 1024
#: Upper bound for one XML member read into memory (customizations.xml of big solutions is tens of MB).
MAX_XML_BYTES = 256 * 1024 * 1024

_VERSION = re.compile(r"^\d{1,10}(\.\d{1,10}){1,3}$")
_UNIQUE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GUID = re.compile(r"^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$")
_LEVELS = ("Basic", "Local", "Deep", "Global")


class PackageError(ValueError):
    """A package is unusable; ``str()`` reads ``solution/x.zip: solution.xml SolutionManifest/Version: ...``."""

    def __init__(self, file: Path | str, element: str | None, message: str) -> None:
        self.file = str(file)
        self.element = element
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.file}: {self.element}: {self.message}" if self.element else f"{self.file}: {self.message}"

    def __reduce__(self):
        return (type(self), (self.file, self.element, self.message))


@dataclass(frozen=True)
class PackageRole:
    """A security role the package ships (``customizations.xml`` ``Roles/Role``)."""

    role_id: str
    name: str
    privileges: Mapping[str, str] = field(default_factory=dict)  # privilege name -> depth


@dataclass(frozen=True)
class PackageInfo:
    """What the manifest says, plus the package's identity (hash and size of the bytes imported)."""

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
        return parse_version(self.version)


def parse_version(version: str) -> tuple[int, int, int, int]:
    """``"9.0.2.3"`` -> ``(9, 0, 2, 3)``; missing parts count as 0 so versions compare as tuples."""
    if not isinstance(version, str) or not _VERSION.match(version.strip()):
        raise ValueError(f"{version!r} is not a solution version (major.minor[.build[.revision]], digits only)")
    parts = [int(p) for p in version.strip().split(".")]
    return tuple(parts + [0] * (4 - len(parts)))  # type: ignore[return-value]


# --- reading ------------------------------------------------------------------------------------


def read_package(path: Path | str) -> PackageInfo:
    """Read and validate a package: a ``.zip`` file or an unpacked source folder."""
    path = Path(path)
    if path.is_dir():
        for name in REQUIRED_MEMBERS:
            if not (path / name).is_file():
                raise PackageError(path, name, "missing: a solution source folder needs " + ", ".join(REQUIRED_MEMBERS))
        solution = _read_small_file(path / SOLUTION_XML, path)
        customizations = _read_small_file(path / CUSTOMIZATIONS_XML, path)
        _parse_xml(_read_small_file(path / CONTENT_TYPES_XML, path), path, CONTENT_TYPES_XML, "Types")
        with tempfile.SpooledTemporaryFile(max_size=16 * _CHUNK) as tmp:
            _pack_into(path, tmp)
            size = tmp.tell()
            tmp.seek(0)
            digest = _sha256_stream(tmp)
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
            solution = _read_member(zf, SOLUTION_XML, path)
            customizations = _read_member(zf, CUSTOMIZATIONS_XML, path)
            _parse_xml(_read_member(zf, CONTENT_TYPES_XML, path), path, CONTENT_TYPES_XML, "Types")
    except zipfile.BadZipFile as exc:
        raise PackageError(path, None, f"not a valid zip archive ({exc})") from None
    except (zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as exc:
        raise PackageError(path, None, f"cannot read the zip archive ({type(exc).__name__}: {exc})") from None
    with path.open("rb") as fh:
        digest = _sha256_stream(fh)
    return _info(path, solution, customizations, digest, path.stat().st_size, source_folder=False)


def discover_packages(root: Path | str = "solution") -> list[Path]:
    """Packages directly under ``root``: ``*.zip`` files and folders holding a ``solution.xml``."""
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
    create look-alike tables and roles that Business Central would then trust.
    """
    if not info.is_standin:
        return
    host = urlsplit(environment_url).hostname or ""
    if _is_loopback(host):
        return
    raise PackageError(
        info.path, None,
        f"{info.unique_name} is the test stand-in, not Microsoft's integration solution; it may only be "
        f"imported into the local emulator (a loopback address), not {host or environment_url!r}. "
        f"Put the vendor package ({facts.SALES_INTEGRATION_SOLUTION}) in solution/ for a real environment.",
    )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- packing ------------------------------------------------------------------------------------


def pack_source(folder: Path | str) -> bytes:
    """The deterministic zip of a source folder, in memory (source folders are small)."""
    folder = Path(folder)
    with tempfile.SpooledTemporaryFile(max_size=64 * _CHUNK) as tmp:
        _pack_into(folder, tmp)
        tmp.seek(0)
        return tmp.read()


def write_package(folder: Path | str, dest: Path | str) -> Path:
    """Pack ``folder`` into the file ``dest`` (written atomically); returns ``dest``."""
    folder, dest = Path(folder), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "w+b") as fh:
            _pack_into(folder, fh)
        os.replace(tmp_name, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return dest


@contextlib.contextmanager
def open_package(path: Path | str) -> Iterator[BinaryIO]:
    """The bytes to import, as a seekable binary stream: the zip itself, or the folder packed."""
    path = Path(path)
    if path.is_dir():
        with tempfile.SpooledTemporaryFile(max_size=16 * _CHUNK) as tmp:
            _pack_into(path, tmp)
            tmp.seek(0)
            yield tmp  # type: ignore[misc]
    else:
        with path.open("rb") as fh:
            yield fh


def _source_files(folder: Path) -> list[tuple[str, Path]]:
    """(archive name, file) for every file under ``folder``, sorted by archive name.

    Dot files (``.DS_Store``, ``.gitkeep``) are left out; symbolic links are refused because they
    could pull in files from outside the folder.
    """
    if not folder.is_dir():
        raise PackageError(folder, None, "source folder not found")
    files: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        base = Path(dirpath)
        for d in list(dirnames):
            if (base / d).is_symlink():
                raise PackageError(base / d, None, "symbolic links are not allowed in a solution source folder")
            if d.startswith("."):
                dirnames.remove(d)
        for name in filenames:
            if name.startswith("."):
                continue
            full = base / name
            if full.is_symlink():
                raise PackageError(full, None, "symbolic links are not allowed in a solution source folder")
            files.append((full.relative_to(folder).as_posix(), full))
    files.sort(key=lambda item: item[0].encode("utf-8"))
    return files


def _pack_into(folder: Path, out: IO[bytes]) -> None:
    files = _source_files(folder)
    if not files:
        raise PackageError(folder, None, "the source folder is empty")
    with zipfile.ZipFile(out, "w") as zf:
        for arcname, full in files:
            info = zipfile.ZipInfo(arcname, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, whatever OS packs it
            info.external_attr = _FILE_MODE << 16
            info.file_size = full.stat().st_size
            with full.open("rb") as src, zf.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, _CHUNK)


def _sha256_stream(fh: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := fh.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


# --- XML ----------------------------------------------------------------------------------------


def _read_small_file(path: Path, package: Path) -> bytes:
    size = path.stat().st_size
    if size > MAX_XML_BYTES:
        raise PackageError(package, path.name, f"{size} bytes is larger than the {MAX_XML_BYTES} allowed")
    return path.read_bytes()


def _read_member(zf: zipfile.ZipFile, name: str, package: Path) -> bytes:
    if zf.getinfo(name).file_size > MAX_XML_BYTES:
        raise PackageError(package, name, f"larger than the {MAX_XML_BYTES} bytes allowed")
    with zf.open(name) as fh:
        data = fh.read(MAX_XML_BYTES + 1)  # do not trust the declared size
    if len(data) > MAX_XML_BYTES:
        raise PackageError(package, name, f"larger than the {MAX_XML_BYTES} bytes allowed")
    return data


class _DtdRefused(Exception):
    pass


def _parse_xml(data: bytes, package: Path, member: str, root_tag: str) -> ET.Element:
    """Parse one member, refusing DTDs, and check the root element."""
    guard = xml.parsers.expat.ParserCreate()

    def refuse(*_args: object) -> None:
        raise _DtdRefused()

    guard.StartDoctypeDeclHandler = refuse
    guard.EntityDeclHandler = refuse
    try:
        guard.Parse(data, True)
    except _DtdRefused:
        raise PackageError(package, member, f"contains a DTD (line {guard.CurrentLineNumber}); "
                           "DTDs and entity declarations are refused") from None
    except xml.parsers.expat.ExpatError as exc:
        raise PackageError(package, member, f"not well-formed XML: {xml.parsers.expat.errors.messages[exc.code]} "
                           f"(line {exc.lineno}, column {exc.offset})") from None
    root = ET.fromstring(data)
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.rsplit("}", 1)[1]
    if root.tag != root_tag:
        raise PackageError(package, member, f"root element is <{root.tag}>, expected <{root_tag}>")
    return root


def _text(parent: ET.Element, path: str, package: Path, member: str, where: str, *, required: bool = True) -> str:
    el = parent.find(path)
    value = (el.text or "").strip() if el is not None else ""
    if required and not value:
        raise PackageError(package, f"{member} {where}", "missing or empty")
    return value


def _info(path: Path, solution: bytes, customizations: bytes, digest: str, size: int, *,
          source_folder: bool) -> PackageInfo:
    sol = _parse_xml(solution, path, SOLUTION_XML, "ImportExportXml")
    manifest = sol.find("SolutionManifest")
    if manifest is None:
        raise PackageError(path, f"{SOLUTION_XML} SolutionManifest", "missing under <ImportExportXml>")

    unique_name = _text(manifest, "UniqueName", path, SOLUTION_XML, "SolutionManifest/UniqueName")
    if not _UNIQUE_NAME.match(unique_name):
        raise PackageError(path, f"{SOLUTION_XML} SolutionManifest/UniqueName",
                           f"{unique_name!r} is not a unique name (letters, digits, '_')")
    version = _text(manifest, "Version", path, SOLUTION_XML, "SolutionManifest/Version")
    try:
        parse_version(version)
    except ValueError as exc:
        raise PackageError(path, f"{SOLUTION_XML} SolutionManifest/Version", str(exc)) from None
    managed_text = _text(manifest, "Managed", path, SOLUTION_XML, "SolutionManifest/Managed")
    if managed_text not in ("0", "1"):
        hint = " (2 is a packager-only value)" if managed_text == "2" else ""
        raise PackageError(path, f"{SOLUTION_XML} SolutionManifest/Managed",
                           f"{managed_text!r} is not allowed{hint}; allowed values: 0 (unmanaged), 1 (managed)")
    publisher_el = manifest.find("Publisher")
    if publisher_el is None:
        raise PackageError(path, f"{SOLUTION_XML} SolutionManifest/Publisher", "missing")
    publisher = _text(publisher_el, "UniqueName", path, SOLUTION_XML, "SolutionManifest/Publisher/UniqueName")
    prefix = _text(publisher_el, "CustomizationPrefix", path, SOLUTION_XML,
                   "SolutionManifest/Publisher/CustomizationPrefix", required=False)
    friendly = ""
    for ln in manifest.findall("LocalizedNames/LocalizedName"):
        if ln.get("languagecode") == "1033" or not friendly:
            friendly = ln.get("description", "")

    cust = _parse_xml(customizations, path, CUSTOMIZATIONS_XML, "ImportExportXml")
    tables: list[str] = []
    ownership: dict[str, str] = {}
    for i, entity in enumerate(cust.findall("Entities/Entity"), 1):
        name = _text(entity, "Name", path, CUSTOMIZATIONS_XML, f"Entities/Entity[{i}]/Name")
        tables.append(name.lower())
        mask = _text(entity, "EntityInfo/entity/OwnershipTypeMask", path, CUSTOMIZATIONS_XML,
                     f"Entities/Entity[{i}]/EntityInfo/entity/OwnershipTypeMask", required=False)
        if mask in _OWNERSHIP:
            ownership[name] = _OWNERSHIP[mask]
    roles: list[PackageRole] = []
    for i, role in enumerate(cust.findall("Roles/Role"), 1):
        where = f"{CUSTOMIZATIONS_XML} Roles/Role[{i}]"
        role_id = _GUID.match(role.get("id", "").strip())
        if role_id is None:
            raise PackageError(path, f"{where}/@id", f"{role.get('id')!r} is not a GUID")
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
        roles.append(PackageRole(role_id.group(1).lower(), name, privileges))

    return PackageInfo(
        unique_name=unique_name,
        version=version,
        managed=managed_text == "1",
        publisher=publisher,
        sha256=digest,
        size=size,
        path=path,
        roles=tuple(roles),
        tables=tuple(tables),
        is_standin=unique_name.casefold() == facts.STANDIN_SOLUTION_UNIQUE_NAME.casefold(),
        friendly_name=friendly,
        publisher_prefix=prefix,
        is_source_folder=source_folder,
        table_ownership=ownership,
    )


#: customizations.xml OwnershipTypeMask -> ownership of the table's records.
_OWNERSHIP = {"UserOwned": "user", "TeamOwned": "user", "OrganizationOwned": "organization"}
#: Verbs and depths of a new table's privileges by ownership: records owned by users or teams have
#: all eight verbs at every depth; organization-owned records have no owner, so no Assign/Share,
#: and only the organization (Global) depth.
_TABLE_PRIVILEGES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "user": (facts.PRIVILEGE_VERBS, facts.DEPTHS),
    "organization": (("Create", "Read", "Write", "Delete", "Append", "AppendTo"), ("Global",)),
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
