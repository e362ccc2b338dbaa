"""Parsing the package's XML members safely: DTDs (and with them entity expansion) are refused.

The XML comes from files users drop into the repository, so a document type declaration is
refused before :mod:`xml.etree.ElementTree` sees the document ("XML vulnerabilities", Python docs).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import xml.parsers.expat
from pathlib import Path

from infra.model.solution_package.errors import PackageError

__all__ = ["parse_xml", "text_of"]


class _DtdRefused(Exception):
    pass


def parse_xml(data: bytes, package: Path, member: str, root_tag: str) -> ET.Element:
    """Parse one member with namespaces stripped from tags; its root must be ``<root_tag>``.

    Raises :class:`PackageError` for a DTD or entity declaration, malformed XML (with line and
    column) or another root element.
    """
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


def text_of(parent: ET.Element, path: str, package: Path, member: str, where: str, *, required: bool = True) -> str:
    """The stripped text at ``path`` under ``parent`` (``""`` when absent and not ``required``).

    Raises :class:`PackageError` naming ``member`` and ``where`` when required and missing or empty.
    """
    el = parent.find(path)
    value = (el.text or "").strip() if el is not None else ""
    if required and not value:
        raise PackageError(package, f"{member} {where}", "missing or empty")
    return value
