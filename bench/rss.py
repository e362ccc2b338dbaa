"""Peak resident memory of another process (the provider host).

Linux keeps the exact high-water mark in ``/proc/<pid>/status`` (``VmHWM``); reading it before and
after an operation gives the true peak without missing short spikes. Elsewhere we fall back to
sampling ``psutil`` every few milliseconds, which can only under-estimate a spike.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import psutil


def vm_hwm_bytes(pid: int) -> int | None:
    """The kernel's peak-RSS figure for ``pid`` in bytes, or None where /proc has no VmHWM."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


@dataclass
class RssReport:
    baseline_bytes: int      # RSS just before the measured operation
    peak_bytes: int          # highest RSS seen during it (VmHWM where available)
    method: str              # "VmHWM" or "psutil-sampling"

    @property
    def growth_bytes(self) -> int:
        return max(0, self.peak_bytes - self.baseline_bytes)


class PeakRssMonitor:
    """Context manager measuring one process's peak RSS over a block of code."""

    def __init__(self, pid: int, interval_s: float = 0.005) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self._proc = psutil.Process(pid)
        self._stop = threading.Event()
        self._peak = 0
        self._thread: threading.Thread | None = None
        self.report: RssReport | None = None

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                self._peak = max(self._peak, self._proc.memory_info().rss)
            except psutil.Error:
                return
            self._stop.wait(self.interval_s)

    def __enter__(self) -> "PeakRssMonitor":
        self._baseline = self._proc.memory_info().rss
        self._peak = self._baseline
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        hwm = vm_hwm_bytes(self.pid)
        if hwm is not None:
            self.report = RssReport(self._baseline, max(hwm, self._peak), "VmHWM")
        else:
            self.report = RssReport(self._baseline, self._peak, "psutil-sampling")
