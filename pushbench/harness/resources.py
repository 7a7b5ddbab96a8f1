"""CPU time and memory of a whole process tree (the server and its workers).

A background thread samples RSS every ``interval_s`` (the peak is what matters); CPU time is read
at start and stop, per process, so that workers that come and go are accounted for as well as
possible (a process that exits between samples keeps the CPU time of its last sample). CPU time
is read in nanoseconds (:mod:`pushbench.harness.cpu_clock`), not in psutil's 10 ms ticks.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field

import psutil

from pushbench.harness.cpu_clock import process_cpu_ns

__all__ = ["ProcessUsage", "TreeSampler", "TreeUsage"]


@dataclass(slots=True)
class ProcessUsage:
    """One process of the tree."""

    pid: int
    role: str
    cpu_s: float = 0.0
    rss_peak_bytes: int = 0


@dataclass(slots=True)
class TreeUsage:
    """The tree's totals over the sampled interval."""

    cpu_s: float
    rss_peak_bytes: int
    wall_s: float
    processes: list[ProcessUsage] = field(default_factory=list)


class TreeSampler:
    """Sample the process tree rooted at ``pid`` between :meth:`start` and :meth:`stop`."""

    def __init__(self, pid: int, interval_s: float = 0.2) -> None:
        self._root = psutil.Process(pid)
        self._interval_s = interval_s
        self._start_cpu: dict[int, float] = {}
        self._last_cpu: dict[int, float] = {}
        self._usage: dict[int, ProcessUsage] = {}
        self._rss_peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self._lock = threading.Lock()

    def _processes(self) -> list[psutil.Process]:
        try:
            return [self._root, *self._root.children(recursive=True)]
        except psutil.Error:
            return []

    def _sample(self) -> None:
        total_rss = 0
        for process in self._processes():
            with contextlib.suppress(psutil.Error):
                cpu = process_cpu_ns(process) / 1e9
                rss = process.memory_info().rss
                pid = process.pid
                with self._lock:
                    self._start_cpu.setdefault(pid, cpu if self._thread is None else 0.0)
                    self._last_cpu[pid] = cpu
                    usage = self._usage.setdefault(
                        pid, ProcessUsage(pid, "supervisor" if pid == self._root.pid else "worker")
                    )
                    usage.rss_peak_bytes = max(usage.rss_peak_bytes, rss)
                total_rss += rss
        with self._lock:
            self._rss_peak = max(self._rss_peak, total_rss)

    @property
    def running(self) -> bool:
        """Started and not yet stopped."""
        return self._thread is not None and not self._stop.is_set()

    def start(self) -> None:
        """Take the baseline and start sampling."""
        self._started = time.monotonic()
        self._sample()
        self._thread = threading.Thread(target=self._run, name="tree-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._sample()

    def stop(self) -> TreeUsage:
        """Stop sampling; the tree's CPU seconds and peak RSS since :meth:`start`."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        wall = time.monotonic() - self._started
        with self._lock:
            processes = []
            for pid, usage in self._usage.items():
                usage.cpu_s = max(0.0, self._last_cpu[pid] - self._start_cpu.get(pid, 0.0))
                processes.append(usage)
            return TreeUsage(
                cpu_s=sum(p.cpu_s for p in processes),
                rss_peak_bytes=self._rss_peak,
                wall_s=wall,
                processes=processes,
            )
