"""Well-known identifiers and service facts the project depends on.

Everything here comes from ``shared/reference`` (Microsoft's public documentation and the
Business Central base application).  Facts that no primary source confirmed are kept in this one
module and marked ``UNCONFIRMED`` so that a correction is a one-line change with an obvious home.
Values only: the rules that use them live with their callers (privilege names in
:mod:`infra.model.privileges`, privilege depths in :mod:`infra.model.terms`).
"""

from __future__ import annotations

from typing import Final

from infra.model.terms import PrivilegeDepth

# --- Business Central integration -------------------------------------------------------------

SALES_INTEGRATION_SOLUTION: Final = "MicrosoftDynamicsNavIntegration"
BASE_INTEGRATION_SOLUTION: Final = "bcbi_CdsBaseIntegration"

#: Root-business-unit role ids Business Central looks roles up by.
INTEGRATION_ADMINISTRATOR_ROLE_ID: Final = "8c8d4f51-a72b-e511-80d9-3863bb349780"
INTEGRATION_USER_ROLE_ID: Final = "6f960e32-a72b-e511-80d9-3863bb349780"
BASE_INTEGRATION_ROLE_ID: Final = "a2b18661-9ff5-e911-a812-000d3a0b9028"
#: UNCONFIRMED: Business Central never references the Product Availability User role by id, so no
#: fixed id is known.  The role is found by name in the root business unit and, when we create it,
#: gets an id of our own choosing (stable across environments so that stacks agree): the role file
#: has no `id`, and infra.model.roles.derived_role_id derives uuid5(DERIVED_ROLE_ID_NAMESPACE,
#: 'product availability user') = 3d3860f5-d4cc-58c7-9d2c-ed57d6eabcc6 (also used by the stand-in).
PRODUCT_AVAILABILITY_USER_ROLE_ID: Final[str | None] = None

#: The three roles the program manages: plan key -> role name in roles/*.yaml.
MANAGED_ROLES: Final[dict[str, str]] = {
    "integration-administrator": "Integration Administrator",
    "integration-user": "Integration User",
    "product-availability-user": "Product Availability User",
}

SYSTEM_ADMINISTRATOR_TEMPLATE_ID: Final = "627090ff-40a3-4053-8790-584edc5be201"
SYSTEM_CUSTOMIZER_TEMPLATE_ID: Final = "119f245c-3cc8-4b62-b31c-d1a046ced15d"

#: UNCONFIRMED: async operation types of solution work.  Only 211 (StageAndUpgrade) is stated in
#: the reference, itself marked unconfirmed; the clients also match running operations by name.
SOLUTION_OPERATION_TYPES: Final = frozenset({211})

#: Dataverse access modes (systemuser.accessmode).
ACCESS_MODE_READ_WRITE: Final = 0
ACCESS_MODE_NON_INTERACTIVE: Final = 4

# --- Entra ID / Microsoft Graph ----------------------------------------------------------------

DATAVERSE_RESOURCE_APP_ID: Final = "00000007-0000-0000-c000-000000000000"
DATAVERSE_USER_IMPERSONATION_SCOPE_ID: Final = "78ce3f0f-a1ce-49c2-8cde-64b5c0896db4"
POWER_PLATFORM_API_APP_ID: Final = "8578e004-a5c6-46e7-913e-12f58912df43"
FEDERATED_TOKEN_AUDIENCE: Final = "api://AzureADTokenExchange"
GITHUB_ACTIONS_ISSUER: Final = "https://token.actions.githubusercontent.com"

#: SKU part number -> skuId.  Only the ids confirmed in shared/reference are listed; the tenant's
#: own ``subscribedSkus`` is the source of truth and wins whenever credentials are present.  Stack
#: config can add or override entries (``skuIds``) for part numbers not listed here, e.g.
#: D365_SALES_PRO, DYN365_SALES_PREMIUM, DYN365_ENTERPRISE_PLAN1 (ids UNCONFIRMED, not listed).
SKU_IDS: Final[dict[str, str]] = {
    "DYN365_ENTERPRISE_SALES": "1e1a282c-9c54-43a2-9310-98ef728faace",
    "DYN365_ENTERPRISE_SALES_CUSTOMERSERVICE": "8edc2cf8-6438-4fa9-b6e3-aa1660c640cc",
    "DYN365_ENTERPRISE_TEAM_MEMBERS": "8e7a3d30-d97d-43ab-837c-d7701cef83dc",
    "DYN365_BUSCENTRAL_ESSENTIAL": "2880026b-2b0c-4251-8656-5d41ff11e3aa",
}

#: Sign-in (authority) host of each national cloud, by the short name ``authorityHost`` accepts:
#: "National clouds" in the Microsoft identity platform docs.  The one table: the config model and
#: the clients read it from here.
AUTHORITY_HOSTS: Final[dict[str, str]] = {
    "public": "https://login.microsoftonline.com",
    "usgov": "https://login.microsoftonline.us",
    "china": "https://login.chinacloudapi.cn",
}

# --- Dataverse privilege names -----------------------------------------------------------------

#: The eight privilege verbs (the part of a privilege name after ``prv``), in the editor's order.
PRIVILEGE_VERBS: Final = ("Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share")
#: The four role depths' Web API names, from the one definition (:class:`PrivilegeDepth`).  Kept
#: for infra/providers/security_role.py, which reads it; new code uses PrivilegeDepth directly.
DEPTHS: Final = tuple(d.value for d in PrivilegeDepth.role_depths())

#: Table logical name -> privilege stem, where the stem is not simply the schema name.
PRIVILEGE_STEM_EXCEPTIONS: Final[dict[str, str]] = {
    "systemuser": "User",
    "salesorder": "Order",
    "annotation": "Note",
    "incident": "Incident",
    "activitypointer": "Activity",
    "savedquery": "Query",
    "attribute": "Attribute",
    "relationship": "Relationship",
    "appmodule": "AppModule",
    "msdyn_postconfig": "msdyn_PostConfig",
}

#: Table logical name -> schema name (the privilege stem unless an exception above applies).
TABLE_SCHEMA_NAMES: Final[dict[str, str]] = {
    "account": "Account",
    "actioncard": "ActionCard",
    "connection": "Connection",
    "contact": "Contact",
    "opportunity": "Opportunity",
    "post": "Post",
    "userentityuisettings": "UserEntityUISettings",
    "invoice": "Invoice",
    "product": "Product",
    "dynamicproperty": "DynamicProperty",
    "dynamicpropertyassociation": "DynamicPropertyAssociation",
    "dynamicpropertyoptionsetitem": "DynamicPropertyOptionSetItem",
    "quote": "Quote",
    "transactioncurrency": "TransactionCurrency",
    "organization": "Organization",
    "role": "Role",
    "usersettings": "UserSettings",
    "pluginassembly": "PluginAssembly",
    "plugintype": "PluginType",
    "sdkmessage": "SdkMessage",
    "sdkmessageprocessingstep": "SdkMessageProcessingStep",
    "sdkmessageprocessingstepimage": "SdkMessageProcessingStepImage",
    "webresource": "WebResource",
    "systemform": "SystemForm",
    # UNCONFIRMED: the exact casing of the Business Central solution's custom tables' privilege
    # stems.  Custom tables keep their schema-name casing; lower case is what the reference shows.
    "nav_connection": "nav_connection",
    "nav_accountstatistics": "nav_accountstatistics",
}

#: Privileges that belong to no table (name -> the only depth it allows).
TABLELESS_PRIVILEGES: Final[dict[str, str]] = {
    "prvActOnBehalfOfAnotherUser": "Global",
}


# --- Role files and the solution stand-in (infra.model) ------------------------------------------

#: Namespace of the role ids we derive ourselves (uuid5(namespace, role name folded to lower case)).
#: Used for roles with no known fixed id -- today only Product Availability User.  UNCONFIRMED that
#: Microsoft's solution ships that role with a fixed id at all; if it does, put the id in the role
#: file and the derived id is no longer used.  Never change this value: it would change the id of
#: every derived role and make every stack replace those roles.
DERIVED_ROLE_ID_NAMESPACE: Final = "0c6f2f0e-5b8e-4d0a-9d5e-b5c5a1e4f7a1"

#: Unique name and publisher prefix of our stand-in solution (solution/standin).  It is not
#: Microsoft's package; it may only be imported into the local emulator.
STANDIN_SOLUTION_UNIQUE_NAME: Final = "bcsales_IntegrationStandIn"
STANDIN_PUBLISHER_PREFIX: Final = "bcs"

#: Verbs a table's privileges exist for, where not all eight do (reference: "Organization has only
#: Read, Write, AppendTo").  Checked offline by the role-file loader.
TABLE_VERBS: Final[dict[str, tuple[str, ...]]] = {
    "organization": ("Read", "Write", "AppendTo"),
}

#: Depths a table's privileges allow, where known offline (reference: "User Entity UI Settings
#: allows Basic only").  Everything else is checked at run time against the privilege catalog.
TABLE_DEPTHS: Final[dict[str, tuple[str, ...]]] = {
    "userentityuisettings": ("Basic",),
}

#: Table logical name -> display name a Dynamics administrator recognises (security-role editor).
TABLE_DISPLAY_NAMES: Final[dict[str, str]] = {
    "account": "Account",
    "actioncard": "Action Card",
    "activitypointer": "Activity",
    "annotation": "Note",
    "appmodule": "Model-driven App",
    "attribute": "Field",
    "connection": "Connection",
    "contact": "Contact",
    "dynamicproperty": "Property",
    "dynamicpropertyassociation": "Property Association",
    "dynamicpropertyoptionsetitem": "Property Option Set Item",
    "incident": "Case",
    "invoice": "Invoice",
    "msdyn_postconfig": "Post Configuration",
    "nav_accountstatistics": "Business Central Account Statistics",
    "nav_connection": "Business Central Connection",
    "opportunity": "Opportunity",
    "organization": "Organization",
    "pluginassembly": "Plug-in Assembly",
    "plugintype": "Plug-in Type",
    "post": "Post",
    "product": "Product",
    "quote": "Quote",
    "relationship": "Relationship",
    "role": "Security Role",
    "salesorder": "Order",
    "savedquery": "View",
    "sdkmessage": "SDK Message",
    "sdkmessageprocessingstep": "SDK Message Processing Step",
    "sdkmessageprocessingstepimage": "SDK Message Processing Step Image",
    "systemform": "System Form",
    "systemuser": "User",
    "transactioncurrency": "Currency",
    "userentityuisettings": "User Entity UI Settings",
    "usersettings": "User Settings",
    "webresource": "Web Resource",
}

#: Table-less privilege name -> display name.
TABLELESS_DISPLAY_NAMES: Final[dict[str, str]] = {
    "prvActOnBehalfOfAnotherUser": "Act on Behalf of Another User",
}

# --- Entra usage locations -----------------------------------------------------------------------

#: ISO 3166-1 alpha-2 country codes (the 249 officially assigned ones, as listed by the IANA time
#: zone database's iso3166.tab).  A user's ``usageLocation`` must be one of them; Graph refuses a
#: licence for a user without one.
ISO_3166_ALPHA2: Final[frozenset[str]] = frozenset({
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
})
