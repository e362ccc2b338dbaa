"""Microsoft Graph's OData conventions as the emulator serves them: the success body type, the error
raised inside handlers, ``$filter`` / ``$select`` on users (the JSON body is read by payload.py).

Error codes follow Graph's; texts we could not confirm are marked GUESS.
"""

from __future__ import annotations

import re
from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..context import EmulatorContext
from .errors import GraphError
from .payload import select_names
from .store import GraphUser

DEFAULT_PAGE = 100
MAX_TOP = 999

#: Graph's success bodies: OData JSON, minimal metadata (the headers in the responses of
#: https://learn.microsoft.com/graph/json-batching).
ODATA_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
EVENTUAL = "eventual"

DEFAULT_USER_PROPS = ["businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
                      "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"]
EXTRA_USER_PROPS = ["accountEnabled", "usageLocation", "assignedLicenses", "licenseAssignmentStates", "userType",
                    "assignedPlans", "onPremisesSyncEnabled"]
FILTERABLE = {"id", "userPrincipalName", "mail", "displayName", "accountEnabled", "usageLocation"}

#: A route handler behind ``guarded``: (request, token claims) -> response.
Handler = Callable[[Request, dict[str, Any]], Awaitable[Response]]


class ODataJSONResponse(JSONResponse):
    """A Graph success body: OData minimal-metadata JSON with ``OData-Version: 4.0``."""

    media_type = ODATA_JSON

    def __init__(self, content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> None:
        super().__init__(content, status_code=status_code, headers={"OData-Version": "4.0", **(headers or {})})


#: The handlers' name for :class:`~emulator.graph.errors.GraphError` (one error, rendered once).
GraphRequestError = GraphError


# -- $filter ------------------------------------------------------------------------------------
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<punct>[(),])|(?P<word>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[A-Za-z_][\w/]*(?::[\w/]+)?))")


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise GraphRequestError(400, "BadRequest", f"Invalid filter clause: syntax error at position {pos} in '{text}'.")
        kind = m.lastgroup or ""
        value = m.group(kind)
        out.append((kind, value[1:-1].replace("''", "'") if kind == "str" else value))
        pos = m.end()
        while pos < len(text) and text[pos] == " ":
            pos += 1
    return out


def parse_filter(text: str) -> Callable[[dict[str, Any]], bool]:
    """Compile ``prop eq 'v'``, ``prop ne ...``, ``prop in ('a','b')``, ``startswith(prop,'x')``,
    ``assignedLicenses/any(x:x/skuId eq <guid>)`` joined by ``and`` / ``or`` (and binds tighter)."""
    toks = _tokens(text)
    pos = 0

    def peek() -> tuple[str, str] | None:
        return toks[pos] if pos < len(toks) else None

    def take(expected: str | None = None) -> tuple[str, str]:
        nonlocal pos
        tok = peek()
        if tok is None or (expected is not None and tok[1].lower() != expected):
            raise GraphRequestError(400, "BadRequest", f"Invalid filter clause: expected {expected or 'more input'} in '{text}'.")
        pos += 1
        return tok

    def literal() -> Any:
        kind, value = take()
        if kind == "str":
            return value
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        if value.lower() == "null":
            return None
        if re.fullmatch(r"[0-9a-fA-F-]{36}", value):
            return value.lower()
        raise GraphRequestError(400, "BadRequest", f"Invalid filter clause: '{value}' is not a literal.")

    def prop(name: str) -> str:
        if name not in FILTERABLE:
            raise GraphRequestError(400, "Request_UnsupportedQuery",  # GUESS text
                                    f"Unsupported or invalid query filter clause specified for property '{name}' of resource 'User'.")
        return name

    def comparison() -> Callable[[dict[str, Any]], bool]:
        kind, word = take()
        if kind == "punct" and word == "(":
            inner = disjunction()
            take(")")
            return inner
        if word.lower() == "startswith":
            take("(")
            name = prop(take()[1])
            take(",")
            value = literal()
            take(")")
            return lambda u: isinstance(u.get(name), str) and str(u[name]).lower().startswith(str(value).lower())
        if word.startswith("assignedLicenses/any"):
            take("(")
            _, lhs = take()
            if not lhs.endswith("/skuId") or ":" not in lhs:
                raise GraphRequestError(400, "Request_UnsupportedQuery", f"Unsupported lambda in filter '{text}'.")
            take("eq")
            sku = literal()
            take(")")
            return lambda u: any(a["skuId"] == sku for a in u.get("assignedLicenses", []))
        name = prop(word)
        _, op = take()
        op = op.lower()
        if op == "in":
            take("(")
            values = [literal()]
            while peek() and peek()[1] == ",":
                take(",")
                values.append(literal())
            take(")")
            lowered = {str(v).lower() for v in values}
            return lambda u: str(u.get(name)).lower() in lowered
        if op not in ("eq", "ne"):
            raise GraphRequestError(400, "BadRequest", f"Invalid filter clause: operator '{op}' is not supported.")
        value = literal()

        def eq(u: dict[str, Any]) -> bool:
            actual = u.get(name)
            if isinstance(actual, str) and isinstance(value, str):
                return actual.lower() == value.lower()
            return actual == value
        return eq if op == "eq" else (lambda u: not eq(u))

    def conjunction() -> Callable[[dict[str, Any]], bool]:
        parts = [comparison()]
        while peek() and peek()[1].lower() == "and":
            take()
            parts.append(comparison())
        return lambda u: all(p(u) for p in parts)

    def disjunction() -> Callable[[dict[str, Any]], bool]:
        parts = [conjunction()]
        while peek() and peek()[1].lower() == "or":
            take()
            parts.append(conjunction())
        return lambda u: any(p(u) for p in parts)

    result = disjunction()
    if pos != len(toks):
        raise GraphRequestError(400, "BadRequest", f"Invalid filter clause: unexpected '{toks[pos][1]}' in '{text}'.")
    return result


def parse_select(raw: str | None) -> list[str] | None:
    """The user properties a ``$select`` names (None when there is none); an unknown one is Graph's 400."""
    return select_names(raw, [*DEFAULT_USER_PROPS, *EXTRA_USER_PROPS], "Microsoft.DirectoryServices.User")


def project(full: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    names = select if select is not None else DEFAULT_USER_PROPS
    return {n: full[n] for n in names if n in full}


def require_user(ctx: EmulatorContext, key: str) -> GraphUser:
    """The user with this object id or user principal name, or Graph's 404."""
    user = ctx.graph.get_user(key)
    if user is None:
        raise GraphRequestError(404, "Request_ResourceNotFound",
                                f"Resource '{key}' does not exist or one of its queried reference-property objects are not present.")
    return user
