"""OData query options as Dataverse implements them: $select, $filter, $expand, $top, $orderby,
paging with ``Prefer: odata.maxpagesize`` and an opaque ``$skiptoken``.

Strict on purpose: unknown properties, unsupported options ($skip) and operand type mismatches
(a GUID property compared with a quoted string) are refused with 400 as the service does.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import NOT_SUPPORTED, ODATA_QUERY, DataverseError, bad_property
from .schema import BOOL, GUID, INT, STRING, EntityType

Record = dict[str, Any]
Predicate = Callable[[Record], bool]

_GUID_RE = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_TOKEN = re.compile(
    rf"\s*(?:(?P<guid>{_GUID_RE})(?![\w-])|(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)(?![\w.])"
    r"|(?P<punct>[(),\[\]=])|(?P<ident>[A-Za-z_@$][\w.@$/]*))"
)
_COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}
MAX_PAGE_SIZE = 5000
ALLOWED_OPTIONS = {"$select", "$filter", "$expand", "$top", "$orderby", "$count", "$skiptoken"}


def query_error(message: str) -> DataverseError:
    return DataverseError(400, ODATA_QUERY, message)


# -- $select -----------------------------------------------------------------------------------
def parse_select(entity: EntityType, value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [n.strip() for n in value.split(",") if n.strip()]
    for name in names:
        if name not in entity.properties:
            raise bad_property(entity.logical_name, name)
    return names


# -- $filter -----------------------------------------------------------------------------------
@dataclass
class _Lit:
    kind: str   # guid, string, number, null, bool
    value: Any


def _tokenize(text: str) -> list[tuple[str, str]]:
    pos, out = 0, []
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise query_error(f"Syntax error at position {pos} in '{text}'.")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _FilterParser:
    def __init__(self, entity: EntityType, text: str) -> None:
        self.entity, self.text = entity, text
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (expected is not None and tok[1] != expected):
            raise query_error(f"Syntax error in $filter '{self.text}': expected {expected or 'more input'}.")
        self.i += 1
        return tok

    def parse(self) -> Predicate:
        pred = self.or_expr()
        if self.peek() is not None:
            raise query_error(f"Syntax error in $filter '{self.text}' at '{self.peek()[1]}'.")
        return pred

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.peek() and self.peek()[1] == "or":
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda r, ps=parts: any(p(r) for p in ps))

    def and_expr(self) -> Predicate:
        parts = [self.unary()]
        while self.peek() and self.peek()[1] == "and":
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda r, ps=parts: all(p(r) for p in ps))

    def unary(self) -> Predicate:
        tok = self.peek()
        if tok and tok[1] == "not":
            self.take()
            inner = self.unary()
            return lambda r: not inner(r)
        if tok and tok[1] == "(":
            self.take("(")
            inner = self.or_expr()
            self.take(")")
            return inner
        if tok and tok[0] == "ident" and self.i + 1 < len(self.tokens) and self.tokens[self.i + 1][1] == "(":
            return self.function()
        return self.comparison()

    def property(self, name: str) -> tuple[str, str]:
        """(record key, Edm type) of a property named in a filter; lookups by navigation name."""
        if name in self.entity.properties:
            return name, self.entity.properties[name]
        value_prop = self.entity.lookup_for(name)
        if value_prop:
            return value_prop, GUID
        raise bad_property(self.entity.logical_name, name)

    def literal(self) -> _Lit:
        kind, text = self.take()
        if kind == "guid":
            return _Lit("guid", text.lower())
        if kind == "str":
            return _Lit("string", text[1:-1].replace("''", "'"))
        if kind == "num":
            return _Lit("number", float(text) if "." in text else int(text))
        if kind == "ident" and text in ("null", "true", "false"):
            return _Lit("null", None) if text == "null" else _Lit("bool", text == "true")
        raise query_error(f"Syntax error in $filter '{self.text}': '{text}' is not a literal.")

    def comparison(self) -> Predicate:
        kind, name = self.take()
        if kind != "ident":
            raise query_error(f"Syntax error in $filter '{self.text}' at '{name}'.")
        key, edm = self.property(name)
        _, op = self.take()
        if op not in _COMPARE:
            raise query_error(f"Syntax error in $filter '{self.text}': unknown operator '{op}'.")
        lit = self.literal()
        _check_types(edm, lit, op)
        return _compare_fn(key, edm, op, lit)

    def function(self) -> Predicate:
        _, name = self.take()
        self.take("(")
        if name == "Microsoft.Dynamics.CRM.In":
            args: dict[str, Any] = {}
            while True:
                _, arg = self.take()
                self.take("=")
                if self.peek() and self.peek()[1] == "[":
                    self.take("[")
                    values = []
                    while self.peek() and self.peek()[1] != "]":
                        values.append(self.literal())
                        if self.peek() and self.peek()[1] == ",":
                            self.take(",")
                    self.take("]")
                    args[arg] = values
                else:
                    args[arg] = self.literal()
                if self.peek() and self.peek()[1] == ",":
                    self.take(",")
                    continue
                break
            self.take(")")
            prop, values = args.get("PropertyName"), args.get("PropertyValues")
            if not isinstance(prop, _Lit) or prop.kind != "string" or not isinstance(values, list):
                raise query_error("Microsoft.Dynamics.CRM.In needs PropertyName='<name>' and PropertyValues=[...].")
            key, edm = self.property(prop.value)
            wanted = {_norm(edm, v.value) for v in values}
            return lambda r: _norm(edm, r.get(key)) in wanted
        if name in ("contains", "startswith", "endswith"):
            _, pname = self.take()
            key, edm = self.property(pname)
            self.take(",")
            lit = self.literal()
            self.take(")")
            if edm != STRING or lit.kind != "string":
                raise query_error(f"{name} needs a string property and a string literal.")
            needle = lit.value.casefold()
            test = {"contains": lambda s: needle in s, "startswith": lambda s: s.startswith(needle),
                    "endswith": lambda s: s.endswith(needle)}[name]
            return lambda r: isinstance(r.get(key), str) and test(r[key].casefold())
        raise DataverseError(501, NOT_SUPPORTED, f"The function '{name}' is not supported by the emulator.")


_EDM_OF_LIT = {"guid": GUID, "string": STRING, "bool": BOOL}


def _check_types(edm: str, lit: _Lit, op: str) -> None:
    if lit.kind == "null":
        return
    ok = {GUID: ("guid",), STRING: ("string",), INT: ("number",), BOOL: ("bool",)}.get(edm, ("string", "number"))
    if lit.kind not in ok:
        found = _EDM_OF_LIT.get(lit.kind, "Edm.Int32" if lit.kind == "number" else "Edm.String")
        opname = {"eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual",
                  "lt": "LessThan", "le": "LessThanOrEqual"}[op]
        raise query_error("A binary operator with incompatible types was detected. Found operand types "
                          f"'{edm}' and '{found}' for operator kind '{opname}'.")


def _norm(edm: str, value: Any) -> Any:
    if value is None:
        return None
    if edm == GUID:
        return str(value).lower()
    if edm == STRING:
        return str(value).casefold()   # Dataverse string comparison is case-insensitive
    if edm == INT:
        try:
            return int(value)
        except (TypeError, ValueError):
            return value
    if edm == BOOL and isinstance(value, str):
        return value.lower() == "true"
    return value


def _compare_fn(key: str, edm: str, op: str, lit: _Lit) -> Predicate:
    want = _norm(edm, lit.value)

    def pred(r: Record) -> bool:
        have = _norm(edm, r.get(key))
        if op == "eq":
            return have == want
        if op == "ne":
            return have != want
        if have is None or want is None:
            return False
        return {"gt": have > want, "ge": have >= want, "lt": have < want, "le": have <= want}[op]
    return pred


def parse_filter(entity: EntityType, text: str | None) -> Predicate:
    if not text:
        return lambda r: True
    return _FilterParser(entity, text).parse()


# -- $expand -----------------------------------------------------------------------------------
@dataclass
class Expand:
    navigation: str
    select: list[str] | None = None
    filter: str | None = None


def parse_expand(entity: EntityType, text: str | None, sets: dict[str, EntityType]) -> list[Expand]:
    if not text:
        return []
    out: list[Expand] = []
    for part in _split_top(text):
        m = re.fullmatch(r"\s*([\w]+)\s*(?:\((.*)\))?\s*", part)
        if not m:
            raise query_error(f"Syntax error in $expand '{text}'.")
        nav_name, inner = m.group(1), m.group(2)
        nav = entity.navigations.get(nav_name)
        if nav is None:
            raise bad_property(entity.logical_name, nav_name)
        exp = Expand(nav_name)
        target = sets.get(nav.target)
        for opt in _split_top(inner or "", sep=";"):
            if not opt.strip():
                continue
            k, _, v = opt.partition("=")
            k = k.strip()
            if k == "$select" and target is not None:
                exp.select = parse_select(target, v)
            elif k == "$filter" and target is not None:
                parse_filter(target, v)  # validate now
                exp.filter = v
            else:
                raise query_error(f"The query option '{k}' is not supported inside $expand.")
        out.append(exp)
    return out


def _split_top(text: str, sep: str = ",") -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return parts


# -- whole query -------------------------------------------------------------------------------
@dataclass
class Query:
    select: list[str] | None = None
    predicate: Predicate = field(default=lambda r: True)
    expand: list[Expand] = field(default_factory=list)
    top: int | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)
    count: bool = False
    offset: int = 0


def parse_query(entity: EntityType, params: dict[str, str], sets: dict[str, EntityType],
                *, collection: bool = True) -> Query:
    for key in params:
        if key == "$skip":
            raise DataverseError(400, NOT_SUPPORTED, "The query parameter $skip is not supported.")
        if key.startswith("$") and key not in ALLOWED_OPTIONS:
            raise DataverseError(400, NOT_SUPPORTED, f"The query parameter {key} is not supported.")
        if not collection and key in ("$filter", "$top", "$orderby", "$skiptoken"):
            raise query_error(f"The query option {key} is not allowed on a single record.")
    q = Query(select=parse_select(entity, params.get("$select")),
              predicate=parse_filter(entity, params.get("$filter")),
              expand=parse_expand(entity, params.get("$expand"), sets),
              count=params.get("$count", "").lower() == "true")
    if "$top" in params:
        try:
            q.top = int(params["$top"])
            if q.top < 0:
                raise ValueError
        except ValueError:
            raise query_error(f"Invalid value '{params['$top']}' for $top query option found.") from None
    for part in (params.get("$orderby") or "").split(","):
        if not part.strip():
            continue
        name, _, direction = part.strip().partition(" ")
        if name not in entity.properties:
            raise bad_property(entity.logical_name, name)
        q.orderby.append((name, direction.strip().lower() == "desc"))
    if "$skiptoken" in params:
        q.offset = decode_skiptoken(params["$skiptoken"])
    return q


def encode_skiptoken(offset: int) -> str:
    """Opaque to clients; shaped like Dataverse's paging cookie."""
    return f'<cookie pagenumber="{offset}" istracking="False" />'


def decode_skiptoken(token: str) -> int:
    m = re.fullmatch(r'<cookie pagenumber="(\d+)" istracking="False" />', token)
    if not m:
        raise query_error("The $skiptoken is not valid; follow @odata.nextLink as returned.")
    return int(m.group(1))


def max_page_size(prefer: str | None) -> int:
    """Page size from ``Prefer: odata.maxpagesize=N`` (default and cap 5000)."""
    for item in (prefer or "").split(","):
        k, _, v = item.strip().partition("=")
        if k.strip().lower() == "odata.maxpagesize":
            try:
                n = int(v.strip())
            except ValueError:
                raise query_error(f"Invalid odata.maxpagesize '{v}'.") from None
            if n <= 0:
                raise query_error(f"Invalid odata.maxpagesize '{v}'.")
            return min(n, MAX_PAGE_SIZE)
    return MAX_PAGE_SIZE


def project(record: Record, select: list[str] | None, entity: EntityType) -> Record:
    """The served shape of a record: selected properties (all when no $select), key always, etag."""
    names = select if select is not None else [p for p in entity.properties]
    out: Record = {"@odata.etag": f'W/"{record.get("versionnumber", 0)}"'}
    for name in names:
        out[name] = record.get(name)
    out.setdefault(entity.key, record.get(entity.key))
    return out


def run_collection(records: list[Record], q: Query, page_size: int) -> tuple[list[Record], int | None, int]:
    """Filter, order and page. Returns (page, next offset or None, total matching)."""
    rows = [r for r in records if q.predicate(r)]
    for name, desc in reversed(q.orderby):
        rows.sort(key=lambda r: (r.get(name) is None, r.get(name)), reverse=desc)
    total = len(rows)
    if q.top is not None:
        rows = rows[: q.top]
        return rows, None, total
    page = rows[q.offset: q.offset + page_size]
    nxt = q.offset + page_size if q.offset + page_size < len(rows) else None
    return page, nxt, total


def next_link(base_url: str, path: str, params: dict[str, str], offset: int) -> str:
    kept = {k: v for k, v in params.items() if k != "$skiptoken"}
    kept["$skiptoken"] = encode_skiptoken(offset)
    query = "&".join(f"{k}={urllib.parse.quote(v, safe=_SAFE)}" for k, v in kept.items())
    return f"{base_url}{path}?{query}"


_SAFE = "$,()'=@:/"   # like Dataverse's nextLink: OData punctuation stays readable
