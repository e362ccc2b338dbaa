"""Build a large, valid-looking solution package for the peak-RSS measurement.

Why random filler: a package of zeros compresses to almost nothing, so a client that accidentally
holds the compressed bytes would look cheap. Random bytes stored uncompressed make the zip as big
as its content, which is what a real package with web resources and assemblies looks like to
memory accounting.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

CHUNK = 1 << 20  # 1 MiB: small enough never to hold the filler in memory at once

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="xml" ContentType="application/octet-stream" />'
    '<Default Extension="bin" ContentType="application/octet-stream" />'
    "</Types>"
)

FILLER_MEMBER = "WebResources/bench_filler.bin"


def _manifest_members(source: Path) -> dict[str, bytes]:
    """Read solution.xml and customizations.xml from an unpacked source folder or a zip."""
    names = ("solution.xml", "customizations.xml")
    if source.is_dir():
        return {n: (source / n).read_bytes() for n in names}
    with zipfile.ZipFile(source) as zf:
        return {n: zf.read(n) for n in names}


def write_large_package(source: Path, target: Path, size_bytes: int = 100 * 1000 * 1000) -> Path:
    """Write ``target``: the manifest of ``source`` plus an incompressible filler member.

    ``size_bytes`` is the size of the filler (the zip is a few KB larger). The filler is written
    in 1 MiB chunks so this generator itself stays small in memory.
    """
    members = _manifest_members(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        for name, data in members.items():
            zf.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
        info = zipfile.ZipInfo(FILLER_MEMBER, date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_STORED
        with zf.open(info, "w", force_zip64=True) as out:
            remaining = size_bytes
            while remaining > 0:
                n = min(CHUNK, remaining)
                out.write(os.urandom(n))
                remaining -= n
    return target
