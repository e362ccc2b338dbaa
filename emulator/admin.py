"""Test-control HTTP API under /_emulator (no auth; loopback only).

GET  /_emulator/requests           request log (JSON list of RequestRecord)
DELETE /_emulator/requests         clear the log and counters
GET  /_emulator/counters           aggregate counters
GET  /_emulator/faults             active fault rules (with matched/fired counts)
POST /_emulator/faults             add a rule: {"kind": "429", "nth": 2, ...}
DELETE /_emulator/faults           remove all rules
POST /_emulator/reset              back to the seed (state, log, faults)
GET  /_emulator/settings           current knobs; PATCH to change latency_ms, token_lifetime_s, ...
POST /_emulator/snapshot           write the snapshot now (when a state dir is configured)
GET  /_emulator/oidc/token         GitHub-style OIDC token: Bearer <request token>, ?audience=
POST /_emulator/oidc/azure-devops/oidctoken   Azure DevOps-style (SYSTEM_OIDCREQUESTURI): Bearer
                                   <System.AccessToken>, ?serviceConnectionId=&api-version=
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .context import ServiceProtection
from .faults import FaultRule
from .entra.oidc import EXCHANGE_AUDIENCE

if TYPE_CHECKING:
    from .core import EmulatorCore

_SETTABLE = {"latency_ms": float, "import_seconds": float, "provisioning_delay_s": float, "token_lifetime_s": int}


def routes(core: "EmulatorCore") -> list[Route]:
    ctx = core.ctx

    async def requests_(request: Request) -> Response:
        assert ctx.log is not None
        if request.method == "DELETE":
            ctx.log.clear()
            return Response(status_code=204)
        return JSONResponse([r.to_dict() for r in ctx.log.records])

    async def counters(request: Request) -> Response:
        assert ctx.log is not None
        return JSONResponse(ctx.log.counters())

    async def faults(request: Request) -> Response:
        assert ctx.faults is not None
        if request.method == "DELETE":
            ctx.faults.clear()
            return Response(status_code=204)
        if request.method == "POST":
            try:
                body = await request.json()
                rules = body if isinstance(body, list) else [body]
                added = [ctx.faults.add(FaultRule.from_dict(r)) for r in rules]
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            return JSONResponse([r.to_dict() for r in added], status_code=201)
        return JSONResponse([r.to_dict() for r in ctx.faults.rules])

    async def reset(request: Request) -> Response:
        core.reset()
        return Response(status_code=204)

    async def settings(request: Request) -> Response:
        if request.method == "PATCH":
            try:
                body: dict[str, Any] = await request.json()
                for key, value in body.items():
                    if key == "service_protection":
                        ctx.settings.service_protection = None if value in (None, False) else ServiceProtection(
                            **({} if value is True else value))
                    elif key in _SETTABLE:
                        setattr(ctx.settings, key, _SETTABLE[key](value))
                    else:
                        raise ValueError(f"setting {key!r} cannot be changed; allowed: {sorted([*_SETTABLE, 'service_protection'])}")
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(json.loads(json.dumps(asdict(ctx.settings))))

    async def snapshot(request: Request) -> Response:
        written = core.flush(force=True)
        return JSONResponse({"written": written, "path": str(core.snapshot_path) if core.snapshot_path else None})

    async def oidc_token(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        found = core.oidc.subject_for_request_token(auth[7:].strip()) if auth.lower().startswith("bearer ") else None
        if found is None:
            return JSONResponse({"message": "Bad credentials: unknown request token."}, status_code=401)
        issuer, subject = found
        audience = request.query_params.get("audience") or EXCHANGE_AUDIENCE
        return JSONResponse({"count": 1, "value": core.oidc.issue(subject, audience, issuer, now=ctx.clock())})

    async def azure_devops_oidc_token(request: Request) -> Response:
        # Contract: Azure DevOps REST "Oidctoken - Create" -- POST with the job's System.AccessToken as
        # bearer, ?serviceConnectionId=<id>&api-version=..., answer {"oidcToken": "<jwt>"}.  The
        # status codes of the refusals are GUESSES (the documentation lists only 200).
        if not request.query_params.get("api-version"):
            return JSONResponse({"message": "No api-version was supplied for the POST request."}, status_code=400)
        connection = request.query_params.get("serviceConnectionId") or ""
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        known = token and any(rt.get("token") == token and rt.get("service_connection_id")
                              for entry in core.oidc.issuers.values() for rt in entry.get("request_tokens", []))
        if not known:
            return JSONResponse({"message": "Access denied: the bearer is not a System.AccessToken of this job."},
                                status_code=401)
        found = core.oidc.subject_for_request_token(token, connection) if connection else None
        if found is None:
            return JSONResponse({"message": f"Service connection {connection!r} is not authorized for this token."},
                                status_code=400)
        issuer, subject = found
        return JSONResponse({"oidcToken": core.oidc.issue(subject, EXCHANGE_AUDIENCE, issuer, now=ctx.clock())})

    return [
        Route("/_emulator/requests", requests_, methods=["GET", "DELETE"]),
        Route("/_emulator/counters", counters, methods=["GET"]),
        Route("/_emulator/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/_emulator/settings", settings, methods=["GET", "PATCH"]),
        Route("/_emulator/snapshot", snapshot, methods=["POST"]),
        Route("/_emulator/oidc/token", oidc_token, methods=["GET"]),
        Route("/_emulator/oidc/azure-devops/oidctoken", azure_devops_oidc_token, methods=["POST"]),
    ]
