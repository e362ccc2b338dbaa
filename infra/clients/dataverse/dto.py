"""The Dataverse Web API's wire shapes as frozen dataclasses, and their JSON mapping.

One module for every shape the client reads or writes (as the Power Platform Terraform provider
keeps a ``dto.go`` per service): the columns each query selects sit next to the ``from_json`` that
reads them, so a column added to one is seen to be missing from the other.  Ids are lower-cased
(Dataverse answers GUIDs in either case; we compare and store them lower-case).  Table and action
names are those of the Web API reference (v9.2): ``systemuser``, ``role``, ``privilege``,
``solution``, ``asyncoperation``, ``importjob``; ``WhoAmI``, ``RetrieveRolePrivilegesRole``,
``StageSolution``, ``ImportSolutionAsync``, ``RetrieveSolutionImportResult``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from infra.clients.dataverse.operations import AsyncOperationState, AsyncOperationStatus
from infra.clients.errors import ConfigurationError
from infra.model.terms import PrivilegeDepth

__all__ = [
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
    "wire_depth",
    "USER_SELECT",
    "ROLE_SELECT",
    "PRIVILEGE_SELECT",
    "SOLUTION_SELECT",
    "ASYNC_OPERATION_SELECT",
    "IMPORT_JOB_SELECT",
]

#: ``$select`` of each table, in the order :meth:`from_json` reads the columns.
USER_SELECT = ("systemuserid,fullname,domainname,internalemailaddress,azureactivedirectoryobjectid,"
               "applicationid,isdisabled,islicensed,isintegrationuser,accessmode,_businessunitid_value")
ROLE_SELECT = ("roleid,name,_businessunitid_value,_parentrootroleid_value,_roletemplateid_value,"
               "ismanaged,iscustomizable,isinherited")
PRIVILEGE_SELECT = "privilegeid,name,canbebasic,canbelocal,canbedeep,canbeglobal"
SOLUTION_SELECT = "solutionid,uniquename,friendlyname,version,ismanaged,installedon"
ASYNC_OPERATION_SELECT = "asyncoperationid,name,operationtype,statecode,statuscode,message,friendlymessage,completedon"
IMPORT_JOB_SELECT = "importjobid,progress,data,solutionname,completedon"


def lower_id(value: Any) -> str | None:
    """A GUID from the wire in the form we compare (lower case); None for an empty value.

    Not :func:`infra.model.terms.guid`: what Dataverse answers is taken as it is (only its case
    normalised), where ids we send are checked."""
    return str(value).lower() if value else None


def wire_depth(value: Any) -> PrivilegeDepth:
    """A privilege depth as the Web API takes and gives it: a ``PrivilegeDepth`` member name (any
    case) or its number.  The security role editor's names (User, Organization, ...) are for people
    and are refused here, as anything else, with :class:`ConfigurationError`."""
    if isinstance(value, PrivilegeDepth):
        return value
    text = str(value).strip()
    try:
        depth = PrivilegeDepth.parse(text)
    except ValueError:
        depth = None
    if depth is None or (not text.isdigit() and text.lower() != depth.value.lower()):
        allowed = ", ".join(d.value for d in PrivilegeDepth)
        raise ConfigurationError(f"privilege depth {value!r} is not valid; allowed: {allowed}")
    return depth


@dataclass(frozen=True)
class WhoAmI:
    """The caller: ``WhoAmI`` function's ``UserId``, ``BusinessUnitId``, ``OrganizationId``."""

    user_id: str
    business_unit_id: str
    organization_id: str

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "WhoAmI":
        """From the ``WhoAmIResponse`` body; KeyError when a field is missing."""
        return cls(lower_id(d["UserId"]) or "", lower_id(d["BusinessUnitId"]) or "",
                   lower_id(d["OrganizationId"]) or "")


@dataclass(frozen=True)
class BusinessUnit:
    """A ``businessunit`` row (the root one has no parent)."""

    business_unit_id: str
    name: str
    parent_business_unit_id: str | None = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "BusinessUnit":
        """From a row selected with ``businessunitid,name`` (and the parent's lookup value, if any)."""
        return cls(lower_id(d["businessunitid"]) or "", d.get("name", ""),
                   lower_id(d.get("_parentbusinessunitid_value")))


@dataclass(frozen=True)
class SystemUser:
    """A ``systemuser`` row: a person (Entra object id) or an application user (client id).

    ``access_mode`` is ``accessmode`` (0 read-write, 4 non-interactive); ``is_licensed`` and
    ``is_integration_user`` may be absent (None) on older environments.
    """

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
        """From a row selected with :data:`USER_SELECT`."""
        return cls(
            systemuser_id=lower_id(d.get("systemuserid")) or "",
            azure_ad_object_id=lower_id(d.get("azureactivedirectoryobjectid")),
            application_id=lower_id(d.get("applicationid")),
            business_unit_id=lower_id(d.get("_businessunitid_value")),
            access_mode=d.get("accessmode"),
            is_disabled=bool(d.get("isdisabled")),
            is_licensed=d.get("islicensed"),
            is_integration_user=d.get("isintegrationuser"),
            domain_name=d.get("domainname"),
            internal_email_address=d.get("internalemailaddress"),
            full_name=d.get("fullname"),
        )

    @property
    def display_name(self) -> str:
        """Full name, else domain name, else the id: how messages name the user."""
        return self.full_name or self.domain_name or self.systemuser_id


@dataclass(frozen=True)
class Role:
    """A ``role`` row.  A root-business-unit role is copied into every child business unit; the
    copy's ``parent_root_role_id`` is the root role's id (None on the root role itself)."""

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
        """From a row selected with :data:`ROLE_SELECT` (``iscustomizable`` may be a BooleanManagedProperty)."""
        custom = d.get("iscustomizable")
        if isinstance(custom, Mapping):  # Dataverse BooleanManagedProperty {"Value": bool, ...}
            custom = custom.get("Value")
        return cls(
            role_id=lower_id(d.get("roleid")) or "",
            name=str(d.get("name") or ""),
            business_unit_id=lower_id(d.get("_businessunitid_value")),
            parent_root_role_id=lower_id(d.get("_parentrootroleid_value")),
            role_template_id=lower_id(d.get("_roletemplateid_value")),
            is_managed=bool(d.get("ismanaged")),
            is_customizable=None if custom is None else bool(custom),
            is_inherited=d.get("isinherited"),
        )

    @property
    def root_role_id(self) -> str:
        """The root business unit's role this one is (a copy of)."""
        return self.parent_root_role_id or self.role_id


@dataclass(frozen=True)
class Privilege:
    """A ``privilege`` catalog entry and the depths it may be granted at (``canbebasic`` ...)."""

    privilege_id: str
    name: str
    can_be_basic: bool
    can_be_local: bool
    can_be_deep: bool
    can_be_global: bool

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Privilege":
        """From a row selected with :data:`PRIVILEGE_SELECT`."""
        return cls(
            privilege_id=lower_id(d["privilegeid"]) or "",
            name=d["name"],
            can_be_basic=bool(d.get("canbebasic")),
            can_be_local=bool(d.get("canbelocal")),
            can_be_deep=bool(d.get("canbedeep")),
            can_be_global=bool(d.get("canbeglobal")),
        )

    @property
    def allowed_depths(self) -> tuple[PrivilegeDepth, ...]:
        """The depths this privilege allows, narrowest first."""
        flags = (self.can_be_basic, self.can_be_local, self.can_be_deep, self.can_be_global)
        return tuple(d for d, ok in zip(PrivilegeDepth.role_depths(), flags) if ok)


@dataclass(frozen=True)
class RolePrivilege:
    """A ``RolePrivilege`` complex type: one privilege held by a role (or a user) at a depth."""

    privilege_id: str
    depth: PrivilegeDepth
    privilege_name: str | None = None
    business_unit_id: str | None = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "RolePrivilege":
        """From an entry of ``RolePrivileges`` (RetrieveRolePrivilegesRole, RetrieveUserPrivileges)."""
        return cls(
            privilege_id=lower_id(d.get("PrivilegeId")) or "",
            depth=wire_depth(d.get("Depth", "Basic")),
            privilege_name=d.get("PrivilegeName"),
            business_unit_id=lower_id(d.get("BusinessUnitId")),
        )

    def to_json(self, default_business_unit_id: str | None = None) -> dict[str, Any]:
        """The body entry AddPrivilegesRole / ReplacePrivilegesRole take (``Depth`` by name)."""
        body: dict[str, Any] = {"PrivilegeId": self.privilege_id, "Depth": wire_depth(self.depth).value}
        bu = self.business_unit_id or default_business_unit_id
        if bu:
            body["BusinessUnitId"] = bu
        return body


@dataclass(frozen=True)
class Solution:
    """A ``solution`` row; ``installed_on`` is empty while the solution is not installed."""

    solution_id: str
    unique_name: str
    friendly_name: str | None
    version: str
    is_managed: bool
    installed_on: str | None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Solution":
        """From a row selected with :data:`SOLUTION_SELECT`."""
        return cls(lower_id(d["solutionid"]) or "", d["uniquename"], d.get("friendlyname"),
                   str(d.get("version") or ""), bool(d.get("ismanaged")), d.get("installedon"))


@dataclass(frozen=True)
class StageResult:
    """``StageSolutionResults``: the upload's id, validation status and the package's identity."""

    upload_id: str
    status: str
    unique_name: str | None
    version: str | None
    is_managed: bool | None
    validation_results: tuple[Mapping[str, Any], ...] = ()
    missing_dependencies: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "StageResult":
        """From the StageSolution response (the results object, or the body holding it)."""
        r = d.get("StageSolutionResults", d)
        details = r.get("SolutionDetails") or {}
        return cls(
            upload_id=str(r.get("StageSolutionUploadId") or ""),
            status=str(r.get("StageSolutionStatus") or ""),
            unique_name=details.get("SolutionUniqueName"),
            version=details.get("SolutionVersion"),
            is_managed=details.get("IsManaged"),
            validation_results=tuple(r.get("SolutionValidationResults") or ()),
            missing_dependencies=tuple(r.get("MissingDependencies") or ()),
        )

    @property
    def passed(self) -> bool:
        """Whether validation passed (``StageSolutionStatus`` Passed)."""
        return self.status.lower() == "passed"


@dataclass(frozen=True)
class AsyncJob:
    """What an ``...Async`` action answers: the async operation to follow and, for an import,
    the ``ImportJobKey`` (the import job's id)."""

    async_operation_id: str
    import_job_key: str | None = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any] | None) -> "AsyncJob":
        """From the action's response body (``AsyncOperationId``, ``ImportJobKey``)."""
        d = d or {}
        return cls(lower_id(d.get("AsyncOperationId")) or "", d.get("ImportJobKey"))


@dataclass(frozen=True)
class AsyncOperation:
    """An ``asyncoperation`` row (a system job); codes as in :mod:`~infra.clients.dataverse.operations`."""

    async_operation_id: str
    name: str | None
    operation_type: int | None
    state_code: int
    status_code: int
    message: str | None
    friendly_message: str | None
    completed_on: str | None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "AsyncOperation":
        """From a row selected with :data:`ASYNC_OPERATION_SELECT`."""
        return cls(
            async_operation_id=lower_id(d.get("asyncoperationid")) or "",
            name=d.get("name"),
            operation_type=d.get("operationtype"),
            state_code=int(d.get("statecode") or 0),
            status_code=int(d.get("statuscode") or 0),
            message=d.get("message"),
            friendly_message=d.get("friendlymessage"),
            completed_on=d.get("completedon"),
        )

    @property
    def is_completed(self) -> bool:
        """``statecode`` Completed (whatever the outcome)."""
        return self.state_code == AsyncOperationState.COMPLETED

    @property
    def succeeded(self) -> bool:
        """``statuscode`` Succeeded."""
        return self.status_code == AsyncOperationStatus.SUCCEEDED

    @property
    def failed(self) -> bool:
        """``statuscode`` Failed or Canceled."""
        return self.status_code in (AsyncOperationStatus.FAILED, AsyncOperationStatus.CANCELED)

    @property
    def is_running(self) -> bool:
        """Not completed yet."""
        return not self.is_completed


@dataclass(frozen=True)
class ImportResult:
    """``RetrieveSolutionImportResult``'s ``SolutionOperationResult``: status, warnings, errors."""

    status: str
    warnings: tuple[str, ...]
    errors: tuple[str, ...]

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "ImportResult":
        """From the function's response (the result object, or the body holding it)."""
        r = d.get("SolutionOperationResult", d)
        return cls(str(r.get("Status") or ""), tuple(map(str, r.get("WarningMessages") or ())),
                   tuple(map(str, r.get("ErrorMessages") or ())))

    @property
    def passed(self) -> bool:
        """Whether the import passed (``Status`` Passed)."""
        return self.status.lower() == "passed"


@dataclass(frozen=True)
class ImportJob:
    """An ``importjob`` row: ``progress`` in percent (0-100) and ``data``, the XML import log."""

    import_job_id: str
    solution_name: str | None
    progress: float | None
    data: str | None  # the XML import log
    completed_on: str | None

    @classmethod
    def from_json(cls, d: Mapping[str, Any], import_job_id: str = "") -> "ImportJob":
        """From a row selected with :data:`IMPORT_JOB_SELECT` (``import_job_id`` when it has none)."""
        return cls(lower_id(d.get("importjobid")) or import_job_id, d.get("solutionname"), d.get("progress"),
                   d.get("data"), d.get("completedon"))
