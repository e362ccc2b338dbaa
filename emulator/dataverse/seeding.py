"""Seeding a DataverseStore: the standard privilege catalog plus the seed's ``dataverse:`` section
(organization id, business units, roles with their privileges, systemusers and their roles,
soft-deleted application users).

It fills the store it is given and imports store.py only for type checking: the store calls
``apply_seed`` from its constructor, and what both need is in records.py."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from ..seed import SeedError
from . import catalog
from .errors import DataverseError
from .privileges import allowed_depths, parse_depth
from .records import ADMIN_TEMPLATES, ID_NAMESPACE, Record, iso

if TYPE_CHECKING:  # pragma: no cover - the store imports this module to seed itself
    from .store import DataverseStore


def apply_seed(store: DataverseStore, seed: dict[str, Any]) -> None:
    """Fill a fresh store from the seed's ``dataverse:`` section (and the standard catalog)."""
    dv = seed.get("dataverse") or {}
    store.organization_id = str(dv.get("organization_id") or uuid.uuid5(ID_NAMESPACE, "organization"))
    for key in ("administration_mode", "background_operations"):
        if key in dv:
            if not isinstance(dv[key], bool):
                raise SeedError(str(seed.get("_source", "<seed>")), f"dataverse.{key}", f"{dv[key]!r} is not true or false")
            setattr(store, key, dv[key])
    for p in catalog.standard_privileges():
        store.privileges[p["privilegeid"]] = store.touch(p)
    root_bu = {"id": str(uuid.uuid5(ID_NAMESPACE, "root-bu")), "name": "org", "parent": None}
    bus = dv.get("business_units") or [root_bu]
    for bu in bus:
        store.businessunits[bu["id"].lower()] = store.touch({
            "businessunitid": bu["id"].lower(), "name": bu["name"], "isdisabled": False,
            "_parentbusinessunitid_value": (bu.get("parent") or None) and bu["parent"].lower()}, created=True)
    root = store.root_business_unit()["businessunitid"]
    source = str(seed.get("_source", "<seed>"))
    for i, r in enumerate(dv.get("roles") or []):
        for key in ("id", "name"):
            if not r.get(key):
                raise SeedError(source, f"dataverse.roles[{i}].{key}", "missing")
        role = store.create_role(r["id"], r["name"], root, template_id=r.get("template_id"),
                                 managed=bool(r.get("managed", False)),
                                 customizable=bool(r.get("customizable", r.get("template_id") not in ADMIN_TEMPLATES)))
        try:
            store.role_privilege_map[role["roleid"]] = _seed_role_privileges(store, r)
        except (KeyError, DataverseError) as exc:
            raise SeedError(source, f"dataverse.roles[{i}].privileges",
                            f"{exc.args[0] if isinstance(exc, KeyError) else exc.message} "
                            "(names as in emulator/dataverse/catalog.yaml; depths Basic/Local/Deep/Global)") from None
    for i, u in enumerate(dv.get("systemusers") or []):
        if not u.get("id") or not (u.get("object_id") or u.get("application_id")):
            raise SeedError(source, f"dataverse.systemusers[{i}]", "needs id and object_id or application_id")
        try:
            _seed_user(store, u, seed)
        except ValueError as exc:
            raise SeedError(source, f"dataverse.systemusers[{i}].roles", str(exc)) from None
    for app_id in dv.get("soft_deleted_application_users") or []:
        uid = str(uuid.uuid5(ID_NAMESPACE, f"soft-deleted:{app_id}"))
        store.soft_deleted_users[uid] = store.touch(store.user_record(
            uid, application_id=app_id, fullname=f"# {app_id}", bu=root, accessmode=4, isdisabled=True),
            created=True)
    _seed_solutions(store)


def _seed_solutions(store: DataverseStore) -> None:
    sid = str(uuid.uuid5(ID_NAMESPACE, "solution:Default"))
    store.solutions[sid] = store.touch({
        "solutionid": sid, "uniquename": "Default", "friendlyname": "Default Solution", "version": "1.0",
        "ismanaged": False, "installedon": iso(0), "isvisible": False, "description": None,
        "_publisherid_value": str(uuid.uuid5(ID_NAMESPACE, "publisher:Default"))}, created=True)


def _seed_role_privileges(store: DataverseStore, spec: Record) -> dict[str, int]:
    """Seeded roles: explicit ``privileges: {name: depth}``, or defaults by role kind."""
    by_name = {p["name"]: p for p in store.privileges.values()}
    if isinstance(spec.get("privileges"), dict):
        out = {}
        for name, depth in spec["privileges"].items():
            if name not in by_name:
                raise KeyError(f"unknown privilege {name!r}")
            out[by_name[name]["privilegeid"]] = parse_depth(depth)
        return out
    if spec.get("template_id") in ADMIN_TEMPLATES:
        return {p["privilegeid"]: max(allowed_depths(p)) for p in store.privileges.values()}
    depth = 2 if "manager" in spec["name"].lower() else 0
    out: dict[str, int] = {}
    for p in store.privileges.values():
        stem_ok = p.get("_table") in ("account", "contact", "opportunity", "annotation", "quote",
                                      "salesorder", "invoice", "product", "transactioncurrency",
                                      "systemuser", "role", "userentityuisettings", "usersettings")
        if stem_ok and not p["name"].startswith(("prvDelete", "prvAssign", "prvShare")):
            allowed = allowed_depths(p)
            out[p["privilegeid"]] = depth if depth in allowed else min(allowed, key=lambda d: abs(d - depth))
    return out


def _seed_user(store: DataverseStore, u: Record, seed: dict[str, Any]) -> None:
    bu = (u.get("business_unit") or store.root_business_unit()["businessunitid"]).lower()
    upn = None
    if u.get("object_id"):
        for gu in seed.get("users") or []:
            if str(gu.get("object_id", "")).lower() == u["object_id"].lower():
                upn = gu.get("upn")
    uid = u["id"].lower()
    rec = store.user_record(uid, bu=bu, accessmode=int(u.get("accessmode", 0)),
                            application_id=u.get("application_id") and u["application_id"].lower(),
                            object_id=u.get("object_id") and u["object_id"].lower(),
                            fullname=u.get("name") or "", upn=upn,
                            islicensed=bool(u.get("object_id")), isdisabled=bool(u.get("isdisabled", False)))
    store.systemusers[uid] = store.touch(rec, created=True)
    store.user_roles[uid] = []
    for role_name in u.get("roles") or []:
        matches = [r for r in store.roles.values()
                   if r["name"] == role_name and r["_businessunitid_value"] == bu]
        if not matches:
            raise ValueError(f"role {role_name!r} does not exist in business unit {bu}")
        store.user_roles[uid].append(matches[0]["roleid"])
