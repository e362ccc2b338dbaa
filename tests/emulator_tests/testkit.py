"""Helpers for tests that talk to the emulator's Dataverse surface: an httpx client with a real
token, the seed's ids under short names, and a builder for small solution zips (so tests never
depend on the project's solution/ folder)."""

from __future__ import annotations

import io
import ssl
import zipfile
from typing import Any, Iterable
from xml.sax.saxutils import quoteattr

import httpx

from emulator.seed import ids

DEPLOYER = (ids.DEPLOYER_CLIENT_ID, ids.DEPLOYER_SECRET)
LIMITED = (ids.LIMITED_CLIENT_ID, ids.LIMITED_SECRET)
ROOT_BU = ids.ROOT_BUSINESS_UNIT_ID
CHILD_BU = ids.CHILD_BUSINESS_UNIT_ID
DEPLOYER_USER = ids.DEPLOYER_SYSTEMUSER_ID
LIMITED_USER = ids.LIMITED_SYSTEMUSER_ID
SYSADMIN_ROLE = ids.SYSTEM_ADMINISTRATOR_ROLE_ID
SALESPERSON_ROLE = ids.SALESPERSON_ROLE_ID
SALES01_USER = ids.salesperson_systemuser_id(1)
SALES26_USER = ids.salesperson_systemuser_id(26)
INTEGRATION_USER = ids.INTEGRATION_SYSTEMUSER_ID


def tls(emu: Any) -> ssl.SSLContext:
    """Verification against the emulator's CA only."""
    return ssl.create_default_context(cafile=emu.urls.ca_bundle)


def get_token(emu: Any, client: tuple[str, str] = DEPLOYER, scope: str | None = None) -> str:
    """Client-credentials token from the emulator's Entra endpoint (plain POST)."""
    scope = scope or emu.urls.environment_url + "/.default"
    r = httpx.post(f"{emu.urls.authority}/oauth2/v2.0/token", verify=tls(emu), timeout=10,
                   data={"grant_type": "client_credentials", "client_id": client[0], "client_secret": client[1],
                         "scope": scope})
    r.raise_for_status()
    return str(r.json()["access_token"])


class DvClient:
    """httpx client on https://<emulator>/api/data/v9.2/ with the OData headers and a bearer token."""

    def __init__(self, emu: Any, client: tuple[str, str] = DEPLOYER, token: str | None = None) -> None:
        self.emu = emu
        self.base = emu.urls.environment_url + "/api/data/v9.2/"
        self.http = httpx.Client(base_url=self.base, verify=tls(emu), timeout=60, headers={
            "Authorization": f"Bearer {token or get_token(emu, client)}", "Accept": "application/json",
            "OData-MaxVersion": "4.0", "OData-Version": "4.0"})

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.http.post(path, json=json, **kw)

    def patch(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.http.patch(path, json=json, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.delete(path, **kw)

    def value(self, path: str, **kw: Any) -> list[dict[str, Any]]:
        r = self.get(path, **kw)
        assert r.status_code == 200, r.text
        return list(r.json()["value"])

    def close(self) -> None:
        self.http.close()


def solution_zip(unique_name: str = "emu_Test", version: str = "1.0.0.0", managed: bool = True, *,
                 roles: Iterable[tuple[str, str, dict[str, str]]] = (), tables: dict[str, str] | None = None,
                 missing: Iterable[tuple[str, str]] = (), padding: int = 0, publisher: str = "emutest") -> bytes:
    """A minimal but well-formed solution package.

    roles: (id, name, {privilege name: level}); tables: {schema name: "UserOwned" | "OrganizationOwned"};
    missing: (required schema name, required solution name); padding: bytes of incompressible filler.
    """
    deps = "".join(f'<MissingDependency><Required type="1" schemaName={quoteattr(s)} solution={quoteattr(sol + " (1.0)")} />'
                   f'<Dependent type="1" schemaName="x" /></MissingDependency>' for s, sol in missing)
    solution_xml = (
        '<ImportExportXml version="9.2.0.0" SolutionPackageVersion="9.2" languagecode="1033" generatedBy="emutest">'
        f"<SolutionManifest><UniqueName>{unique_name}</UniqueName>"
        f'<LocalizedNames><LocalizedName description={quoteattr(unique_name + " (test)")} languagecode="1033" /></LocalizedNames>'
        f"<Descriptions /><Version>{version}</Version><Managed>{int(managed)}</Managed>"
        f"<Publisher><UniqueName>{publisher}</UniqueName><CustomizationPrefix>emu</CustomizationPrefix>"
        "<CustomizationOptionValuePrefix>10000</CustomizationOptionValuePrefix></Publisher>"
        f"<RootComponents /><MissingDependencies>{deps}</MissingDependencies></SolutionManifest></ImportExportXml>")
    ents = "".join(f"<Entity><Name LocalizedName={quoteattr(n)}>{n}</Name><EntityInfo><entity Name={quoteattr(n.lower())}>"
                   f"<OwnershipTypeMask>{own}</OwnershipTypeMask></entity></EntityInfo></Entity>"
                   for n, own in (tables or {}).items())
    rls = "".join(f'<Role id="{{{rid}}}" name={quoteattr(name)}><IsCustomizable>1</IsCustomizable><RolePrivileges>'
                  + "".join(f'<RolePrivilege name={quoteattr(p)} level={quoteattr(lv)} />' for p, lv in privs.items())
                  + "</RolePrivileges></Role>" for rid, name, privs in roles)
    custom = f"<ImportExportXml><Entities>{ents}</Entities><Roles>{rls}</Roles><Workflows /><Languages /></ImportExportXml>"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("solution.xml", solution_xml)
        zf.writestr("customizations.xml", custom)
        zf.writestr("[Content_Types].xml", '<?xml version="1.0" encoding="utf-8"?><Types xmlns='
                    '"http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" '
                    'ContentType="application/octet-stream" /></Types>')
        if padding:
            import os
            zf.writestr(zipfile.ZipInfo("WebResources/padding.bin"), os.urandom(padding), zipfile.ZIP_STORED)
    return buf.getvalue()
