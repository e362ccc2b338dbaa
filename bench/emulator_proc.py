"""Run the emulator as a subprocess, read its admin API (request log, counters, faults), and sort the
request log (Dataverse, Entra, when an import was noticed).

Why a subprocess for the benchmark: an in-process emulator would share the GIL and the event loop
with the measuring code, and its own CPU time would blur the wall-time figure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Request:
    """One logged request (the fields of the emulator's RequestRecord we use)."""

    method: str
    path: str
    query: str
    status: int
    started: float
    ended: float
    fault: str | None
    surface: str | None = None  # the origin the request reached: entra, graph, dataverse, powerplatform

    @property
    def is_dataverse(self) -> bool:
        return self.path.startswith("/api/data/")

    @property
    def is_write(self) -> bool:
        return self.method in ("POST", "PATCH", "PUT", "DELETE")


class EmulatorProcess:
    """``python -m emulator`` with the given knobs; stop() ends exactly that process."""

    def __init__(self, *, latency_ms: float = 0, import_seconds: float = 0.2,
                 state_dir: Path | None = None, extra_args: list[str] | None = None) -> None:
        self._tmp = None if state_dir else tempfile.TemporaryDirectory(prefix="bench-emu-")
        self.state_dir = state_dir or Path(self._tmp.name)  # type: ignore[union-attr]
        args = [sys.executable, "-m", "emulator", "--port", "0", "--state", str(self.state_dir),
                "--latency-ms", str(latency_ms), "--import-seconds", str(import_seconds)]
        args += extra_args or []
        self.stderr_path = self.state_dir / "emulator.stderr"
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=self._stderr,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("{"):
            self.stop()
            raise RuntimeError(f"emulator did not start: {line!r}; see {self.stderr_path}")
        self.urls: dict[str, Any] = json.loads(line)
        # The admin API (/_emulator/...) is served on the Entra origin (authority host) only.
        self.base = self.urls["authority_host"].rstrip("/")
        self.http = httpx.Client(base_url=self.base, verify=self.urls["ca_bundle"], timeout=60)

    # -- admin API ----------------------------------------------------------------------------

    def requests(self) -> list[Request]:
        data = self.http.get("/_emulator/requests").raise_for_status().json()
        rows = data.get("requests", data) if isinstance(data, dict) else data
        return [Request(r["method"], r["path"], r.get("query", ""), int(r["status"]),
                        float(r["started"]), float(r["ended"]), r.get("fault"), r.get("surface")) for r in rows]

    def clear_log(self) -> None:
        self.http.delete("/_emulator/requests").raise_for_status()

    def counters(self) -> dict[str, Any]:
        return self.http.get("/_emulator/counters").raise_for_status().json()

    # -- lifecycle ----------------------------------------------------------------------------

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()
        self._stderr.close()
        if hasattr(self, "http"):
            self.http.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> "EmulatorProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- reading the request log ---------------------------------------------------------------------


def dataverse(reqs: list[Request]) -> list[Request]:
    return [r for r in reqs if r.is_dataverse]


def entra(reqs: list[Request]) -> list[Request]:
    """Sign-in requests: everything that reached the Entra origin but the emulator's own admin API."""
    return [r for r in reqs if r.surface == "entra" and not r.path.startswith("/_emulator")]


def tokens(reqs: list[Request]) -> list[Request]:
    """Token requests (``/oauth2/v2.0/token``), one per (identity, resource) a run signs in for."""
    return [r for r in entra(reqs) if r.path.endswith("/oauth2/v2.0/token")]


def import_notice(reqs: list[Request], import_seconds: float) -> dict[str, Any]:
    """Delay between the server finishing the import and the provider's poll that saw it.

    The emulator completes an import ``import_seconds`` after the handler of the import start ran
    (emulator/dataverse/solutions.py); the handler runs after the added latency, just before
    the response, so the start request's ``ended`` + import_seconds is the completion time (to a
    millisecond). A poll sees completion when its handler runs after that, i.e. its ``ended``.
    """
    starts = [r for r in reqs if r.method == "POST" and r.status < 300
              and r.path.endswith(("/ImportSolutionAsync", "/StageAndUpgradeAsync"))]
    polls = [r for r in reqs if r.method == "GET" and "/asyncoperations(" in r.path]
    if not starts or not polls:
        return {"polls": len(polls), "notice_s": None}
    completed_at = starts[-1].ended + import_seconds
    seen = [r for r in polls if r.ended >= completed_at]
    if not seen:
        return {"polls": len(polls), "notice_s": None}
    first = min(seen, key=lambda r: r.ended)
    return {"polls": len(polls), "completed_at": completed_at, "noticed_at": first.ended,
            "notice_s": round(first.ended - completed_at, 3),
            "poll_times_s": [round(r.ended - starts[-1].ended, 2) for r in polls]}

