"""Dataverse solution packages: read the manifest, pack source folders deterministically, hash.

``manifest`` reads what a package says (:class:`PackageInfo`, :func:`read_package`), ``archive``
handles its bytes (packing, hashing, bounded member reads), ``xml_guard`` parses its XML with DTDs
refused, ``errors`` holds :class:`PackageError`.
"""

from infra.model.solution_package.archive import open_package, pack_source, write_package
from infra.model.solution_package.errors import PackageError
from infra.model.solution_package.manifest import (
    PackageInfo,
    PackageRole,
    assert_importable,
    discover_packages,
    is_loopback_url,
    package_privileges,
    read_package,
)

__all__ = [
    "PackageError",
    "PackageInfo",
    "PackageRole",
    "assert_importable",
    "discover_packages",
    "is_loopback_url",
    "open_package",
    "pack_source",
    "package_privileges",
    "read_package",
    "write_package",
]
