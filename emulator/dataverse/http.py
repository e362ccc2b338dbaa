"""Request/response values of the Dataverse surface and the generic OData read/write helpers.

Handlers work on ``DvRequest``/``DvResponse`` instead of Starlette objects so that ``$batch``
can run its parts through exactly the same code as top-level requests.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable

from . import odata
from .annotations import COUNT_LIMIT, Annotations, preference_applied
from .errors import DUPLICATE, PRECONDITION_FAILED, DataverseError, bad_payload, bad_request, not_found
from .schema import ENTITY_SETS, EntityType
from .store import DataverseStore, Record

JSON_TYPE = "application/json; odata.metadata=minimal"
BASE_PATH = "/api/data/v9.2"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass
class DvRequest:
    method: str
    path: str                                   # relative to /api/data/v9.2, no leading slash
    params: dict[str, str]
    headers: dict[str, str]                     # lower-case names
    body: dict[str, Any] | None = None
    raw_body: bytes = b""
    blob: BinaryIO | None = None
    blob_size: int = 0
    caller: Record = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def prefers(self, token: str) -> bool:
        return any(p.strip().lower() == token for p in (self.header("prefer") or "").split(","))


@dataclass
class DvResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class Env:
    """What handlers need: the store, the context, and the public base URL."""

    def __init__(self, store: DataverseStore, ctx: Any) -> None:
        self.store, self.ctx = store, ctx

    @property
    def base_url(self) -> str:
        return self.ctx.urls.environment_url.rstrip("/") + BASE_PATH

    @property
    def import_seconds(self) -> float:
        return float(self.ctx.settings.import_seconds)

    def entity_url(self, set_name: str, key: str) -> str:
        return f"{self.base_url}/{set_name}({key})"


def guid_key(text: str, entity: str) -> str:
    key = text.strip()
    if not _GUID.match(key):
        raise DataverseError(400, odata.ODATA_QUERY,
                             f"Bad Request - Error in query syntax: key '{key}' of {entity} is not a GUID "
                             "(alternate keys are not supported by the emulator).")
    return key.lower()


def records_of(env: Env, set_name: str) -> list[Record]:
    s = env.store
    table = {"businessunits": s.businessunits, "systemusers": s.systemusers, "roles": s.roles,
             "privileges": s.privileges, "solutions": s.solutions, "asyncoperations": s.asyncoperations,
             "importjobs": s.importjobs}.get(set_name)
    if table is None:
        raise DataverseError(404, "0x8006088a", f"Resource not found for the segment '{set_name}'.")
    return list(table.values())


def find_record(env: Env, set_name: str, key: str) -> Record | None:
    entity = ENTITY_SETS[set_name]
    return next((r for r in records_of(env, set_name) if r[entity.key] == key), None)


def context_url(env: Env, set_name: str, select: list[str] | None, single: bool = False) -> str:
    sel = f"({','.join(select)})" if select else ""
    return f"{env.base_url}/$metadata#{set_name}{sel}{'/$entity' if single else ''}"


def _expand(env: Env, entity: EntityType, rec: Record, q: odata.Query, out: Record) -> None:
    for exp in q.expand:
        nav = entity.navigations[exp.navigation]
        target = ENTITY_SETS.get(nav.target)
        if target is None:
            out[exp.navigation] = None
            continue
        if nav.value_property:
            ref = rec.get(nav.value_property)
            row = find_record(env, nav.target, ref) if ref else None
            out[exp.navigation] = odata.project(row, exp.select, target) if row else None
        else:
            rows = related(env, entity.set_name, rec[entity.key], exp.navigation)
            pred = odata.parse_filter(target, exp.filter)
            out[exp.navigation] = [odata.project(r, exp.select, target) for r in rows if pred(r)]


def related(env: Env, set_name: str, key: str, nav: str) -> list[Record]:
    """Rows of a collection-valued navigation (the N:N systemuserroles_association)."""
    s = env.store
    if set_name == "systemusers" and nav == "systemuserroles_association":
        return [s.roles[r] for r in s.user_role_ids(key)]
    if set_name == "roles" and nav == "systemuserroles_association":
        s.get_role(key)
        return [u for uid, u in s.systemusers.items() if key in s.user_roles.get(uid, [])]
    raise DataverseError(404, "0x8006088a", f"Resource not found for the segment '{nav}'.")


def primary_name(env: Env, set_name: str, key: str) -> str | None:
    """The primary name column of a related record (a lookup's formatted value), or None."""
    from .metadata import facts
    entity = ENTITY_SETS.get(set_name)
    if entity is None:
        return None
    column = facts(entity).primary_name
    row = find_record(env, set_name, key.lower()) if column else None
    return None if row is None else row.get(column)


def _annotated(env: Env, entity: EntityType, rec: Record, out: Record, notes: Annotations) -> Record:
    return notes.record(entity, rec, out, lambda s, k: primary_name(env, s, k))


def collection_response(env: Env, req: DvRequest, set_name: str, rows: list[Record],
                        entity: EntityType | None = None) -> DvResponse:
    entity = entity or ENTITY_SETS[set_name]
    q = odata.parse_query(entity, req.params, ENTITY_SETS)
    page_size = odata.max_page_size(req.header("prefer"))
    page, nxt, total = odata.run_collection(rows, q, page_size)
    notes = Annotations(req.header("prefer"))
    body: Record = {"@odata.context": context_url(env, set_name, q.select)}
    if q.count:
        body["@odata.count"] = min(total, COUNT_LIMIT)  # "up to 5,000" (count-rows)
    notes.collection(body, total, q.count)
    values = []
    for rec in page:
        out = odata.project(rec, q.select, entity)
        _expand(env, entity, rec, q, out)
        values.append(_annotated(env, entity, rec, out, notes))
    body["value"] = values
    if nxt is not None:
        body["@odata.nextLink"] = odata.next_link(env.base_url, "/" + req.path, req.params, nxt)
    paged = "odata.maxpagesize" in (req.header("prefer") or "")
    headers = preference_applied(f"odata.maxpagesize={page_size}" if paged else None, notes.applied)
    return DvResponse(200, body, headers)


def count_response(env: Env, req: DvRequest, set_name: str, rows: list[Record]) -> DvResponse:
    """GET {entityset}/$count: the number of matching rows as plain text
    (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/count-rows)."""
    entity = ENTITY_SETS[set_name]
    q = odata.parse_query(entity, {k: v for k, v in req.params.items() if k == "$filter"}, ENTITY_SETS)
    total = sum(1 for r in rows if q.predicate(r))
    return DvResponse(200, str(min(total, COUNT_LIMIT)).encode(), {"Content-Type": "text/plain"})


def single_response(env: Env, req: DvRequest, set_name: str, rec: Record) -> DvResponse:
    entity = ENTITY_SETS[set_name]
    q = odata.parse_query(entity, req.params, ENTITY_SETS, collection=False)
    etag = f'W/"{rec.get("versionnumber", 0)}"'
    if req.header("if-none-match") == etag:
        return DvResponse(304, None, {"ETag": etag})
    notes = Annotations(req.header("prefer"))
    out = {"@odata.context": context_url(env, set_name, q.select, single=True), **odata.project(rec, q.select, entity)}
    _expand(env, entity, rec, q, out)
    return DvResponse(200, _annotated(env, entity, rec, out, notes), {"ETag": etag, **preference_applied(notes.applied)})


def check_body(entity: EntityType, body: dict[str, Any] | None, allowed: frozenset[str], op: str) -> dict[str, Any]:
    """Strict body check: unknown properties -> 400 (0x80048d19); known but not writable -> 400."""
    if body is None:
        raise bad_payload(entity.logical_name, "the request has no JSON body.")
    clean: dict[str, Any] = {}
    for key, value in body.items():
        if key.startswith("@odata.") or key == "@odata.type":
            continue
        name = key.split("@", 1)[0]
        known = name in entity.properties or name in entity.navigations
        if not known:
            raise bad_payload(entity.logical_name,
                              f"The property '{name}' does not exist on type 'Microsoft.Dynamics.CRM.{entity.logical_name}'. "
                              "Make sure to only use property names that are defined by the type.")
        if key not in allowed:
            raise bad_request(f"The property '{key}' of {entity.logical_name} cannot be set on {op} in this emulator; "
                              f"settable: {', '.join(sorted(allowed))}.")
        clean[key] = value
    return clean


def bind_target(value: Any, set_name: str) -> str:
    """'/businessunits(<id>)' (or an absolute URL ending so) -> id."""
    m = re.search(rf"{set_name}\(([^)]+)\)\s*$", str(value or ""))
    if not m:
        raise bad_request(f"@odata.bind value {value!r} must look like /{set_name}(<id>).")
    return guid_key(m.group(1), set_name)


def check_preconditions(req: DvRequest, rec: Record | None, entity: EntityType, key: str) -> None:
    """If-Match / If-None-Match on PATCH (Dataverse's upsert rules)."""
    if_match, if_none = req.header("if-match"), req.header("if-none-match")
    if rec is None:
        if if_match is not None:
            raise not_found(entity.logical_name, key)
        return
    if if_none == "*":
        raise DataverseError(412, DUPLICATE, "A record with matching key values already exists.")
    if if_match not in (None, "*") and if_match != f'W/"{rec.get("versionnumber", 0)}"':
        raise DataverseError(412, PRECONDITION_FAILED,
                             "The version of the existing record doesn't match the RowVersion property provided.")


def write_response(env: Env, req: DvRequest, set_name: str, rec: Record, *, created: bool) -> DvResponse:
    entity = ENTITY_SETS[set_name]
    url = env.entity_url(set_name, rec[entity.key])
    if req.prefers("return=representation"):
        q = odata.parse_query(entity, req.params, ENTITY_SETS, collection=False)
        notes = Annotations(req.header("prefer"))
        body = _annotated(env, entity, rec, {"@odata.context": context_url(env, set_name, q.select, single=True),
                                             **odata.project(rec, q.select, entity)}, notes)
        return DvResponse(201 if created else 200, body,
                          {"OData-EntityId": url, **preference_applied("return=representation", notes.applied),
                           "ETag": f'W/"{rec.get("versionnumber", 0)}"'})
    return DvResponse(204, None, {"OData-EntityId": url})


def json_body(raw: bytes, entity: str) -> dict[str, Any] | None:
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise bad_payload(entity, f"the body is not valid JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise bad_payload(entity, "the body must be a JSON object.")
    return data


Handler = Callable[[Env, DvRequest], Any]
