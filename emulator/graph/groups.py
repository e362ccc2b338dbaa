"""Entra groups and group-based licensing, as Microsoft documents them.

What the emulator does, and the Entra documentation it follows ("What is group-based licensing",
"Scenarios, limitations, and known issues using groups to manage licensing", "Identify and
resolve license assignment problems for a group", Graph ``group: assignLicense``,
``licenseAssignmentState``):

* A security group can carry licences (``POST /groups/{id}/assignLicense`` -> 202 with the group);
  every direct user member gets them.  Processing happens in the background in Entra; the emulator
  does it at once when a member is added or the group's licences change.
* A user consumes ONE seat per SKU however it holds it (directly, through one group or several).
* A group assignment that cannot be made is not refused: it is recorded on the user as an error
  (``licenseAssignmentStates[].state == "Error"``, ``error`` ``CountViolation`` when no seat is
  free).  ``POST /users/{id}/reprocessLicenseAssignment`` tries the user's failed ones again.
* Users without a usage location inherit the directory's for group assignments (no error).
* A licence a user only inherits cannot be removed from the user directly (400).
* Nested groups are not expanded (only direct members are licensed), as documented.

Texts and codes we could not confirm are marked GUESS.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import GraphError
from .payload import assign_license_lists, json_body, select_names

if TYPE_CHECKING:  # pragma: no cover
    from .store import GraphStore, GraphUser

ACTIVE = "Active"
ERROR = "Error"
COUNT_VIOLATION = "CountViolation"

READ_GROUPS = {"GroupMember.Read.All", "Group.Read.All", "Directory.Read.All", "GroupMember.ReadWrite.All",
               "Group.ReadWrite.All", "Directory.ReadWrite.All"}
WRITE_MEMBERS = {"GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All"}
ASSIGN_GROUP_LICENSES = {"LicenseAssignment.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All"}
REPROCESS = {"User.ReadWrite.All", "Directory.ReadWrite.All"}

DEFAULT_GROUP_PROPS = ["id", "displayName", "description", "mailEnabled", "mailNickname", "securityEnabled",
                       "groupTypes"]
EXTRA_GROUP_PROPS = ["assignedLicenses", "hasMembersWithLicenseErrors"]


@dataclass
class Group:
    group_id: str
    display_name: str
    security_enabled: bool = True
    mail_enabled: bool = False
    sku_ids: list[str] = field(default_factory=list)
    disabled_plans: dict[str, list[str]] = field(default_factory=dict)
    members: list[str] = field(default_factory=list)   # direct members, in the order they were added


def load_groups(seed: dict[str, Any], sku_by_part: dict[str, str]) -> dict[str, Group]:
    groups: dict[str, Group] = {}
    for g in seed.get("groups") or []:
        groups[g["id"]] = Group(group_id=g["id"], display_name=g.get("display_name") or g["id"],
                                security_enabled=bool(g.get("security_enabled", True)),
                                sku_ids=[sku_by_part[p] for p in g.get("licenses") or []],
                                members=[m.lower() for m in g.get("members") or []])
    return groups


def snapshot(groups: dict[str, Group]) -> list[dict[str, Any]]:
    return [asdict(g) for g in groups.values()]


def restore(state: list[dict[str, Any]] | None) -> dict[str, Group]:
    return {g["group_id"]: Group(**g) for g in state or []}


# -- licence processing (called with the store's lock held) -------------------------------------------


def active_sku_ids(user: "GraphUser") -> set[str]:
    """SKUs the user holds now: direct ones plus group ones in state Active (one seat each)."""
    held = set(user.sku_ids)
    for states in user.group_states.values():
        held.update(sku for sku, state in states.items() if state == ACTIVE)
    return held


def process_member(store: "GraphStore", group: Group, user: "GraphUser") -> None:
    """(Re)compute what ``group`` gives ``user``: Active when the user already holds the SKU or a
    seat is free, else the documented CountViolation error, recorded on the user."""
    user.group_states.pop(group.group_id, None)
    held = active_sku_ids(user)
    failed = [sku_id for sku_id in group.sku_ids if sku_id not in held
              and (sku_id not in store.skus or store.consumed(sku_id) >= store.skus[sku_id].enabled)]
    # Documented: when one of a group's products cannot be assigned, none of them is.
    state = COUNT_VIOLATION if failed else ACTIVE
    if group.sku_ids:
        user.group_states[group.group_id] = {sku_id: state for sku_id in group.sku_ids}
    store.mark_licensing(user)


def licence_assignment_states(store: "GraphStore", user: "GraphUser") -> list[dict[str, Any]]:
    """The user's ``licenseAssignmentStates``: one per direct SKU (assignedByGroup null) and one per
    (group, SKU) it inherits, with state Active or Error and the error code."""
    out = [{"assignedByGroup": None, "state": ACTIVE, "error": "None", "skuId": s,
            "disabledPlans": user.disabled_plans.get(s, []), "lastUpdatedDateTime": None}
           for s in user.sku_ids]
    for group_id, states in user.group_states.items():
        group = store.groups.get(group_id)
        for sku_id, state in states.items():
            out.append({"assignedByGroup": group_id, "state": ACTIVE if state == ACTIVE else ERROR,
                        "error": "None" if state == ACTIVE else state, "skuId": sku_id,
                        "disabledPlans": (group.disabled_plans.get(sku_id, []) if group else []),
                        "lastUpdatedDateTime": None})
    return out


# -- store operations ------------------------------------------------------------------------------


def require_group(store: "GraphStore", group_id: str) -> Group:
    group = store.groups.get(group_id.lower())
    if group is None:
        raise GraphError(404, "Request_ResourceNotFound",
                         f"Resource '{group_id}' does not exist or one of its queried reference-property objects are not present.")
    return group


def add_member(store: "GraphStore", group_id: str, object_id: str) -> None:
    with store.lock:
        group = require_group(store, group_id)
        user = store.get_user(object_id)
        if user is None:
            raise GraphError(404, "Request_ResourceNotFound",
                             f"Resource '{object_id}' does not exist or one of its queried reference-property objects are not present.")
        if user.object_id in group.members:
            raise GraphError(400, "Request_BadRequest",
                             "One or more added object references already exist for the following modified properties: 'members'.")
        group.members.append(user.object_id)
        process_member(store, group, user)
    store.changed()


def remove_member(store: "GraphStore", group_id: str, object_id: str) -> None:
    with store.lock:
        group = require_group(store, group_id)
        if object_id.lower() not in group.members:
            raise GraphError(404, "Request_ResourceNotFound",  # GUESS text
                             "One or more removed object references do not exist for the following modified properties: 'members'.")
        group.members.remove(object_id.lower())
        user = store.get_user(object_id)
        if user is not None:
            user.group_states.pop(group.group_id, None)
            store.mark_licensing(user)
    store.changed()


def assign_group_license(store: "GraphStore", group_id: str, add: list[dict[str, Any]], remove: list[str]) -> Group:
    with store.lock:
        group = require_group(store, group_id)
        if not group.security_enabled:
            raise GraphError(400, "Request_BadRequest",  # GUESS text; documented: security groups only
                             "Licenses can only be assigned to security groups.")
        for entry in add:
            sku_id = str(entry.get("skuId") or "").lower()
            if sku_id not in store.skus:
                raise GraphError(400, "Request_BadRequest",  # GUESS text, as for users
                                 f"License {sku_id or '<empty>'} does not correspond to a valid company License.")
        removed = {str(s).lower() for s in remove}
        group.sku_ids = [s for s in group.sku_ids if s not in removed]
        for entry in add:
            sku_id = str(entry["skuId"]).lower()
            if sku_id not in group.sku_ids:
                group.sku_ids.append(sku_id)
            group.disabled_plans[sku_id] = [str(p).lower() for p in entry.get("disabledPlans") or []]
        for member in group.members:
            user = store.get_user(member)
            if user is not None:
                process_member(store, group, user)
    store.changed()
    return group


def reprocess_user(store: "GraphStore", object_id: str) -> None:
    """Try every group assignment of the user again (POST /users/{id}/reprocessLicenseAssignment)."""
    with store.lock:
        user = store.get_user(object_id)
        if user is None:
            return
        for group_id in list(user.group_states):
            group = store.groups.get(group_id)
            if group is not None:
                process_member(store, group, user)
    store.changed()


# -- Graph routes -----------------------------------------------------------------------------------

Handler = Callable[[Request, dict[str, Any]], Awaitable[Response]]


def group_json(group: Group, members_with_errors: bool) -> dict[str, Any]:
    return {"id": group.group_id, "displayName": group.display_name, "description": None,
            "mailEnabled": group.mail_enabled, "mailNickname": group.display_name.replace(" ", "").lower(),
            "securityEnabled": group.security_enabled, "groupTypes": [],
            "assignedLicenses": [{"disabledPlans": group.disabled_plans.get(s, []), "skuId": s} for s in group.sku_ids],
            "hasMembersWithLicenseErrors": members_with_errors}


def routes(ctx: Any, guarded: Callable[[set[str] | None, Handler], Any], base: Callable[[], str]) -> list[Route]:
    """Group routes for graph.routes(); ``guarded`` checks the token and the permission."""

    def with_errors(group: Group) -> bool:
        for member in group.members:
            user = ctx.graph.get_user(member)
            if user is not None and any(s != ACTIVE for s in user.group_states.get(group.group_id, {}).values()):
                return True
        return False

    async def get_group(request: Request, claims: dict[str, Any]) -> Response:
        group = require_group(ctx.graph, request.path_params["gid"])
        select = select_names(request.query_params.get("$select"), [*DEFAULT_GROUP_PROPS, *EXTRA_GROUP_PROPS],
                              "Microsoft.DirectoryServices.Group")
        full = group_json(group, with_errors(group))
        names = select if select is not None else DEFAULT_GROUP_PROPS
        return JSONResponse({"@odata.context": f"{base()}/$metadata#groups/$entity",
                             **{n: full[n] for n in names if n in full}})

    async def list_members(request: Request, claims: dict[str, Any]) -> Response:
        group = require_group(ctx.graph, request.path_params["gid"])
        value = []
        for member in group.members:
            user = ctx.graph.get_user(member)
            if user is not None:
                value.append({"@odata.type": "#microsoft.graph.user", "id": user.object_id,
                              "displayName": user.display_name, "userPrincipalName": user.upn})
        return JSONResponse({"@odata.context": f"{base()}/$metadata#directoryObjects", "value": value})

    async def body_of(request: Request) -> dict[str, Any]:
        # GUESS text: the group routes have always answered without the user routes' Content-Type hint
        return await json_body(request, "Unable to read JSON request payload.")

    async def add_member_ref(request: Request, claims: dict[str, Any]) -> Response:
        body = await body_of(request)
        ref = str(body.get("@odata.id") or "")
        object_id = ref.rstrip("/").rsplit("/", 1)[-1].strip("{}()'")
        if "/directoryObjects/" not in ref and "/users/" not in ref:
            raise GraphError(400, "BadRequest",  # GUESS text
                                "The request body must be {\"@odata.id\": \"https://graph.microsoft.com/v1.0/directoryObjects/{id}\"}.")
        add_member(ctx.graph, request.path_params["gid"], object_id)
        return Response(status_code=204)

    async def remove_member_ref(request: Request, claims: dict[str, Any]) -> Response:
        remove_member(ctx.graph, request.path_params["gid"], request.path_params["mid"])
        return Response(status_code=204)

    async def group_assign_license(request: Request, claims: dict[str, Any]) -> Response:
        body = await body_of(request)
        add, remove = assign_license_lists(body)
        group = assign_group_license(ctx.graph, request.path_params["gid"], add, remove)
        full = group_json(group, with_errors(group))
        return JSONResponse({"@odata.context": f"{base()}/$metadata#groups/$entity",
                             **{n: full[n] for n in DEFAULT_GROUP_PROPS}}, status_code=202)

    async def reprocess(request: Request, claims: dict[str, Any]) -> Response:
        user = ctx.graph.get_user(request.path_params["key"])
        if user is None:
            raise GraphError(404, "Request_ResourceNotFound",
                                f"Resource '{request.path_params['key']}' does not exist or one of its queried "
                                "reference-property objects are not present.")
        reprocess_user(ctx.graph, user.object_id)
        return JSONResponse({"@odata.context": f"{base()}/$metadata#users/$entity", "id": user.object_id,
                             "userPrincipalName": user.upn, "displayName": user.display_name}, status_code=202)

    return [
        Route("/v1.0/groups/{gid}", guarded(READ_GROUPS, get_group), methods=["GET"]),
        Route("/v1.0/groups/{gid}/members", guarded(READ_GROUPS, list_members), methods=["GET"]),
        Route("/v1.0/groups/{gid}/members/$ref", guarded(WRITE_MEMBERS, add_member_ref), methods=["POST"]),
        Route("/v1.0/groups/{gid}/members/{mid}/$ref", guarded(WRITE_MEMBERS, remove_member_ref), methods=["DELETE"]),
        Route("/v1.0/groups/{gid}/assignLicense", guarded(ASSIGN_GROUP_LICENSES, group_assign_license), methods=["POST"]),
        Route("/v1.0/users/{key}/reprocessLicenseAssignment", guarded(REPROCESS, reprocess), methods=["POST"]),
    ]
