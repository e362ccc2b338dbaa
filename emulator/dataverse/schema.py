"""Entity types the emulator serves: properties and their types, keys, lookups, write rules.

The emulator is strict like Dataverse: a property that is not listed here is unknown (400), and
a body may only set the properties listed as creatable / updatable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GUID, STRING, INT, BOOL, DATETIME, OBJECT = "Edm.Guid", "Edm.String", "Edm.Int32", "Edm.Boolean", "Edm.DateTimeOffset", "Edm.Object"


@dataclass(frozen=True)
class Navigation:
    """A navigation property: single-valued lookups bind through ``<name>@odata.bind``."""

    name: str
    target: str                 # entity set name of the target
    value_property: str | None  # _x_value for single-valued lookups, None for collections


@dataclass(frozen=True)
class EntityType:
    logical_name: str
    set_name: str
    key: str
    properties: dict[str, str]
    creatable: frozenset[str] = frozenset()
    updatable: frozenset[str] = frozenset()
    navigations: dict[str, Navigation] = field(default_factory=dict)

    def lookup_for(self, name: str) -> str | None:
        """Property holding the id behind a single-valued navigation name (parentbusinessunitid)."""
        nav = self.navigations.get(name)
        return nav.value_property if nav else None


def _nav(*navs: Navigation) -> dict[str, Navigation]:
    return {n.name: n for n in navs}


BUSINESSUNIT = EntityType(
    "businessunit", "businessunits", "businessunitid",
    {"businessunitid": GUID, "name": STRING, "_parentbusinessunitid_value": GUID, "isdisabled": BOOL,
     "createdon": DATETIME, "modifiedon": DATETIME, "versionnumber": INT},
    navigations=_nav(Navigation("parentbusinessunitid", "businessunits", "_parentbusinessunitid_value")),
)

SYSTEMUSER = EntityType(
    "systemuser", "systemusers", "systemuserid",
    {"systemuserid": GUID, "fullname": STRING, "firstname": STRING, "lastname": STRING,
     "domainname": STRING, "internalemailaddress": STRING, "azureactivedirectoryobjectid": GUID,
     "applicationid": GUID, "isdisabled": BOOL, "islicensed": BOOL, "isintegrationuser": BOOL,
     "accessmode": INT, "_businessunitid_value": GUID, "createdon": DATETIME, "modifiedon": DATETIME,
     "versionnumber": INT},
    creatable=frozenset({"applicationid", "accessmode", "isdisabled", "firstname", "lastname",
                         "internalemailaddress", "domainname", "systemuserid", "businessunitid@odata.bind"}),
    updatable=frozenset({"accessmode", "isintegrationuser", "isdisabled", "firstname", "lastname",
                         "internalemailaddress"}),
    navigations=_nav(Navigation("businessunitid", "businessunits", "_businessunitid_value"),
                     Navigation("systemuserroles_association", "roles", None)),
)

ROLE = EntityType(
    "role", "roles", "roleid",
    {"roleid": GUID, "name": STRING, "description": STRING, "_businessunitid_value": GUID,
     "_parentrootroleid_value": GUID, "_roletemplateid_value": GUID, "_parentroleid_value": GUID,
     "ismanaged": BOOL, "iscustomizable": OBJECT, "isinherited": INT, "_solutionid_value": GUID,
     "createdon": DATETIME, "modifiedon": DATETIME, "versionnumber": INT},
    creatable=frozenset({"roleid", "name", "description", "isinherited", "businessunitid@odata.bind"}),
    updatable=frozenset({"name", "description", "isinherited"}),
    navigations=_nav(Navigation("businessunitid", "businessunits", "_businessunitid_value"),
                     Navigation("parentrootroleid", "roles", "_parentrootroleid_value"),
                     Navigation("roletemplateid", "roletemplates", "_roletemplateid_value"),
                     Navigation("systemuserroles_association", "systemusers", None)),
)

PRIVILEGE = EntityType(
    "privilege", "privileges", "privilegeid",
    {"privilegeid": GUID, "name": STRING, "accessright": INT, "canbebasic": BOOL, "canbelocal": BOOL,
     "canbedeep": BOOL, "canbeglobal": BOOL, "canbeentityreference": BOOL,
     "canbeparententityreference": BOOL, "versionnumber": INT},
)

SOLUTION = EntityType(
    "solution", "solutions", "solutionid",
    {"solutionid": GUID, "uniquename": STRING, "friendlyname": STRING, "version": STRING,
     "ismanaged": BOOL, "installedon": DATETIME, "isvisible": BOOL, "description": STRING,
     "_publisherid_value": GUID, "createdon": DATETIME, "modifiedon": DATETIME, "versionnumber": INT},
)

ASYNCOPERATION = EntityType(
    "asyncoperation", "asyncoperations", "asyncoperationid",
    {"asyncoperationid": GUID, "name": STRING, "operationtype": INT, "statecode": INT, "statuscode": INT,
     "message": STRING, "friendlymessage": STRING, "createdon": DATETIME, "startedon": DATETIME,
     "completedon": DATETIME, "correlationid": GUID, "versionnumber": INT},
)

IMPORTJOB = EntityType(
    "importjob", "importjobs", "importjobid",
    {"importjobid": GUID, "solutionname": STRING, "progress": INT, "data": STRING, "startedon": DATETIME,
     "completedon": DATETIME, "createdon": DATETIME, "_solutionid_value": GUID, "versionnumber": INT},
)

ENTITY_SETS: dict[str, EntityType] = {
    e.set_name: e for e in (BUSINESSUNIT, SYSTEMUSER, ROLE, PRIVILEGE, SOLUTION, ASYNCOPERATION, IMPORTJOB)
}
