"""Typed Dataverse Web API (v9.2) client: the operations the providers need, nothing generic.

Results are frozen dataclasses; paging (``@odata.nextLink``) is followed transparently; ``$batch``
is used where it saves round trips (several role assignments in one request); errors are mapped
by :mod:`infra.clients.errors`; retries, throttling, 401 refresh and concurrency live in
:mod:`infra.clients.http`.  Calls that start server-side work which must not run twice (solution
import / upgrade / uninstall, user creation) are sent as *non-idempotent*: an unknown outcome
raises :class:`~infra.clients.errors.AmbiguousOutcomeError` instead of being retried.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote as url_quote, urlencode
from typing import Any, BinaryIO, Iterable, Iterator, Mapping, Sequence

from infra import facts
from infra.clients.connection import Connection
from infra.clients.credentials import CredentialSettings, TokenCredential, resolve_credential
from infra.clients.errors import (
    ConfigurationError,
    ConflictError,
    NotFoundError,
    ServiceError,
    error_from_response,
)
from infra.clients.http import (
    DATAVERSE_MAX_CONCURRENCY,
    DEFAULT_MAX_CONCURRENCY,
    RetryPolicy,
    ServiceHttp,
    Timeouts,
    get_service_http,
)
from infra.clients.odata import BatchRequest, BatchResponse, build_batch, guid, parse_batch_response, quote
from infra.clients.redact import logger
from infra.clients.shared import shared_client

__all__ = [
    "DataverseClient",
    "WhoAmI",
    "BusinessUnit",
    "SystemUser",
    "Role",
    "Privilege",
    "RolePrivilege",
    "Solution",
    "StageResult",
    "AsyncJob",
    "AsyncOperation",
    "ImportResult",
    "ImportJob",
    "DEPTH_NAMES",
    "stage_solution_body",
]

API_PATH = "/api/data/v9.2"
ODATA_HEADERS = {"Accept": "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0"}
DEFAULT_PAGE_SIZE = 500
#: Names per privileges query; one request covers any realistic role (URL length stays < ~16 kB).
PRIVILEGE_NAMES_PER_QUERY = 400
#: Requests per $batch (Dataverse allows 1000; smaller keeps one failure's blast radius small).
BATCH_LIMIT = 100
#: Base64 is produced in blocks that are a multiple of 3 bytes so chunks concatenate cleanly.
STAGE_READ_BLOCK = 3 * 64 * 1024

DEPTH_NAMES = ("Basic", "Local", "Deep", "Global", "RecordFilter")

_USER_SELECT = ("systemuserid,fullname,domainname,internalemailaddress,azureactivedirectoryobjectid,"
                "applicationid,isdisabled,islicensed,isintegrationuser,accessmode,_businessunitid_value")
_ROLE_SELECT = ("roleid,name,_businessunitid_value,_parentrootroleid_value,_roletemplateid_value,"
                "ismanaged,iscustomizable,isinherited")
_ROLES_NAV = "systemuserroles_association"
_ROLES_EXPAND = f"{_ROLES_NAV}($select={_ROLE_SELECT})"
_SOLUTION_SELECT = "solutionid,uniquename,friendlyname,version,ismanaged,installedon"
_ASYNC_SELECT = "asyncoperationid,name,operationtype,statecode,statuscode,message,friendlymessage,completedon"


# --- result types ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WhoAmI:
    user_id: str
    business_unit_id: str
    organization_id: str


@dataclass(frozen=True)
class BusinessUnit:
    business_unit_id: str
    name: str
    parent_business_unit_id: str | None = None


@dataclass(frozen=True)
class SystemUser:
    systemuser_id: str
    azure_ad_object_id: str | None
    application_id: str | None
    business_unit_id: str | None
    access_mode: int | None
    is_disabled: bool
    is_licensed: bool | None
    is_integration_user: bool | None
    domain_name: str | None
    internal_email_address: str | None
    full_name: str | None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "SystemUser":
        return cls(
            systemuser_id=_lower(d.get("systemuserid")) or "",
            azure_ad_object_id=_lower(d.get("azureactivedirectoryobjectid")),
            application_id=_lower(d.get("applicationid")),
            business_unit_id=_lower(d.get("_businessunitid_value")),
            access_mode=d.get("accessmode"),
            is_disabled=bool(d.get("isdisabled")),
            is_licensed=d.get("islicensed"),
            is_integration_user=d.get("isintegrationuser"),
            domain_name=d.get("domainname"),
            internal_email_address=d.get("internalemailaddress"),
            full_name=d.get("fullname"),
        )


@dataclass(frozen=True)
class Role:
    role_id: str
    name: str
    business_unit_id: str | None
    parent_root_role_id: str | None = None
    role_template_id: str | None = None
    is_managed: bool = False
    is_customizable: bool | None = None
    is_inherited: int | None = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Role":
        custom = d.get("iscustomizable")
        if isinstance(custom, Mapping):  # Dataverse BooleanManagedProperty {"Value": bool, ...}
            custom = custom.get("Value")
        return cls(
            role_id=_lower(d.get("roleid")) or "",
            name=str(d.get("name") or ""),
            business_unit_id=_lower(d.get("_businessunitid_value")),
            parent_root_role_id=_lower(d.get("_parentrootroleid_value")),
            role_template_id=_lower(d.get("_roletemplateid_value")),
            is_managed=bool(d.get("ismanaged")),
            is_customizable=None if custom is None else bool(custom),
            is_inherited=d.get("isinherited"),
        )


@dataclass(frozen=True)
class Privilege:
    privilege_id: str
    name: str
    can_be_basic: bool
    can_be_local: bool
    can_be_deep: bool
    can_be_global: bool

    @property
    def allowed_depths(self) -> tuple[str, ...]:
        flags = (self.can_be_basic, self.can_be_local, self.can_be_deep, self.can_be_global)
        return tuple(n for n, ok in zip(DEPTH_NAMES, flags) if ok)


@dataclass(frozen=True)
class RolePrivilege:
    privilege_id: str
    depth: str  # "Basic" | "Local" | "Deep" | "Global" | "RecordFilter"
    privilege_name: str | None = None
    business_unit_id: str | None = None

    def to_json(self, default_business_unit_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"PrivilegeId": self.privilege_id, "Depth": normalize_depth(self.depth)}
        bu = self.business_unit_id or default_business_unit_id
        if bu:
            body["BusinessUnitId"] = bu
        return body


@dataclass(frozen=True)
class Solution:
    solution_id: str
    unique_name: str
    friendly_name: str | None
    version: str
    is_managed: bool
    installed_on: str | None


@dataclass(frozen=True)
class StageResult:
    upload_id: str
    status: str
    unique_name: str | None
    version: str | None
    is_managed: bool | None
    validation_results: tuple[Mapping[str, Any], ...] = ()
    missing_dependencies: tuple[Mapping[str, Any], ...] = ()

    @property
    def passed(self) -> bool:
        return self.status.lower() == "passed"


@dataclass(frozen=True)
class AsyncJob:
    async_operation_id: str
    import_job_key: str | None = None


@dataclass(frozen=True)
class AsyncOperation:
    async_operation_id: str
    name: str | None
    operation_type: int | None
    state_code: int
    status_code: int
    message: str | None
    friendly_message: str | None
    completed_on: str | None

    @property
    def is_completed(self) -> bool:
        return self.state_code == 3

    @property
    def succeeded(self) -> bool:
        return self.status_code == 30

    @property
    def failed(self) -> bool:
        return self.status_code in (31, 32)

    @property
    def is_running(self) -> bool:
        return not self.is_completed


@dataclass(frozen=True)
class ImportResult:
    status: str
    warnings: tuple[str, ...]
    errors: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return self.status.lower() == "passed"


@dataclass(frozen=True)
class ImportJob:
    import_job_id: str
    solution_name: str | None
    progress: float | None
    data: str | None  # the XML import log
    completed_on: str | None


def _lower(value: Any) -> str | None:
    return str(value).lower() if value else None


def normalize_depth(depth: str | int) -> str:
    """``"global"``/``3`` -> ``"Global"``; anything else is a clear error."""
    if isinstance(depth, int) and 0 <= depth < len(DEPTH_NAMES):
        return DEPTH_NAMES[depth]
    text = str(depth).strip()
    if text.isdigit() and int(text) < len(DEPTH_NAMES):
        return DEPTH_NAMES[int(text)]
    for name in DEPTH_NAMES:
        if name.lower() == text.lower():
            return name
    raise ConfigurationError(f"privilege depth {depth!r} is not valid; allowed: {', '.join(DEPTH_NAMES)}")


# --- streaming StageSolution body -------------------------------------------------------------


def _open_package(package: BinaryIO | Path | str) -> tuple[Any, int, bool]:
    """(callable returning a fresh binary stream, size, re-readable?)"""
    if isinstance(package, (str, Path)):
        path = Path(package)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ConfigurationError(f"solution package {str(path)!r} cannot be read: {exc.strerror or exc}") from None
        return (lambda: path.open("rb")), size, True
    stream = package
    if stream.seekable():
        start = stream.tell()
        stream.seek(0, io.SEEK_END)
        size = stream.tell() - start
        stream.seek(start)

        class _NoClose:
            def __init__(self) -> None:
                stream.seek(start)

            def __enter__(self) -> BinaryIO:
                return stream

            def __exit__(self, *exc: Any) -> None:
                return None

        return _NoClose, size, True
    raise ConfigurationError("solution package stream must be seekable (pass a Path or an open file)")


_STAGE_PREFIX = b'{"CustomizationFile":"'
_STAGE_SUFFIX = b'"}'


def stage_solution_body(open_stream: Any, block: int = STAGE_READ_BLOCK) -> Iterator[bytes]:
    """Yield ``{"CustomizationFile": "<base64>"}`` in chunks; memory stays O(block)."""
    assert block % 3 == 0
    yield _STAGE_PREFIX
    with open_stream() as stream:
        while True:
            chunk = stream.read(block)
            if not chunk:
                break
            while len(chunk) % 3:  # short read mid-file: top up to a multiple of 3
                more = stream.read(3 - len(chunk) % 3)
                if not more:
                    break
                chunk += more
            yield base64.b64encode(chunk)
    yield _STAGE_SUFFIX


def stage_body_length(size: int) -> int:
    return len(_STAGE_PREFIX) + 4 * ((size + 2) // 3) + len(_STAGE_SUFFIX)


# --- the client -------------------------------------------------------------------------------



class DataverseClient:
    """One Dataverse environment as one identity.  Thread-safe; get it with :meth:`for_connection`."""

    def __init__(
        self,
        connection: Connection,
        credential: TokenCredential | None = None,
        *,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        page_size: int = DEFAULT_PAGE_SIZE,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        http: ServiceHttp | None = None,
    ) -> None:
        self.connection = connection
        self.credential = credential or resolve_credential(connection)
        self.api_url = connection.dataverse_api_url
        if not 1 <= page_size <= 5000:
            raise ConfigurationError(f"page_size must be between 1 and 5000, got {page_size}")
        self.page_size = page_size
        self.http = http or get_service_http(
            self.api_url, self.credential, connection.dataverse_scope, service="dataverse",
            ca_bundle=connection.ca_bundle, max_concurrency=max_concurrency,
            concurrency_limit=DATAVERSE_MAX_CONCURRENCY, retry=retry, timeouts=timeouts,
            default_headers=ODATA_HEADERS,
        )
        for key, value in ODATA_HEADERS.items():  # also when a ServiceHttp was passed in
            self.http.default_headers.setdefault(key, value)

    @classmethod
    def for_connection(
        cls,
        connection: Connection | Mapping[str, Any],
        credential: TokenCredential | None = None,
        *,
        settings: CredentialSettings | None = None,
        env: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> "DataverseClient":
        """Per-process shared client keyed by (connection, identity).  Credentials are resolved
        now (from settings / the environment), so a rotated secret gets a new client."""
        return shared_client(cls, connection, credential, settings, env, kwargs)

    def __repr__(self) -> str:
        return f"DataverseClient({self.connection.environment_url!r}, {self.credential.identity!r})"

    def __reduce__(self) -> Any:
        raise TypeError("DataverseClient must not be pickled; create it at operation time with for_connection()")

    # --- low level --------------------------------------------------------------------------

    def _json(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None,
              headers: Mapping[str, str] | None = None, idempotent: bool | None = None) -> Any:
        response = self.http.request(method, path, params=params, json=body, headers=headers, idempotent=idempotent)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ServiceError(response.status_code, "invalid_json", f"{method} {path}: response is not JSON",
                               service="dataverse") from None

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._json("GET", path, params=params)

    def get_all(self, path: str, params: Mapping[str, Any] | None = None, *, page_size: int | None = None) -> list[dict[str, Any]]:
        """All rows of a collection, following ``@odata.nextLink`` until it is absent."""
        headers = {"Prefer": f"odata.maxpagesize={page_size or self.page_size}"}
        rows: list[dict[str, Any]] = []
        data = self._json("GET", path, params=params, headers=headers) or {}
        pages = 1
        while True:
            rows.extend(data.get("value", []))
            next_link = data.get("@odata.nextLink")
            if not next_link:
                break
            pages += 1
            data = self._json("GET", next_link, headers=headers) or {}
        if pages > 1:
            logger.debug("dataverse GET %s: %d rows in %d pages", path, len(rows), pages)
        return rows

    def batch(self, requests: Sequence[BatchRequest], *, atomic: bool = True, idempotent: bool = False,
              continue_on_error: bool = False) -> list[BatchResponse]:
        """Send requests in ``$batch`` (chunks of :data:`BATCH_LIMIT`); raise the first failure.

        With ``atomic`` every chunk is one change set: all of it happens or none.
        """
        results: list[BatchResponse] = []
        for start in range(0, len(requests), BATCH_LIMIT):
            chunk = list(requests[start:start + BATCH_LIMIT])
            content_type, body = build_batch(chunk, atomic=atomic)
            headers = {"Content-Type": content_type}
            if continue_on_error:
                headers["Prefer"] = "odata.continue-on-error"
            response = self.http.request("POST", "$batch", content=body, headers=headers, idempotent=idempotent)
            parts = parse_batch_response(response.headers.get("Content-Type", ""), response.content)
            for part in parts:
                if part.status >= 400 and not continue_on_error:
                    raise error_from_response(part.status, part.body if isinstance(part.body, (dict, str)) else None,
                                              service="dataverse", method="POST", url="$batch")
            results.extend(parts)
        return results

    def _abs(self, path: str) -> str:
        return f"{self.api_url}/{path}"

    # --- identity ---------------------------------------------------------------------------

    def whoami(self) -> WhoAmI:
        d = self.get("WhoAmI")
        return WhoAmI(_lower(d["UserId"]) or "", _lower(d["BusinessUnitId"]) or "", _lower(d["OrganizationId"]) or "")

    def root_business_unit(self) -> BusinessUnit:
        rows = self.get_all("businessunits", {"$select": "businessunitid,name",
                                              "$filter": "parentbusinessunitid eq null"})
        if not rows:
            raise NotFoundError(404, None, "no root business unit found", service="dataverse")
        return BusinessUnit(_lower(rows[0]["businessunitid"]) or "", rows[0].get("name", ""), None)

    def user_roles(self, user_id: str) -> list[Role]:
        uid = guid(user_id, "user id")
        rows = self.get_all(f"systemusers({uid})/systemuserroles_association", {"$select": _ROLE_SELECT})
        return [Role.from_json(r) for r in rows]

    def _with_roles(self, row: Mapping[str, Any]) -> tuple[SystemUser, list[Role]]:
        """A user row read with :data:`_ROLES_EXPAND` -> (user, roles).  Should the service cut
        the expanded collection short (it then sends ``<nav>@odata.nextLink``), the roles are read
        in full with :meth:`user_roles`, so the answer is never a silently partial list."""
        user = SystemUser.from_json(row)
        if row.get(f"{_ROLES_NAV}@odata.nextLink") or _ROLES_NAV not in row:
            return user, self.user_roles(user.systemuser_id)
        return user, [Role.from_json(r) for r in row.get(_ROLES_NAV) or []]

    def get_user_with_roles(self, user_id: str) -> tuple[SystemUser, list[Role]]:
        """The user and its roles in ONE request (``$expand``); :class:`NotFoundError` if gone."""
        uid = guid(user_id, "user id")
        return self._with_roles(self.get(f"systemusers({uid})", {"$select": _USER_SELECT,
                                                               "$expand": _ROLES_EXPAND}))

    def find_user_with_roles_by_object_id(self, object_id: str) -> tuple[SystemUser, list[Role]] | None:
        """The systemuser of an Entra object id and its roles in one request, or None."""
        oid = guid(object_id, "Entra object id")
        rows = self.get_all("systemusers", {"$select": _USER_SELECT, "$expand": _ROLES_EXPAND,
                                            "$filter": f"azureactivedirectoryobjectid eq {oid}"})
        return self._with_roles(rows[0]) if rows else None

    def find_users_with_roles_by_application_id(self, app_id: str) -> list[tuple[SystemUser, list[Role]]]:
        """Application users of a client id with their roles, in one request."""
        aid = guid(app_id, "application (client) id")
        rows = self.get_all("systemusers", {"$select": _USER_SELECT, "$expand": _ROLES_EXPAND,
                                            "$filter": f"applicationid eq {aid}"})
        return [self._with_roles(r) for r in rows]

    def user_privileges(self, user_id: str) -> list[RolePrivilege]:
        uid = guid(user_id, "user id")
        d = self.get(f"systemusers({uid})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()") or {}
        return [_role_privilege(p) for p in d.get("RolePrivileges", [])]

    # --- users ------------------------------------------------------------------------------

    def find_user_by_object_id(self, object_id: str) -> SystemUser | None:
        oid = guid(object_id, "Entra object id")
        rows = self.get_all("systemusers", {"$select": _USER_SELECT, "$filter": f"azureactivedirectoryobjectid eq {oid}"})
        return SystemUser.from_json(rows[0]) if rows else None

    def find_users_by_application_id(self, app_id: str) -> list[SystemUser]:
        aid = guid(app_id, "application (client) id")
        rows = self.get_all("systemusers", {"$select": _USER_SELECT, "$filter": f"applicationid eq {aid}"})
        return [SystemUser.from_json(r) for r in rows]

    def get_user(self, user_id: str) -> SystemUser:
        """The user; :class:`NotFoundError` if there is none."""
        uid = guid(user_id, "user id")
        return SystemUser.from_json(self.get(f"systemusers({uid})", {"$select": _USER_SELECT}))

    def update_user(self, user_id: str, fields: Mapping[str, Any]) -> None:
        """PATCH with ``If-Match: *`` (update only, never an accidental create; safe to retry)."""
        uid = guid(user_id, "user id")
        self._json("PATCH", f"systemusers({uid})", body=dict(fields), headers={"If-Match": "*"})

    def create_application_user(self, app_id: str, business_unit_id: str) -> SystemUser:
        """Create the application (server-to-server) user.  Not retried on an unknown outcome:
        the caller looks it up with :meth:`find_users_by_application_id` first."""
        aid = guid(app_id, "application (client) id")
        bu = guid(business_unit_id, "business unit id")
        body = {"applicationid": aid, "accessmode": 4, "isdisabled": False,
                "businessunitid@odata.bind": f"/businessunits({bu})"}
        d = self._json("POST", "systemusers", body=body, params={"$select": _USER_SELECT},
                       headers={"Prefer": "return=representation"}, idempotent=False)
        if d:
            return SystemUser.from_json(d)
        users = self.find_users_by_application_id(aid)
        if not users:
            raise NotFoundError(404, None, f"application user for {aid} not found after create", service="dataverse")
        return users[0]

    # --- roles ------------------------------------------------------------------------------

    def get_role(self, role_id: str) -> Role | None:
        rid = guid(role_id, "role id")
        try:
            return Role.from_json(self.get(f"roles({rid})", {"$select": _ROLE_SELECT}))
        except NotFoundError:
            return None

    def find_roles(self, name: str | None = None, business_unit_id: str | None = None) -> list[Role]:
        clauses = []
        if name is not None:
            clauses.append(f"name eq {quote(name)}")
        if business_unit_id is not None:
            clauses.append(f"_businessunitid_value eq {guid(business_unit_id, 'business unit id')}")
        params = {"$select": _ROLE_SELECT}
        if clauses:
            params["$filter"] = " and ".join(clauses)
        return [Role.from_json(r) for r in self.get_all("roles", params)]

    def roles_by_ids_or_names(self, role_ids: Iterable[str] = (), names: Iterable[str] = (),
                              business_unit_id: str | None = None) -> list[Role]:
        """Roles with any of ``role_ids``, or named one of ``names`` in ``business_unit_id``, in
        ONE request: ``In`` on roleid ``or`` (``In`` on name ``and`` the business unit)."""
        ids = sorted({guid(r, "role id") for r in role_ids})
        wanted = sorted(set(names))
        if len(ids) + len(wanted) > PRIVILEGE_NAMES_PER_QUERY:
            raise ConfigurationError(f"too many roles in one lookup ({len(ids) + len(wanted)})")
        clauses = []
        if ids:
            clauses.append("Microsoft.Dynamics.CRM.In(PropertyName='roleid',PropertyValues=["
                           + ",".join(quote(i) for i in ids) + "])")
        if wanted:
            if business_unit_id is None:
                raise ConfigurationError("a business unit is needed to find roles by name")
            bu = guid(business_unit_id, "business unit id")
            clauses.append("(Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=["
                           + ",".join(quote(n) for n in wanted) + f"]) and _businessunitid_value eq {bu})")
        if not clauses:
            return []
        rows = self.get_all("roles", {"$select": _ROLE_SELECT, "$filter": " or ".join(clauses)})
        return [Role.from_json(r) for r in rows]

    def get_many(self, paths: Sequence[str]) -> list[BatchResponse]:
        """Several GETs (reads or functions) in ONE ``$batch`` HTTP request, outside any change
        set, with ``odata.continue-on-error`` so a 404 in one part still answers the others.
        ``paths`` are relative to the API root, query string included (already encoded)."""
        reqs = [BatchRequest("GET", self._abs(p)) for p in paths]
        return self.batch(reqs, atomic=False, idempotent=True, continue_on_error=True)

    def get_role_with_privileges(self, role_id: str) -> tuple[Role, list[RolePrivilege]] | None:
        """``roles(<id>)`` and ``RetrieveRolePrivilegesRole`` in one round trip; None if gone."""
        rid = guid(role_id, "role id")
        role_part, privs_part = self.get_many([
            f"roles({rid})?{urlencode({'$select': _ROLE_SELECT}, quote_via=url_quote, safe=',$')}",
            f"RetrieveRolePrivilegesRole(RoleId={rid})"])
        if role_part.status == 404:
            return None
        for part in (role_part, privs_part):
            if part.status >= 400:
                raise error_from_response(part.status, part.body if isinstance(part.body, (dict, str)) else None,
                                          service="dataverse", method="GET", url="$batch")
        body = privs_part.body if isinstance(privs_part.body, Mapping) else {}
        return (Role.from_json(role_part.body),
                [_role_privilege(p) for p in body.get("RolePrivileges", [])])

    def find_role_copy(self, root_role_id: str, business_unit_id: str) -> Role | None:
        """The copy of a root-BU role that lives in ``business_unit_id`` (itself for the root BU)."""
        rid = guid(root_role_id, "root role id")
        bu = guid(business_unit_id, "business unit id")
        rows = self.get_all("roles", {"$select": _ROLE_SELECT,
                                      "$filter": f"_parentrootroleid_value eq {rid} and _businessunitid_value eq {bu}"})
        return Role.from_json(rows[0]) if rows else None

    def create_role(self, role_id: str, name: str, business_unit_id: str, *,
                    solution_unique_name: str | None = None, description: str | None = None) -> Role:
        """Create a role with a primary key of our choosing.  Because the key is fixed, a retry can
        never create a second role; a duplicate after a lost response is recognised and returned."""
        rid = guid(role_id, "role id")
        bu = guid(business_unit_id, "business unit id")
        body: dict[str, Any] = {"roleid": rid, "name": name, "businessunitid@odata.bind": f"/businessunits({bu})"}
        if description is not None:
            body["description"] = description
        headers = {"Prefer": "return=representation"}
        if solution_unique_name:
            headers["MSCRM.SolutionUniqueName"] = solution_unique_name
        try:
            d = self._json("POST", "roles", body=body, params={"$select": _ROLE_SELECT}, headers=headers, idempotent=True)
        except ConflictError:
            existing = self.get_role(rid)
            if existing and existing.name == name and existing.business_unit_id == bu:
                return existing
            raise
        return Role.from_json(d) if d else (self.get_role(rid) or Role(rid, name, bu))

    def rename_role(self, role_id: str, name: str) -> None:
        rid = guid(role_id, "role id")
        self._json("PATCH", f"roles({rid})", body={"name": name}, headers={"If-Match": "*"})

    def delete_role(self, role_id: str) -> bool:
        """Delete; ``False`` when it was already gone."""
        rid = guid(role_id, "role id")
        try:
            self._json("DELETE", f"roles({rid})")
        except NotFoundError:
            return False
        return True

    # --- privileges -------------------------------------------------------------------------

    def privileges_by_name(self, names: Iterable[str]) -> dict[str, Privilege]:
        """Catalog entries for ``names`` in ONE request (``Microsoft.Dynamics.CRM.In``).

        Names absent from the catalog are absent from the result; the caller reports them.
        """
        wanted = sorted(set(names))
        found: dict[str, Privilege] = {}
        for start in range(0, len(wanted), PRIVILEGE_NAMES_PER_QUERY):
            chunk = wanted[start:start + PRIVILEGE_NAMES_PER_QUERY]
            values = ",".join(quote(n) for n in chunk)
            params = {
                "$select": "privilegeid,name,canbebasic,canbelocal,canbedeep,canbeglobal",
                "$filter": f"Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=[{values}])",
            }
            for row in self.get_all("privileges", params, page_size=5000):
                p = Privilege(
                    privilege_id=_lower(row["privilegeid"]) or "",
                    name=row["name"],
                    can_be_basic=bool(row.get("canbebasic")),
                    can_be_local=bool(row.get("canbelocal")),
                    can_be_deep=bool(row.get("canbedeep")),
                    can_be_global=bool(row.get("canbeglobal")),
                )
                found[p.name] = p
        # Dataverse compares names case-insensitively; map back to the caller's spelling.
        by_lower = {k.lower(): v for k, v in found.items()}
        return {n: by_lower[n.lower()] for n in wanted if n.lower() in by_lower}

    def role_privileges(self, role_id: str) -> list[RolePrivilege]:
        rid = guid(role_id, "role id")
        d = self.get(f"RetrieveRolePrivilegesRole(RoleId={rid})") or {}
        return [_role_privilege(p) for p in d.get("RolePrivileges", [])]

    def _privilege_bodies(self, privileges: Iterable[RolePrivilege] | Mapping[str, str],
                          business_unit_id: str | None) -> list[dict[str, Any]]:
        items = (
            [RolePrivilege(guid(k, "privilege id"), normalize_depth(v)) for k, v in privileges.items()]
            if isinstance(privileges, Mapping) else list(privileges)
        )
        return [p.to_json(business_unit_id) for p in items]

    def replace_role_privileges(self, role_id: str, privileges: Iterable[RolePrivilege] | Mapping[str, str],
                                *, business_unit_id: str | None = None) -> None:
        """Make the role hold exactly ``privileges`` (privilege id -> depth, or RolePrivilege)."""
        rid = guid(role_id, "role id")
        body = {"Privileges": self._privilege_bodies(privileges, business_unit_id)}
        self._json("POST", f"roles({rid})/Microsoft.Dynamics.CRM.ReplacePrivilegesRole", body=body, idempotent=True)

    def add_role_privileges(self, role_id: str, privileges: Iterable[RolePrivilege] | Mapping[str, str],
                            *, business_unit_id: str | None = None) -> None:
        """Add privileges or raise their depth (idempotent)."""
        rid = guid(role_id, "role id")
        body = {"Privileges": self._privilege_bodies(privileges, business_unit_id)}
        self._json("POST", f"roles({rid})/Microsoft.Dynamics.CRM.AddPrivilegesRole", body=body, idempotent=True)

    def remove_role_privilege(self, role_id: str, privilege_id: str) -> None:
        """Remove one privilege.  The action's only parameter is ``Privilege``, typed as the
        ``privilege`` entity (learn.microsoft.com, "RemovePrivilegeRole Action"), so it is sent
        as an entity reference; a bare ``PrivilegeId`` GUID is rejected by the real service."""
        rid = guid(role_id, "role id")
        pid = guid(privilege_id, "privilege id")
        body = {"Privilege": {"@odata.type": "Microsoft.Dynamics.CRM.privilege", "privilegeid": pid}}
        self._json("POST", f"roles({rid})/Microsoft.Dynamics.CRM.RemovePrivilegeRole", body=body, idempotent=True)

    # --- role assignment --------------------------------------------------------------------

    def associate_role(self, user_id: str, role_id: str) -> None:
        """Give a user a role; already having it is success."""
        uid, rid = guid(user_id, "user id"), guid(role_id, "role id")
        try:
            self._json("POST", f"systemusers({uid})/systemuserroles_association/$ref",
                       body={"@odata.id": self._abs(f"roles({rid})")}, idempotent=True)
        except ConflictError:
            logger.debug("user %s already has role %s", uid, rid)

    def disassociate_role(self, user_id: str, role_id: str) -> None:
        """Take a role away; not having it is success."""
        uid, rid = guid(user_id, "user id"), guid(role_id, "role id")
        try:
            self._json("DELETE", f"systemusers({uid})/systemuserroles_association({rid})/$ref")
        except NotFoundError:
            logger.debug("user %s did not have role %s", uid, rid)

    def batch_associate(self, user_id: str, role_ids: Iterable[str]) -> None:
        """Give a user several roles in one ``$batch`` change set (all or nothing).

        If the change set fails because the user already holds one of the roles, the current
        roles are read and only the missing ones are sent again.
        """
        uid = guid(user_id, "user id")
        rids = list(dict.fromkeys(guid(r, "role id") for r in role_ids))
        if not rids:
            return
        if len(rids) == 1:
            return self.associate_role(uid, rids[0])

        def requests(ids: list[str]) -> list[BatchRequest]:
            return [BatchRequest("POST", self._abs(f"systemusers({uid})/systemuserroles_association/$ref"),
                                 {"@odata.id": self._abs(f"roles({r})")}) for r in ids]

        try:
            self.batch(requests(rids), atomic=True, idempotent=True)
        except ConflictError:
            held = {r.role_id for r in self.user_roles(uid)}
            missing = [r for r in rids if r not in held]
            if missing:
                self.batch(requests(missing), atomic=True, idempotent=True)

    def batch_disassociate(self, user_id: str, role_ids: Iterable[str]) -> None:
        """Take several roles away in one ``$batch`` change set; roles already gone are skipped."""
        uid = guid(user_id, "user id")
        rids = list(dict.fromkeys(guid(r, "role id") for r in role_ids))
        if not rids:
            return
        if len(rids) == 1:
            return self.disassociate_role(uid, rids[0])

        def requests(ids: list[str]) -> list[BatchRequest]:
            return [BatchRequest("DELETE", self._abs(f"systemusers({uid})/systemuserroles_association({r})/$ref"))
                    for r in ids]

        try:
            self.batch(requests(rids), atomic=True, idempotent=True)
        except NotFoundError:
            held = {r.role_id for r in self.user_roles(uid)}
            still = [r for r in rids if r in held]
            if still:
                self.batch(requests(still), atomic=True, idempotent=True)

    def batch_change_roles(self, user_id: str, add: Iterable[str], remove: Iterable[str]) -> None:
        """Add and remove roles of one user in ONE ``$batch`` change set (all or nothing).

        Should the change set fail because a role is already held or already gone (someone
        changed the user meanwhile), the additions and removals are sent again on their own,
        each of which treats those cases as success."""
        uid = guid(user_id, "user id")
        adds = list(dict.fromkeys(guid(r, "role id") for r in add))
        removes = list(dict.fromkeys(guid(r, "role id") for r in remove))
        if not adds or not removes:
            if adds:
                self.batch_associate(uid, adds)
            if removes:
                self.batch_disassociate(uid, removes)
            return
        reqs = ([BatchRequest("POST", self._abs(f"systemusers({uid})/systemuserroles_association/$ref"),
                              {"@odata.id": self._abs(f"roles({r})")}) for r in adds]
                + [BatchRequest("DELETE", self._abs(f"systemusers({uid})/systemuserroles_association({r})/$ref"))
                   for r in removes])
        try:
            self.batch(reqs, atomic=True, idempotent=True)
        except (ConflictError, NotFoundError):
            self.batch_associate(uid, adds)
            self.batch_disassociate(uid, removes)

    # --- solutions --------------------------------------------------------------------------

    def find_solution(self, unique_name: str) -> Solution | None:
        rows = self.get_all("solutions", {"$select": _SOLUTION_SELECT, "$filter": f"uniquename eq {quote(unique_name)}"})
        if not rows:
            return None
        r = rows[0]
        return Solution(_lower(r["solutionid"]) or "", r["uniquename"], r.get("friendlyname"), str(r.get("version") or ""),
                        bool(r.get("ismanaged")), r.get("installedon"))

    def stage_solution(self, package: BinaryIO | Path | str, *, timeout_s: float = 900.0) -> StageResult:
        """Upload and validate a package once (``StageSolution``), streaming it as base64 JSON.

        The body is produced block by block from the file, so memory use does not grow with the
        package size; the Content-Length is computed up front.  Staging has no lasting effect
        besides the upload, so it is retried like an idempotent call.
        """
        opener, size, _ = _open_package(package)
        body = lambda: stage_solution_body(opener)  # noqa: E731 - regenerated per attempt
        headers = {"Content-Type": "application/json", "Content-Length": str(stage_body_length(size))}
        response = self.http.request(
            "POST", "StageSolution", content=body, headers=headers, idempotent=True,
            timeout=Timeouts(connect=10, read=timeout_s, write=timeout_s, pool=timeout_s),
        )
        d = response.json()
        r = d.get("StageSolutionResults", d)
        details = r.get("SolutionDetails") or {}
        return StageResult(
            upload_id=str(r.get("StageSolutionUploadId") or ""),
            status=str(r.get("StageSolutionStatus") or ""),
            unique_name=details.get("SolutionUniqueName"),
            version=details.get("SolutionVersion"),
            is_managed=details.get("IsManaged"),
            validation_results=tuple(r.get("SolutionValidationResults") or ()),
            missing_dependencies=tuple(r.get("MissingDependencies") or ()),
        )

    def _start_import(self, action: str, upload_id: str, overwrite_unmanaged: bool, publish_workflows: bool) -> AsyncJob:
        body = {
            "OverwriteUnmanagedCustomizations": bool(overwrite_unmanaged),
            "PublishWorkflows": bool(publish_workflows),
            "SolutionParameters": {"StageSolutionUploadId": upload_id},
            "ComponentParameters": [],
        }
        d = self._json("POST", action, body=body, idempotent=False) or {}
        return AsyncJob(_lower(d.get("AsyncOperationId")) or "", d.get("ImportJobKey"))

    def import_solution_async(self, upload_id: str, *, overwrite_unmanaged: bool = True,
                              publish_workflows: bool = True) -> AsyncJob:
        """Start an import (non-idempotent: an unknown outcome raises AmbiguousOutcomeError)."""
        return self._start_import("ImportSolutionAsync", upload_id, overwrite_unmanaged, publish_workflows)

    def stage_and_upgrade_async(self, upload_id: str, *, overwrite_unmanaged: bool = True,
                                publish_workflows: bool = True) -> AsyncJob:
        """Start a managed upgrade (removes deleted components).  Non-idempotent."""
        return self._start_import("StageAndUpgradeAsync", upload_id, overwrite_unmanaged, publish_workflows)

    def get_async_operation(self, operation_id: str) -> AsyncOperation:
        oid = guid(operation_id, "async operation id")
        return _async_operation(self.get(f"asyncoperations({oid})", {"$select": _ASYNC_SELECT}))

    def find_running_solution_operations(self) -> list[AsyncOperation]:
        """Async operations not yet completed whose name says they import, upgrade or uninstall a
        solution -- what a second import would collide with."""
        rows = self.get_all("asyncoperations", {"$select": _ASYNC_SELECT, "$filter": "statecode ne 3"})
        ops = [_async_operation(r) for r in rows]
        return [op for op in ops if "solution" in (op.name or "").lower() or op.operation_type in SOLUTION_OPERATION_TYPES]

    def solution_import_result(self, import_job_key: str) -> ImportResult:
        key = str(import_job_key).strip()
        try:
            arg = guid(key, "import job key")
        except ConfigurationError:
            arg = quote(key)
        d = self.get(f"RetrieveSolutionImportResult(ImportJobId={arg})") or {}
        r = d.get("SolutionOperationResult", d)
        return ImportResult(str(r.get("Status") or ""), tuple(map(str, r.get("WarningMessages") or ())),
                            tuple(map(str, r.get("ErrorMessages") or ())))

    def get_import_job(self, import_job_id: str) -> ImportJob:
        jid = guid(import_job_id, "import job id")
        d = self.get(f"importjobs({jid})", {"$select": "importjobid,progress,data,solutionname,completedon"})
        return ImportJob(_lower(d.get("importjobid")) or jid, d.get("solutionname"), d.get("progress"),
                         d.get("data"), d.get("completedon"))

    def import_job_progress(self, import_job_id: str) -> float | None:
        """The import job's ``progress`` (0-100) alone -- not its XML log, which can be large."""
        jid = guid(import_job_id, "import job id")
        d = self.get(f"importjobs({jid})", {"$select": "progress"}) or {}
        value = d.get("progress")
        return None if value is None else float(value)

    def uninstall_solution_async(self, unique_name: str) -> AsyncJob:
        """Start an uninstall (non-idempotent)."""
        d = self._json("POST", "UninstallSolutionAsync", body={"SolutionUniqueName": unique_name}, idempotent=False) or {}
        return AsyncJob(_lower(d.get("AsyncOperationId")) or "")

    def delete_solution(self, solution_id: str) -> bool:
        sid = guid(solution_id, "solution id")
        try:
            self._json("DELETE", f"solutions({sid})")
        except NotFoundError:
            return False
        return True

    def publish_all(self) -> None:
        """Publish all customizations; publishing twice is harmless, so it is retried."""
        self._json("POST", "PublishAllXml", idempotent=True)


#: Async operation types of solution work (UNCONFIRMED, see infra/facts.py).
SOLUTION_OPERATION_TYPES = facts.SOLUTION_OPERATION_TYPES


def _role_privilege(p: Mapping[str, Any]) -> RolePrivilege:
    return RolePrivilege(
        privilege_id=_lower(p.get("PrivilegeId")) or "",
        depth=normalize_depth(p.get("Depth", "Basic")),
        privilege_name=p.get("PrivilegeName"),
        business_unit_id=_lower(p.get("BusinessUnitId")),
    )


def _async_operation(d: Mapping[str, Any]) -> AsyncOperation:
    return AsyncOperation(
        async_operation_id=_lower(d.get("asyncoperationid")) or "",
        name=d.get("name"),
        operation_type=d.get("operationtype"),
        state_code=int(d.get("statecode") or 0),
        status_code=int(d.get("statuscode") or 0),
        message=d.get("message"),
        friendly_message=d.get("friendlymessage"),
        completed_on=d.get("completedon"),
    )
