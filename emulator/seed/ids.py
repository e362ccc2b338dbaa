"""The identifiers of the default seed (default-seed.yaml) that tests, scripts and the benchmark rely on.

One place for them: code that names a seeded tenant, app, user, role or SKU imports it from here
instead of repeating the GUID (tests/emulator_tests/test_seed_ids.py checks every value against
the YAML).  Everything is fake and for tests only, the secrets included.  The SKU ids and role
template ids are Microsoft's own (the seed uses the real ones, as a tenant would show them); all
other GUIDs share the emulator's prefix ``6b1c2d3e-0000-4000-8000-``.

scripts/local-up.sh reads the deployer's with ``python -c 'from emulator.seed import ids; ...'``.
"""

from __future__ import annotations

from typing import Final

_PREFIX: Final = "6b1c2d3e-0000-4000-8000-"

# --- Entra: the tenant -----------------------------------------------------------------------------
TENANT_ID: Final = _PREFIX + "00000000a001"
DEFAULT_DOMAIN: Final = "contoso.example"

# --- Entra: app registrations (client id = appId; service principal id = the token's oid) ----------
#: The deploying app: System Administrator + System Customizer in Dataverse, Graph permissions to
#: manage users, licences and group members, a Power Platform management app; secret, certificate
#: (deployer-cert.pem) and a GitHub federated credential.
DEPLOYER_CLIENT_ID: Final = _PREFIX + "00000000d001"
DEPLOYER_SECRET: Final = "emu-deployer-secret-6f2b9c"
DEPLOYER_SERVICE_PRINCIPAL_ID: Final = _PREFIX + "00000000f001"
#: An app with too little: Salesperson in Dataverse, read-only Graph permissions.
LIMITED_CLIENT_ID: Final = _PREFIX + "00000000d002"
LIMITED_SECRET: Final = "emu-limited-secret-41ac7e"
LIMITED_SERVICE_PRINCIPAL_ID: Final = _PREFIX + "00000000f002"
#: Business Central's app registration (no credentials): the application user's application id.
BUSINESS_CENTRAL_APP_ID: Final = _PREFIX + "00000000d003"

# --- Entra: test OIDC issuers (workload identity federation) ---------------------------------------
GITHUB_ISSUER: Final = "https://token.actions.githubusercontent.com"
#: The subject of the deployer's federated credential (a GitHub Actions job in environment dev).
GITHUB_DEV_SUBJECT: Final = "repo:contoso/bc-sales:environment:dev"
AZURE_DEVOPS_ISSUER: Final = "https://vstoken.dev.azure.com/" + _PREFIX + "00000000ad00"
#: The subject of the limited app's federated credential (an Azure DevOps service connection).
AZURE_DEVOPS_LIMITED_SUBJECT: Final = "sc://contoso/bc-sales/bc-sales-limited"

# --- Entra: users and groups -----------------------------------------------------------------------
#: bc-integration@contoso.example: usage location US, a Sales licence.
INTEGRATION_USER_OBJECT_ID: Final = _PREFIX + "00000000e000"
INTEGRATION_USER_UPN: Final = "bc-integration@contoso.example"
#: new.hire@contoso.example: no usage location, no licence, not yet a Dataverse systemuser.
NEW_HIRE_OBJECT_ID: Final = _PREFIX + "00000000e001"
NEW_HIRE_UPN: Final = "new.hire@contoso.example"
#: sales01..sales30@contoso.example, each with a Sales licence.
SALESPEOPLE: Final = 30
#: "Dynamics 365 Sales users": a security group licensing its members with DYN365_ENTERPRISE_SALES.
SALES_LICENSING_GROUP_ID: Final = _PREFIX + "00000000c001"


def salesperson_object_id(n: int) -> str:
    """Entra object id of ``sales<nn>@contoso.example``, n = 1..30."""
    _check_salesperson(n)
    return f"{_PREFIX}0000000000{n:02d}"


def salesperson_upn(n: int) -> str:
    """``sales<nn>@contoso.example``, n = 1..30."""
    _check_salesperson(n)
    return f"sales{n:02d}@{DEFAULT_DOMAIN}"


# --- Entra: subscribed SKUs (Microsoft's SKU ids) --------------------------------------------------
SALES_SKU_ID: Final = "1e1a282c-9c54-43a2-9310-98ef728faace"          # DYN365_ENTERPRISE_SALES, 40 seats
TEAM_MEMBERS_SKU_ID: Final = "8e7a3d30-d97d-43ab-837c-d7701cef83dc"   # DYN365_ENTERPRISE_TEAM_MEMBERS, 5
BUSINESS_CENTRAL_SKU_ID: Final = "2880026b-2b0c-4251-8656-5d41ff11e3aa"  # DYN365_BUSCENTRAL_ESSENTIAL, 10

# --- Dataverse -------------------------------------------------------------------------------------
ORGANIZATION_ID: Final = _PREFIX + "00000000c000"
ROOT_BUSINESS_UNIT_ID: Final = _PREFIX + "00000000b001"                # "contoso"
CHILD_BUSINESS_UNIT_ID: Final = _PREFIX + "00000000b002"               # "Sales West"
#: Role template ids of the two administrator roles (Microsoft's own).
SYSTEM_ADMINISTRATOR_TEMPLATE_ID: Final = "627090ff-40a3-4053-8790-584edc5be201"
SYSTEM_CUSTOMIZER_TEMPLATE_ID: Final = "119f245c-3cc8-4b62-b31c-d1a046ced15d"
#: Roles of the root business unit (their copies in "Sales West" have derived ids).
SYSTEM_ADMINISTRATOR_ROLE_ID: Final = _PREFIX + "00000000a101"
SYSTEM_CUSTOMIZER_ROLE_ID: Final = _PREFIX + "00000000a102"
SALESPERSON_ROLE_ID: Final = _PREFIX + "00000000a103"
SALES_MANAGER_ROLE_ID: Final = _PREFIX + "00000000a104"
SALESPERSON_ROLE: Final = "Salesperson"
#: systemusers: the two apps' application users, the integration user (no roles, accessmode 0).
DEPLOYER_SYSTEMUSER_ID: Final = _PREFIX + "000000005001"
LIMITED_SYSTEMUSER_ID: Final = _PREFIX + "000000005002"
INTEGRATION_SYSTEMUSER_ID: Final = _PREFIX + "000000005e00"


def salesperson_systemuser_id(n: int) -> str:
    """Dataverse systemuserid of salesperson n = 1..30 (1-10 hold Salesperson; 26-30 are in Sales West)."""
    _check_salesperson(n)
    return f"{_PREFIX}0000000051{n:02d}"


def _check_salesperson(n: int) -> None:
    if not 1 <= n <= SALESPEOPLE:
        raise ValueError(f"the default seed has salespeople 1..{SALESPEOPLE}, not {n}")

