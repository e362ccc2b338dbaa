"""Dataverse error JSON and the hex codes the emulator answers with.

Dataverse reports errors as ``{"error": {"code": "0x8004....", "message": "..."}}``; the code is
unrelated to the HTTP status. Codes marked CONFIRMED were checked against Microsoft's public
"Web service error codes" / "Troubleshoot Web API client errors" pages (decimal values there:
-2147220969 = 0x80040217, -2147220937 = 0x80040237, -2147220960 = 0x80040220). Codes marked GUESS
are plausible values chosen for the emulator; clients must not depend on them, only on the status.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

# -- codes -------------------------------------------------------------------------------------
NOT_FOUND = "0x80040217"                 # CONFIRMED ObjectDoesNotExist ("... With Ids = ... Do Not Exist")
DUPLICATE = "0x80040237"                 # CONFIRMED DuplicateRecord ("Cannot insert duplicate key")
PRIVILEGE_DENIED = "0x80040220"          # CONFIRMED "Principal user ... is missing prv... privilege"
ODATA_QUERY = "0x0"                      # CONFIRMED: $select/$filter property errors use code 0x0
RESOURCE_NOT_FOUND = "0x8006088a"        # CONFIRMED "Resource not found for the segment 'X'."
PAYLOAD_INVALID = "0x80048d19"           # CONFIRMED-ish (seen in real responses): "Error identified in Payload"
INVALID_ARGUMENT = "0x80040203"          # GUESS: InvalidArgument (depth not allowed, bad body values)
ROLE_BU_MISMATCH = "0x80041d2e"          # GUESS: role and user in different business units
MANAGED_NOT_DELETABLE = "0x8004f025"     # GUESS: deleting a managed component
INHERITED_ROLE_READONLY = "0x8004f50b"   # GUESS: editing a role copy in a child business unit
IMPORT_IN_PROGRESS = "0x80071151"        # GUESS: "Cannot start another [Import] because there is a previous [Import] running"
IMPORT_FILE_INVALID = "0x80048060"       # GUESS: not a zip / solution.xml missing
IMPORT_OLDER_VERSION = "0x8004801d"      # GUESS: managed solution downgrade refused
MISSING_DEPENDENCY = "0x80048048"        # GUESS: required components missing
NOT_A_MEMBER = "0x80072560"              # GUESS: caller is not a user of the organization
ADMIN_ONLY_MODE = "0x80090040"           # GUESS code; the message is the documented one (admin_mode.py)
USER_DISABLED = "0x80040225"             # GUESS: caller's systemuser is disabled
PRECONDITION_FAILED = "0x80060882"       # GUESS: If-Match / If-None-Match failed
NOT_SUPPORTED = "0x80060888"             # GUESS: OData feature not supported ($skip, ...)
BATCH_LIMIT = "0x8005f103"               # GUESS: more than 1000 requests in a $batch
METHOD_NOT_ALLOWED = "0x80060889"        # GUESS
UNAUTHORIZED = "0x80072549"              # GUESS (real 401s carry an empty body and WWW-Authenticate)
REQUESTS_LIMIT = "0x80072322"            # CONFIRMED service protection: number of requests
EXECUTION_TIME_LIMIT = "0x80072321"      # CONFIRMED service protection: combined execution time
CONCURRENCY_LIMIT = "0x80072326"         # CONFIRMED service protection: concurrent requests

ODATA_HEADERS = {"OData-Version": "4.0"}


class DataverseError(Exception):
    """Raised anywhere in the Dataverse surface; turned into the error JSON by the app."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}

    def response(self) -> Response:
        headers = {**ODATA_HEADERS, **self.headers}
        return Response(json.dumps(self.body()), status_code=self.status, headers=headers,
                        media_type="application/json; odata.metadata=minimal")


def not_found(entity: str, key: str) -> DataverseError:
    return DataverseError(404, NOT_FOUND, f"{entity} With Ids = {key} Do Not Exist")


def bad_property(entity: str, name: str) -> DataverseError:
    return DataverseError(400, ODATA_QUERY,
                          f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{entity}'.")


def bad_payload(entity: str, detail: str) -> DataverseError:
    return DataverseError(400, PAYLOAD_INVALID,
                          f"Error identified in Payload provided by the user for Entity :'{entity}', "
                          f"Cause of the error: {detail}")


def bad_request(message: str, code: str = INVALID_ARGUMENT) -> DataverseError:
    return DataverseError(400, code, message)
