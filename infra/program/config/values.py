"""Checks of single config values, as pydantic ``Annotated`` validators.

Each check strips what a person may have typed around a value, returns it in canonical form, and
raises a :class:`~pydantic_core.PydanticCustomError` whose message says what is allowed (the
loader turns it into ``bc-sales:<key> = <value>: <message>``).  Because they are ``Annotated``
types, each config field can be validated on its own, so every bad key is reported in one run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from infra import facts
from infra.model.terms import guid, parse_version

__all__ = [
    "AuthorityHost",
    "Country",
    "EnvironmentUrl",
    "GitHubNames",
    "Guid",
    "HttpsUrl",
    "NonBlank",
    "Repository",
    "SalespersonCode",
    "SkuPartNumber",
    "SolutionVersion",
    "Upn",
    "fail",
    "guid_value",
    "sku_part_number",
]

_UPN_RE = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_SKU_RE = re.compile(r"^[A-Z0-9][A-Z0-9_]*$")
_REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_GH_NAME_RE = re.compile(r"^[A-Za-z0-9_./-]+$")


def fail(message: str) -> PydanticCustomError:
    """The error a value check raises: pydantic reports ``message`` as the problem."""
    return PydanticCustomError("bc_sales", message)


def guid_value(value: str) -> str:
    """An Entra / Dataverse id in canonical form (:func:`infra.model.terms.guid`); raises
    :func:`fail`'s error for anything else."""
    try:
        return guid(value)
    except (TypeError, ValueError):
        raise fail("expected a GUID such as 00000000-0000-0000-0000-000000000000") from None


def _https_url(value: str) -> str:
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise fail("expected an absolute https:// URL (plain http and other schemes are refused)")
    if parts.query or parts.fragment:
        raise fail("expected a URL without ?query or #fragment")
    return value


def _environment_url(value: str) -> str:
    value = _https_url(value)
    if urlsplit(value).path not in ("", "/"):
        raise fail("expected the environment's base URL without a path, e.g. https://contoso.crm.dynamics.com")
    return value


def _authority_host(value: str) -> str:
    key = value.strip().lower()
    if key in facts.AUTHORITY_HOSTS:
        return facts.AUTHORITY_HOSTS[key]
    try:
        return _https_url(value)
    except PydanticCustomError:
        raise fail(
            "expected one of " + ", ".join(facts.AUTHORITY_HOSTS) + " or an https:// URL of the sign-in host"
        ) from None


def _matching(pattern: re.Pattern[str], message: str) -> Callable[[str], str]:
    """A check that strips the value and refuses it with ``message`` unless ``pattern`` matches."""

    def check(value: str) -> str:
        value = value.strip()
        if not pattern.match(value):
            raise fail(message)
        return value

    return check


_upn = _matching(_UPN_RE, "expected a user principal name such as someone@contoso.onmicrosoft.com")
_sku = _matching(_SKU_RE, "expected a licence SKU part number such as DYN365_ENTERPRISE_SALES (capitals, digits, _)")
_repository = _matching(_REPO_RE, "expected owner/repository, e.g. contoso/bc-sales")


def _country(value: str) -> str:
    value = value.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", value):
        raise fail("expected a two-letter ISO 3166 country code such as US, GB, DE")
    if value not in facts.ISO_3166_ALPHA2:
        hint = " (the United Kingdom is GB)" if value == "UK" else ""
        raise fail(f"{value} is not an ISO 3166-1 alpha-2 country code{hint}; expected one such as US, GB, DE")
    return value


def sku_part_number(value: str) -> str:
    """A licence SKU part number (``DYN365_ENTERPRISE_SALES``): capitals, digits and ``_``; raises
    :func:`fail`'s error for anything else."""
    return _sku(value)


def _salesperson_code(value: str) -> str:
    value = value.strip().upper()
    if not value or len(value) > 20:
        raise fail("expected Business Central's salesperson code (1-20 characters, e.g. JR); "
                   "Business Central stores codes in capitals")
    return value


def _solution_version(value: str) -> str:
    value = value.strip()
    if value:
        try:
            parse_version(value)
        except ValueError:
            raise fail("expected a solution version such as 9.0.0.0 (major.minor[.build[.revision]], digits only) "
                       "or empty for any version") from None
    return value


def _non_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise fail("must not be empty")
    return value


def _gh_names(values: list[str]) -> list[str]:
    for v in values:
        if not _GH_NAME_RE.match(v):
            raise fail(f"{v!r} is not a GitHub environment or branch name (letters, digits, . _ - /)")
    if len(set(values)) != len(values):
        raise fail("lists a name twice")
    return values


#: An Entra / Dataverse id, lower case without braces.
Guid = Annotated[str, AfterValidator(guid_value)]
#: A user principal name (``someone@contoso.onmicrosoft.com``).
Upn = Annotated[str, AfterValidator(_upn)]
#: A licence SKU part number.
SkuPartNumber = Annotated[str, AfterValidator(sku_part_number)]
#: Any text but blanks, stripped.
NonBlank = Annotated[str, AfterValidator(_non_blank)]
#: An absolute https:// URL without query or fragment, no trailing slash.
HttpsUrl = Annotated[str, AfterValidator(_https_url)]
#: A Dataverse environment's base URL (https, no path).
EnvironmentUrl = Annotated[str, AfterValidator(_environment_url)]
#: ``public``/``usgov``/``china`` (expanded to the sign-in host) or an https:// URL.
AuthorityHost = Annotated[str, AfterValidator(_authority_host)]
#: An ISO 3166-1 alpha-2 country code, upper case (Entra's ``usageLocation``).
Country = Annotated[str, AfterValidator(_country)]
#: A Business Central salesperson code, upper case, 1-20 characters.
SalespersonCode = Annotated[str, AfterValidator(_salesperson_code)]
#: ``major.minor[.build[.revision]]`` or empty for any version.
SolutionVersion = Annotated[str, AfterValidator(_solution_version)]
#: ``owner/repository`` on GitHub.
Repository = Annotated[str, AfterValidator(_repository)]
#: GitHub environment or branch names, none twice.
GitHubNames = Annotated[list[str], AfterValidator(_gh_names)]
