"""Seed loading and validation.

The seed describes the fake tenant. Validation is strict and errors name the file, the key
and the bad value so a user editing a seed gets a one-line answer instead of a traceback.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Iterator

import yaml

DEFAULT_SEED_PATH = Path(__file__).with_name("default-seed.yaml")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class SeedError(ValueError):
    """A seed file is unreadable or invalid; str() names file, key and value."""

    def __init__(self, source: str, key: str, message: str) -> None:
        self.source, self.key = source, key
        super().__init__(f"{source}: {key}: {message}")


def load_seed(seed: str | Path | dict[str, Any] | None = None) -> dict[str, Any]:
    """Return a validated, private copy of the seed (default seed when ``seed`` is None).

    ``_base_dir`` is added so relative certificate paths resolve against the seed's folder.
    """
    if seed is None:
        seed = DEFAULT_SEED_PATH
    if isinstance(seed, dict):
        data = copy.deepcopy(seed)
        source = "<seed dict>"
        data.setdefault("_base_dir", str(DEFAULT_SEED_PATH.parent))
    else:
        path = Path(seed)
        source = str(path)
        try:
            data = _parse_cached(path)
        except OSError as exc:
            raise SeedError(source, "<file>", f"cannot read: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise SeedError(source, "<file>", f"not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise SeedError(source, "<root>", "must be a mapping with tenant, apps, users, skus")
        data["_base_dir"] = str(path.resolve().parent)
    data["_source"] = source
    _validate(data, source)
    return data


_parse_cache: dict[tuple[str, int, int], Any] = {}


def _parse_cached(path: Path) -> Any:
    """Parse a seed file, caching by (path, mtime, size): PyYAML is slow and every test starts an emulator."""
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _parse_cache:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        _parse_cache[key] = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - safe loader
    return copy.deepcopy(_parse_cache[key])


def _guid(source: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not _GUID.match(value.lower()):
        raise SeedError(source, key, f"{value!r} is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")
    return value.lower()


def _list(source: str, data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise SeedError(source, key, f"must be a list, got {type(value).__name__}")
    return value


def _mappings(source: str, data: dict[str, Any], key: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each item of the list ``data[key]`` (stored back; null reads as []) with its key ("apps[0]"),
    checked to be a mapping as it is reached, so errors come in file order."""
    data[key] = _list(source, data, key)
    for i, item in enumerate(data[key]):
        if not isinstance(item, dict):
            raise SeedError(source, f"{key}[{i}]", "must be a mapping")
        yield f"{key}[{i}]", item


def _validate(data: dict[str, Any], source: str) -> None:
    tenant = data.get("tenant")
    if not isinstance(tenant, dict) or "id" not in tenant:
        raise SeedError(source, "tenant.id", "missing (the tenant GUID)")
    tenant["id"] = _guid(source, "tenant.id", tenant["id"])
    tenant.setdefault("default_domain", "contoso.example")

    seen: set[str] = set()
    for key, app in _mappings(source, data, "apps"):
        app["client_id"] = _guid(source, f"{key}.client_id", app.get("client_id"))
        if app["client_id"] in seen:
            raise SeedError(source, f"{key}.client_id", f"{app['client_id']} is listed twice")
        seen.add(app["client_id"])
        app["service_principal_id"] = _guid(source, f"{key}.service_principal_id", app.get("service_principal_id"))
        app.setdefault("name", app["client_id"])
        app.setdefault("display_name", app["name"])
        for list_key in ("secrets", "certificates", "federated_credentials", "graph_app_roles"):
            app[list_key] = _list(source, app, list_key) if app.get(list_key) is not None else []
        for j, fic in enumerate(app["federated_credentials"]):
            fkey = f"{key}.federated_credentials[{j}]"
            for field_name in ("issuer", "subject"):
                if not isinstance(fic.get(field_name), str) or not fic[field_name]:
                    raise SeedError(source, f"{fkey}.{field_name}", "missing (a non-empty string)")
            fic.setdefault("audiences", ["api://AzureADTokenExchange"])

    data["oidc_issuers"] = _list(source, data, "oidc_issuers")
    for i, iss in enumerate(data["oidc_issuers"]):
        if not isinstance(iss, dict) or not isinstance(iss.get("issuer"), str):
            raise SeedError(source, f"oidc_issuers[{i}].issuer", "missing (an https URL)")
        iss["request_tokens"] = iss.get("request_tokens") or []

    parts: dict[str, str] = {}
    for key, sku in _mappings(source, data, "skus"):
        sku["sku_id"] = _guid(source, f"{key}.sku_id", sku.get("sku_id"))
        if not isinstance(sku.get("sku_part_number"), str):
            raise SeedError(source, f"{key}.sku_part_number", "missing (for example DYN365_ENTERPRISE_SALES)")
        if not isinstance(sku.get("enabled"), int) or sku["enabled"] < 0:
            raise SeedError(source, f"{key}.enabled", f"{sku.get('enabled')!r} is not a seat count (integer >= 0)")
        sku["service_plans"] = sku.get("service_plans") or []
        parts[sku["sku_part_number"]] = sku["sku_id"]

    upns: set[str] = set()
    for key, user in _mappings(source, data, "users"):
        user["object_id"] = _guid(source, f"{key}.object_id", user.get("object_id"))
        upn = user.get("upn")
        if not isinstance(upn, str) or "@" not in upn:
            raise SeedError(source, f"{key}.upn", f"{upn!r} is not a user principal name (name@domain)")
        if upn.lower() in upns:
            raise SeedError(source, f"{key}.upn", f"{upn} is listed twice")
        upns.add(upn.lower())
        loc = user.get("usage_location")
        if loc is not None and (not isinstance(loc, str) or not re.fullmatch(r"[A-Z]{2}", loc)):
            raise SeedError(source, f"{key}.usage_location", f"{loc!r} is not a two-letter country code (e.g. US) or null")
        for lic in user.get("licenses") or []:
            if lic not in parts:
                raise SeedError(source, f"{key}.licenses", f"{lic!r} is not a SKU of this seed; allowed: {sorted(parts)}")
        user["licenses"] = list(user.get("licenses") or [])
        user.setdefault("display_name", upn.split("@")[0])
        user.setdefault("account_enabled", True)
    _validate_groups(data, source, parts)


def _validate_groups(data: dict[str, Any], source: str, parts: dict[str, str]) -> None:
    """``groups:`` -- Entra security groups, optionally licensing their members (graph/groups.py)."""
    users = {u["object_id"] for u in data["users"]}
    ids: set[str] = set()
    for key, group in _mappings(source, data, "groups"):
        group["id"] = _guid(source, f"{key}.id", group.get("id"))
        if group["id"] in ids or group["id"] in users:
            raise SeedError(source, f"{key}.id", f"{group['id']} is used twice")
        ids.add(group["id"])
        for lic in group.get("licenses") or []:
            if lic not in parts:
                raise SeedError(source, f"{key}.licenses", f"{lic!r} is not a SKU of this seed; allowed: {sorted(parts)}")
        members = _list(source, group, "members")
        for j, member in enumerate(members):
            if _guid(source, f"{key}.members[{j}]", member) not in users:
                raise SeedError(source, f"{key}.members[{j}]", f"{member!r} is not a user of this seed")
        group["members"] = [m.lower() for m in members]
        group.setdefault("display_name", group["id"])
