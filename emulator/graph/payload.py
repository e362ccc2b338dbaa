"""What a Graph request sends, read one way for the user and the group routes: the JSON object
body, the ``$select`` list and the ``assignLicense`` body.

A module of its own because groups.py cannot import odata.py (odata -> store -> groups would be a
cycle); it raises ``GraphError`` (errors.py), which every Graph route renders as Graph's error JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any, Collection

from starlette.requests import Request

from .errors import GraphError

#: Graph's answer to a body that is not JSON.
UNREADABLE_JSON = ("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of "
                   "valid JSON format.")


async def json_body(request: Request, unreadable: str = UNREADABLE_JSON) -> dict[str, Any]:
    """The request's JSON object (an empty body reads as null).

    Raises ``GraphError`` 400 ``BadRequest``: ``unreadable`` when the body is not JSON, and a
    second text when it is JSON but not an object."""
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        raise GraphError(400, "BadRequest", unreadable) from None
    if not isinstance(body, dict):
        raise GraphError(400, "BadRequest", "Unable to read JSON request payload: expected a JSON object.")
    return body


def select_names(raw: str | None, known: Collection[str], type_name: str) -> list[str] | None:
    """The property names of a ``$select`` value ("a, b" -> ["a", "b"]), None when there is none.

    ``known`` holds the properties of the resource, ``type_name`` its directory type (for example
    ``Microsoft.DirectoryServices.User``); an unknown name raises ``GraphError`` 400
    ``Request_BadRequest`` as Graph words it ("Use query parameters", ``$select``)."""
    if not raw:
        return None
    names = [n.strip() for n in raw.split(",") if n.strip()]
    for n in names:
        if n not in known:
            raise GraphError(400, "Request_BadRequest", f"Could not find a property named '{n}' on type '{type_name}'.")
    return names


def assign_license_lists(body: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The ``addLicenses`` and ``removeLicenses`` of an ``assignLicense`` body (user or group:
    https://learn.microsoft.com/graph/api/user-assignlicense, .../group-assignlicense).

    Returns (add: [{"skuId": GUID, "disabledPlans": [...]}, ...], remove: [SKU id str, ...]).
    Raises ``GraphError`` 400 ``Request_BadRequest`` when either parameter is missing (both are
    required), is not a list of the right items, or an added ``skuId`` is not a GUID (``Edm.Guid``)."""
    missing = [k for k in ("addLicenses", "removeLicenses") if k not in body]
    if missing:
        raise GraphError(400, "Request_BadRequest",
                         "One or more parameters of the operation 'assignLicense' are missing from the request "
                         f"payload. The missing parameters are: {', '.join(missing)}.")
    add, remove = body["addLicenses"], body["removeLicenses"]
    if not isinstance(add, list) or not all(isinstance(a, dict) for a in add) or not isinstance(remove, list):
        raise GraphError(400, "Request_BadRequest",
                         "addLicenses must be a list of {skuId, disabledPlans} and removeLicenses a list of SKU ids.")
    for a in add:
        if not re.fullmatch(r"[0-9a-fA-F-]{36}", str(a.get("skuId", ""))):
            raise GraphError(400, "Request_BadRequest", "Cannot convert a primitive value to the expected type "
                             "'Edm.Guid'. See the inner exception for more details.")
    return add, [str(r) for r in remove]
