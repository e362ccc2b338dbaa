"""The bytes of a solution package: deterministic packing of source folders, hashing, member reads.

A folder is packed with sorted entries, a fixed timestamp and fixed permissions, so the same
source always gives the same bytes -- and the same SHA-256, whichever machine or checkout packs
it.  A zip is hashed while streaming it from disk (vendor zips can be large); only the small XML
members are read into memory, each bounded by :data:`MAX_XML_BYTES`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import IO, BinaryIO, Iterator

from infra.model.solution_package.errors import PackageError

__all__ = [
    "CHUNK",
    "MAX_XML_BYTES",
    "ZIP_EPOCH",
    "open_package",
    "pack_into",
    "pack_source",
    "read_member",
    "read_small_file",
    "sha256_stream",
    "write_package",
]

#: Fixed entry timestamp: the earliest a zip can store.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644  # regular file, rw-r--r--
#: Read and copy size in bytes.
CHUNK = 1024 * 1024
#: Upper bound for one XML member read into memory (customizations.xml of big solutions is tens of MB).
MAX_XML_BYTES = 256 * 1024 * 1024


def pack_source(folder: Path | str) -> bytes:
    """The deterministic zip of a source folder, in memory (source folders are small).

    Raises :class:`PackageError` for a missing or empty folder or a symbolic link in it.
    """
    folder = Path(folder)
    with tempfile.SpooledTemporaryFile(max_size=64 * CHUNK) as tmp:
        pack_into(folder, tmp)
        tmp.seek(0)
        return tmp.read()


def write_package(folder: Path | str, dest: Path | str) -> Path:
    """Pack ``folder`` into the file ``dest`` (written atomically: a temporary file, then renamed).

    Returns ``dest``; raises :class:`PackageError` like :func:`pack_source`.
    """
    folder, dest = Path(folder), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "w+b") as fh:
            pack_into(folder, fh)
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
        with tempfile.SpooledTemporaryFile(max_size=16 * CHUNK) as tmp:
            pack_into(path, tmp)
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


def pack_into(folder: Path, out: IO[bytes]) -> None:
    """Write the deterministic zip of ``folder`` to ``out`` (sorted names, fixed time and mode)."""
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
                shutil.copyfileobj(src, dst, CHUNK)


def sha256_stream(fh: IO[bytes]) -> str:
    """The SHA-256 of everything left in ``fh``, as lower-case hex, read in :data:`CHUNK` pieces."""
    digest = hashlib.sha256()
    while chunk := fh.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def read_small_file(path: Path, package: Path) -> bytes:
    """A member of a source folder, refused when larger than :data:`MAX_XML_BYTES`."""
    size = path.stat().st_size
    if size > MAX_XML_BYTES:
        raise PackageError(package, path.name, f"{size} bytes is larger than the {MAX_XML_BYTES} allowed")
    return path.read_bytes()


def read_member(zf: zipfile.ZipFile, name: str, package: Path) -> bytes:
    """A zip member, refused when larger than :data:`MAX_XML_BYTES` (declared or actual size)."""
    if zf.getinfo(name).file_size > MAX_XML_BYTES:
        raise PackageError(package, name, f"larger than the {MAX_XML_BYTES} bytes allowed")
    with zf.open(name) as fh:
        data = fh.read(MAX_XML_BYTES + 1)  # do not trust the declared size
    if len(data) > MAX_XML_BYTES:
        raise PackageError(package, name, f"larger than the {MAX_XML_BYTES} bytes allowed")
    return data
