"""Table definitions, the service document and the CSDL $metadata, generated from schema.py.

Everything here is derived from ``schema.ENTITY_SETS`` (and the operations the router serves), so
the metadata cannot drift from what the emulator serves. The few facts a schema property does not
carry (choice labels, primary name columns, schema names, object type codes) are in ``TABLE_FACTS``
and ``CHOICES``; a table another change adds to the schema gets sensible defaults.

Documents followed:
- EntityDefinitions, Attributes and the PicklistAttributeMetadata cast:
  https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api
- service document and CSDL: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-service-documents
- choice labels: the table reference pages, e.g.
  https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/systemuser (accessmode),
  .../reference/entities/role (isinherited), .../reference/entities/asyncoperation (statecode, statuscode)
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import quoteattr

from .errors import DataverseError, bad_property, bad_request
from .schema import BOOL, DATETIME, ENTITY_SETS, GUID, INT, OBJECT, STRING, EntityType

Record = dict[str, Any]
LANGUAGE = 1033
_NS = uuid.UUID("6b1c2d3e-0000-4000-8000-0000000d0000")
NOT_FOUND = "0x80040217"

#: Labels of choice (Picklist, State, Status) columns, by table and column.
CHOICES: dict[str, dict[str, tuple[str, dict[int, str]]]] = {
    "systemuser": {"accessmode": ("Picklist", {0: "Read-Write", 1: "Administrative", 2: "Read", 3: "Support User",
                                               4: "Non-interactive", 5: "Delegated Admin"})},
    "role": {"isinherited": ("Picklist", {0: "Team privileges only",
                                          1: "Direct User (Basic) access level and Team privileges"})},
    "asyncoperation": {
        "statecode": ("State", {0: "Ready", 1: "Suspended", 2: "Locked", 3: "Completed"}),
        "statuscode": ("Status", {0: "Waiting For Resources", 10: "Waiting", 20: "In Progress", 21: "Pausing",
                                  22: "Canceling", 30: "Succeeded", 31: "Failed", 32: "Canceled"}),
    },
}
#: Labels of yes/no columns whose labels are not Yes/No (GUESS where the reference was not checked).
BOOLEAN_LABELS: dict[tuple[str, str], tuple[str, str]] = {
    ("systemuser", "isdisabled"): ("Disabled", "Enabled"),
    ("businessunit", "isdisabled"): ("Disabled", "Enabled"),
    ("role", "ismanaged"): ("Managed", "Unmanaged"),
    ("solution", "ismanaged"): ("Managed", "Unmanaged"),
}


@dataclass(frozen=True)
class TableFacts:
    schema_name: str
    primary_name: str | None
    object_type_code: int | None
    display_name: str


TABLE_FACTS: dict[str, TableFacts] = {
    "businessunit": TableFacts("BusinessUnit", "name", 10, "Business Unit"),
    "systemuser": TableFacts("SystemUser", "fullname", 8, "User"),
    "role": TableFacts("Role", "name", 1036, "Security Role"),
    "privilege": TableFacts("Privilege", "name", 1023, "Privilege"),
    "solution": TableFacts("Solution", "friendlyname", 7100, "Solution"),
    "asyncoperation": TableFacts("AsyncOperation", "name", 4700, "System Job"),
    "importjob": TableFacts("ImportJob", None, 4428, "Import Job"),
}

_TYPES = {  # Edm type -> (AttributeType, metadata type name)
    STRING: ("String", "StringAttributeMetadata"), INT: ("Integer", "IntegerAttributeMetadata"),
    BOOL: ("Boolean", "BooleanAttributeMetadata"), DATETIME: ("DateTime", "DateTimeAttributeMetadata"),
    GUID: ("Uniqueidentifier", "UniqueIdentifierAttributeMetadata"),
    OBJECT: ("ManagedProperty", "ManagedPropertyAttributeMetadata"),
}
_KIND_TYPES = {"Picklist": "PicklistAttributeMetadata", "State": "StateAttributeMetadata",
               "Status": "StatusAttributeMetadata", "Lookup": "LookupAttributeMetadata",
               "BigInt": "BigIntAttributeMetadata"}


def _id(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts)))


def label(text: str | None, *key: str) -> Record:
    """A Label complex type in one language (1033)."""
    if text is None:
        return {"LocalizedLabels": [], "UserLocalizedLabel": None}
    localized = {"Label": text, "LanguageCode": LANGUAGE, "IsManaged": True, "MetadataId": _id("label", *key), "HasChanged": None}
    return {"LocalizedLabels": [localized], "UserLocalizedLabel": localized}


def facts(entity: EntityType) -> TableFacts:
    return TABLE_FACTS.get(entity.logical_name) or TableFacts(entity.logical_name, None, None, entity.logical_name)


def choice(entity: EntityType, prop: str) -> tuple[str, dict[int, str]] | None:
    return CHOICES.get(entity.logical_name, {}).get(prop)


def boolean_labels(entity: EntityType, prop: str) -> tuple[str, str]:
    return BOOLEAN_LABELS.get((entity.logical_name, prop), ("Yes", "No"))


def _lookup_target(entity: EntityType, prop: str) -> tuple[str, str] | None:
    """(navigation name, target logical name) behind a ``_x_value`` property."""
    for nav in entity.navigations.values():
        if nav.value_property == prop:
            target = ENTITY_SETS.get(nav.target)
            return nav.name, target.logical_name if target else nav.target.removesuffix("s")
    return None


# -- attributes -------------------------------------------------------------------------------
def attributes(entity: EntityType) -> list[Record]:
    """AttributeMetadata of every property the emulator serves for a table."""
    out = []
    for prop, edm in entity.properties.items():
        name, kind, type_name = prop, *_TYPES.get(edm, ("String", "StringAttributeMetadata"))
        extra: Record = {}
        lookup = _lookup_target(entity, prop)
        picked = choice(entity, prop)
        if lookup:
            name, kind, type_name = lookup[0], "Lookup", _KIND_TYPES["Lookup"]
            extra["Targets"] = [lookup[1]]
        elif picked:
            kind, type_name = picked[0], _KIND_TYPES[picked[0]]
        elif prop == "versionnumber":
            kind, type_name = "BigInt", _KIND_TYPES["BigInt"]
        if prop == entity.key:
            kind = "Uniqueidentifier"
        out.append({"@odata.type": f"#Microsoft.Dynamics.CRM.{type_name}", "MetadataId": _id(entity.logical_name, name),
                    "LogicalName": name, "SchemaName": name, "EntityLogicalName": entity.logical_name,
                    "AttributeType": kind, "AttributeTypeName": {"Value": f"{kind}Type"},
                    "IsPrimaryId": prop == entity.key, "IsPrimaryName": prop == facts(entity).primary_name,
                    "IsValidForCreate": prop in entity.creatable or f"{name}@odata.bind" in entity.creatable,
                    "IsValidForUpdate": prop in entity.updatable, "IsValidForRead": True,
                    "IsCustomAttribute": False, "DisplayName": label(name, entity.logical_name, name, "display"),
                    **extra, "_type_name": type_name, "_property": prop})
    return out


def option_set(entity: EntityType, attr: Record) -> Record | None:
    prop = attr["_property"]
    picked = choice(entity, prop)
    key = (entity.logical_name, prop)
    if picked:
        return {"MetadataId": _id(*key, "optionset"), "Name": f"{entity.logical_name}_{prop}", "IsGlobal": False,
                "OptionSetType": picked[0],
                "Options": [{"Value": v, "Label": label(text, *key, str(v)), "Description": label(None),
                             "Color": None, "IsManaged": True, "MetadataId": None, "HasChanged": None}
                            for v, text in picked[1].items()]}
    if attr["AttributeType"] == "Boolean":
        yes, no = boolean_labels(entity, prop)
        return {"MetadataId": _id(*key, "optionset"), "Name": f"{entity.logical_name}_{prop}", "IsGlobal": False,
                "OptionSetType": "Boolean", "TrueOption": {"Value": 1, "Label": label(yes, *key, "1")},
                "FalseOption": {"Value": 0, "Label": label(no, *key, "0")}}
    return None


def _public(attr: Record) -> Record:
    return {k: v for k, v in attr.items() if not k.startswith("_")}


# -- EntityDefinitions ------------------------------------------------------------------------
def entity_definition(entity: EntityType) -> Record:
    f = facts(entity)
    return {"MetadataId": _id(entity.logical_name), "LogicalName": entity.logical_name, "SchemaName": f.schema_name,
            "EntitySetName": entity.set_name, "LogicalCollectionName": entity.set_name,
            "CollectionSchemaName": f.schema_name + "s", "PrimaryIdAttribute": entity.key,
            "PrimaryNameAttribute": f.primary_name, "ObjectTypeCode": f.object_type_code,
            "DisplayName": label(f.display_name, entity.logical_name, "display"),
            "IsCustomEntity": False, "IsManaged": True, "IsActivity": False, "IsIntersect": False}


def definitions() -> dict[str, EntityType]:
    return {e.logical_name: e for e in ENTITY_SETS.values()}


_SEG = re.compile(r"^(?P<name>[\w.]+)(?:\((?P<key>[^)]*)\))?$")


def _key_match(key: str, record: Record) -> bool:
    key = key.strip()
    m = re.fullmatch(r"(\w+)\s*=\s*'([^']*)'", key)
    if m:
        return str(record.get(m.group(1), "")).lower() == m.group(2).lower()
    return key.lower() == str(record.get("MetadataId", "")).lower()


def _select(record: Record, params: dict[str, str], always: str = "MetadataId") -> Record:
    names = [n.strip() for n in (params.get("$select") or "").split(",") if n.strip()]
    if not names:
        return dict(record)
    for n in names:
        if n not in record:
            raise bad_property("EntityMetadata" if always == "MetadataId" else "AttributeMetadata", n)
    out = {n: record[n] for n in names}
    out.setdefault(always, record.get(always))
    if "@odata.type" in record:
        out["@odata.type"] = record["@odata.type"]
    return out


def _filter(records: list[Record], text: str | None) -> list[Record]:
    """``Name eq 'value'`` clauses joined by ``or`` / ``and`` (what clients send for table lookups)."""
    if not text:
        return records
    out = []
    for rec in records:
        ors = []
        for disjunct in re.split(r"\s+or\s+", text.strip()):
            ands = []
            for clause in re.split(r"\s+and\s+", disjunct.strip().strip("()")):
                m = re.fullmatch(r"\s*(\w+)\s+(eq|ne)\s+(?:'([^']*)'|(true|false|\d+))\s*", clause)
                if not m:
                    raise DataverseError(501, "0x80060888", f"The metadata $filter '{text}' is not supported by the emulator.")
                if m.group(1) not in rec:
                    raise bad_property("EntityMetadata", m.group(1))
                want = m.group(3) if m.group(3) is not None else m.group(4)
                same = str(rec[m.group(1)]).lower() == str(want).lower()
                ands.append(same if m.group(2) == "eq" else not same)
            ors.append(all(ands))
        if any(ors):
            out.append(rec)
    return out


def handle(base_url: str, method: str, path: str, params: dict[str, str]) -> tuple[int, Any]:
    """GET EntityDefinitions[(key)][/Attributes[(key)][/Microsoft.Dynamics.CRM.<Type>][/OptionSet]].
    Returns (status, body); other methods are refused (the emulator does not create tables)."""
    if method != "GET":
        raise DataverseError(501, "0x80060888", "Changing table definitions is not supported by the emulator.")
    segments = path.split("/")
    m = _SEG.match(segments[0])
    assert m and m.group("name") == "EntityDefinitions"
    tables = definitions()
    rows = [entity_definition(e) for e in tables.values()]
    ctx = f"{base_url}/$metadata#EntityDefinitions"
    if m.group("key") is None:
        if len(segments) > 1:
            raise DataverseError(404, "0x8006088a", f"Resource not found for the segment '{segments[1]}'.")
        picked = _filter(rows, params.get("$filter"))
        sel = params.get("$select")
        return 200, {"@odata.context": ctx + (f"({sel})" if sel else ""), "value": [_select(r, params) for r in picked]}
    key = m.group("key")
    row = next((r for r in rows if _key_match(key, r)), None)
    if row is None:
        raise DataverseError(404, NOT_FOUND, f"Could not find an entity with key {key}.")  # GUESS text
    entity = tables[row["LogicalName"]]
    if len(segments) == 1:
        out = _select(row, params)
        if params.get("$expand"):
            em = re.fullmatch(r"Attributes(?:\((.*)\))?", params["$expand"])
            if not em:
                raise bad_request(f"$expand={params['$expand']} is not supported on EntityDefinitions by the emulator.")
            inner = dict(p.split("=", 1) for p in (em.group(1) or "").split(";") if "=" in p)
            out["Attributes"] = [_select(_public(a), inner, "MetadataId") for a in _filter(attributes(entity), inner.get("$filter"))]
        sel = params.get("$select")
        return 200, {"@odata.context": ctx + (f"({sel})" if sel else "") + "/$entity", **out}
    return _attributes(ctx + f"({row['MetadataId']})", entity, segments[1:], params)


def _attributes(ctx: str, entity: EntityType, segments: list[str], params: dict[str, str]) -> tuple[int, Any]:
    m = _SEG.match(segments[0])
    if not m or m.group("name") != "Attributes":
        raise DataverseError(404, "0x8006088a", f"Resource not found for the segment '{segments[0]}'.")
    attrs = attributes(entity)
    key, rest = m.group("key"), segments[1:]
    cast = None
    if rest and rest[0].startswith("Microsoft.Dynamics.CRM."):
        cast = rest[0].removeprefix("Microsoft.Dynamics.CRM.")
        if cast not in {*_KIND_TYPES.values(), *(t for _, t in _TYPES.values())}:
            raise DataverseError(404, "0x8006088a", f"Resource not found for the segment '{rest[0]}'.")
        attrs = [a for a in attrs if a["_type_name"] == cast]
        rest = rest[1:]
    if key is not None:
        found = next((a for a in attrs if _key_match(key, a)), None)
        if found is None:
            raise DataverseError(404, NOT_FOUND, f"Could not find an attribute with key {key}.")  # GUESS text
        attrs = [found]
    if rest == ["OptionSet"] and key is not None:
        opts = option_set(entity, attrs[0])
        if opts is None:
            raise DataverseError(404, "0x8006088a", "Resource not found for the segment 'OptionSet'.")
        return 200, {"@odata.context": f"{ctx}/Attributes/OptionSet/$entity", **_select(opts, params)}
    if rest:
        raise DataverseError(404, "0x8006088a", f"Resource not found for the segment '{rest[0]}'.")
    expand = _expand_option_sets(params.get("$expand"))
    values = []
    for attr in _filter(attrs, params.get("$filter")):
        out = _select(_public(attr), params)
        for nav, inner in expand.items():
            if cast not in ("PicklistAttributeMetadata", "StateAttributeMetadata", "StatusAttributeMetadata",
                            "BooleanAttributeMetadata"):
                raise bad_request(f"Could not find a property named '{nav}' on type 'Microsoft.Dynamics.CRM.AttributeMetadata'; "
                                  "cast the attributes to the metadata type that has it.")
            opts = option_set(entity, attr) if nav == "OptionSet" else None
            out[nav] = _select(opts, inner) if opts else None
        values.append(out)
    path = f"{ctx}/Attributes" + (f"/Microsoft.Dynamics.CRM.{cast}" if cast else "")
    if key is not None:
        return 200, {"@odata.context": path + "/$entity", **values[0]}
    return 200, {"@odata.context": path, "value": values}


def _expand_option_sets(text: str | None) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for part in [p for p in re.split(r",(?![^(]*\))", text or "") if p.strip()]:
        m = re.fullmatch(r"\s*(OptionSet|GlobalOptionSet)\s*(?:\((.*)\))?\s*", part)
        if not m:
            raise bad_request(f"$expand={text} is not supported on attribute metadata by the emulator.")
        out[m.group(1)] = dict(p.split("=", 1) for p in (m.group(2) or "").split(";") if "=" in p)
    return out


# -- service document and CSDL ----------------------------------------------------------------
def service_document(base_url: str) -> Record:
    names = sorted([*ENTITY_SETS, "EntityDefinitions"])
    return {"@odata.context": f"{base_url}/$metadata",
            "value": [{"name": n, "kind": "EntitySet", "url": n} for n in names]}


#: Complex types the served operations return or take (name -> [(property, type)]).
COMPLEX_TYPES: dict[str, list[tuple[str, str]]] = {
    "WhoAmIResponse": [("BusinessUnitId", GUID), ("UserId", GUID), ("OrganizationId", GUID)],
    "RolePrivilege": [("Depth", "mscrm.PrivilegeDepth"), ("PrivilegeId", GUID), ("BusinessUnitId", GUID),
                      ("PrivilegeName", STRING)],
    "RetrieveRolePrivilegesRoleResponse": [("RolePrivileges", "Collection(mscrm.RolePrivilege)")],
    "RetrieveUserPrivilegesResponse": [("RolePrivileges", "Collection(mscrm.RolePrivilege)")],
    "SolutionDetails": [("SolutionUniqueName", STRING), ("SolutionFriendlyName", STRING), ("SolutionVersion", STRING),
                        ("IsManaged", BOOL), ("PublisherName", STRING), ("SolutionDescription", STRING),
                        ("IsConvertedSolution", BOOL)],
    "SolutionValidationResult": [("SolutionValidationResultType", STRING), ("Message", STRING), ("ErrorCode", INT),
                                 ("AdditionalInfo", STRING)],
    "MissingDependency": [("RequiredComponentSchemaName", STRING), ("RequiredComponentDisplayName", STRING),
                          ("RequiredSolutionName", STRING), ("RequiredComponentType", INT)],
    "StageSolutionResults": [("StageSolutionUploadId", STRING), ("StageSolutionStatus", STRING),
                             ("SolutionDetails", "mscrm.SolutionDetails"),
                             ("SolutionValidationResults", "Collection(mscrm.SolutionValidationResult)"),
                             ("MissingDependencies", "Collection(mscrm.MissingDependency)")],
    "StageSolutionResponse": [("StageSolutionResults", "mscrm.StageSolutionResults")],
    "ImportSolutionAsyncResponse": [("AsyncOperationId", GUID), ("ImportJobKey", STRING)],
    "StageAndUpgradeAsyncResponse": [("AsyncOperationId", GUID), ("ImportJobKey", STRING)],
    "UninstallSolutionAsyncResponse": [("AsyncOperationId", GUID)],
    "SolutionOperationResult": [("Status", STRING), ("WarningMessages", "Collection(Edm.String)"),
                                ("ErrorMessages", "Collection(Edm.String)")],
    "RetrieveSolutionImportResultResponse": [("SolutionOperationResult", "mscrm.SolutionOperationResult")],
}
_IMPORT_PARAMS = [("OverwriteUnmanagedCustomizations", BOOL), ("PublishWorkflows", BOOL),
                  ("CustomizationFile", "Edm.Binary"), ("ImportJobId", GUID), ("HoldingSolution", BOOL)]
#: (name, kind, bound entity type or None, parameters, return type or None)
OPERATIONS: list[tuple[str, str, str | None, list[tuple[str, str]], str | None]] = [
    ("WhoAmI", "Function", None, [], "mscrm.WhoAmIResponse"),
    ("RetrieveRolePrivilegesRole", "Function", None, [("RoleId", GUID)], "mscrm.RetrieveRolePrivilegesRoleResponse"),
    ("RetrieveSolutionImportResult", "Function", None, [("ImportJobId", GUID)], "mscrm.RetrieveSolutionImportResultResponse"),
    ("RetrieveUserPrivileges", "Function", "systemuser", [], "mscrm.RetrieveUserPrivilegesResponse"),
    ("AddPrivilegesRole", "Action", "role", [("Privileges", "Collection(mscrm.RolePrivilege)")], None),
    ("ReplacePrivilegesRole", "Action", "role", [("Privileges", "Collection(mscrm.RolePrivilege)")], None),
    ("RemovePrivilegeRole", "Action", "role", [("Privilege", "mscrm.privilege")], None),
    ("StageSolution", "Action", None, [("CustomizationFile", "Edm.Binary")], "mscrm.StageSolutionResponse"),
    ("ImportSolutionAsync", "Action", None, [*_IMPORT_PARAMS, ("SolutionParameters", "Edm.String")],
     "mscrm.ImportSolutionAsyncResponse"),
    ("StageAndUpgradeAsync", "Action", None, [*_IMPORT_PARAMS, ("SolutionParameters", "Edm.String")],
     "mscrm.StageAndUpgradeAsyncResponse"),
    ("ImportSolution", "Action", None, _IMPORT_PARAMS, None),
    ("UninstallSolutionAsync", "Action", None, [("SolutionUniqueName", STRING)], "mscrm.UninstallSolutionAsyncResponse"),
    ("PublishAllXml", "Action", None, [], None),
]


def csdl(base_url: str) -> str:
    """The CSDL $metadata document (OData 4.0, namespace Microsoft.Dynamics.CRM, alias mscrm)."""
    lines = ['<?xml version="1.0" encoding="utf-8"?>',
             '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
             "<edmx:DataServices>",
             '<Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">',
             '<EntityType Name="crmbaseentity" Abstract="true"/>']
    for entity in ENTITY_SETS.values():
        lines.append(f'<EntityType Name="{entity.logical_name}" BaseType="mscrm.crmbaseentity">')
        lines.append(f'<Key><PropertyRef Name="{entity.key}"/></Key>')
        for prop, edm in entity.properties.items():
            edm_type = "Edm.String" if edm == OBJECT else edm  # iscustomizable: a BooleanManagedProperty, served as JSON
            lines.append(f'<Property Name="{prop}" Type="{edm_type}"' + (' Nullable="false"' if prop == entity.key else "") + "/>")
        for nav in entity.navigations.values():
            target = ENTITY_SETS.get(nav.target)
            target_type = f"mscrm.{target.logical_name}" if target else "mscrm.crmbaseentity"
            if nav.value_property:
                lines.append(f'<NavigationProperty Name="{nav.name}" Type="{target_type}">'
                             f'<ReferentialConstraint Property="{nav.value_property}" '
                             f'ReferencedProperty="{target.key if target else nav.value_property}"/></NavigationProperty>')
            else:
                lines.append(f'<NavigationProperty Name="{nav.name}" Type="Collection({target_type})"/>')
        lines.append("</EntityType>")
    lines.append('<EnumType Name="PrivilegeDepth"><Member Name="Basic" Value="0"/><Member Name="Local" Value="1"/>'
                 '<Member Name="Deep" Value="2"/><Member Name="Global" Value="3"/><Member Name="RecordFilter" Value="4"/></EnumType>')
    for name, props in COMPLEX_TYPES.items():
        lines.append(f'<ComplexType Name="{name}">' + "".join(f'<Property Name="{p}" Type="{t}"/>' for p, t in props)
                     + "</ComplexType>")
    for name, kind, bound, params, returns in OPERATIONS:
        attrs = ' IsBound="true"' if bound else ""
        body = f'<Parameter Name="entity" Type="mscrm.{bound}" Nullable="false"/>' if bound else ""
        body += "".join(f'<Parameter Name="{p}" Type="{t}"/>' for p, t in params)
        if returns:
            body += f'<ReturnType Type="{returns}" Nullable="false"/>'
        lines.append(f"<{kind} Name={quoteattr(name)}{attrs}>{body}</{kind}>")
    lines.append('<EntityContainer Name="System">')
    for entity in ENTITY_SETS.values():
        lines.append(f'<EntitySet Name="{entity.set_name}" EntityType="mscrm.{entity.logical_name}">'
                     + "".join(f'<NavigationPropertyBinding Path="{n.name}" Target="{n.target}"/>'
                               for n in entity.navigations.values() if n.target in ENTITY_SETS)
                     + "</EntitySet>")
    for name, kind, bound, _params, _returns in OPERATIONS:
        if not bound:
            tag = "FunctionImport" if kind == "Function" else "ActionImport"
            ref = "Function" if kind == "Function" else "Action"
            lines.append(f'<{tag} Name="{name}" {ref}="mscrm.{name}"/>')
    lines += ["</EntityContainer>", "</Schema>", "</edmx:DataServices>", "</edmx:Edmx>"]
    return "\n".join(lines)
