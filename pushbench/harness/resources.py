"""CPU time and memory of a whole process tree (the server and its workers).

A background thread samples RSS every ``interval_s`` (the peak is what matters); CPU time is read
at start and stop, per process, so that workers that come and go are accounted for as well as
possible (a process that exits between samples keeps the CPU time of its last sample). CPU time
is read in nanoseconds (:mod:`pushbench.harness.cpu_clock`), not in psutil's 10 ms ticks.

Every sample is also kept on a timeline (:class:`~pushbench.core.intervals.ResourceSample`, on
the ``monotonic_ns`` clock the drivers use) so that the server's CPU %, RSS and, when asked
for, open connections can be read per interval of a run.

Open connections are the tree's **socket descriptors** (``/proc/<pid>/fd`` links to
``socket:``): every client connection, plus the listening socket and any broker connection, a
constant few. psutil's ``net_connections`` would say TCP states, but it parses the host's whole
``/proc/net/tcp`` in Python: 17 ms a call on this machine with 800 host-wide sockets, holding
the GIL of the generator's process. Counting descriptors costs about 3.7 µs per descriptor
(0.4 ms for 100 connections), and is done at most every ``connections_every_s``. Linux only:
elsewhere connections are not counted (None).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field

import psutil

from pushbench.core.intervals import ResourceSample
from pushbench.harness.cpu_clock import process_cpu_ns

__all__ = ["ProcessUsage", "TreeSampler", "TreeUsage", "tree_rss_bytes"]


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
    #: Every sample taken, in order: the tree over time.
    timeline: list[ResourceSample] = field(default_factory=list)


class TreeSampler:
    """Sample the process tree rooted at ``pid`` between :meth:`start` and :meth:`stop`."""

    def __init__(
        self, pid: int, interval_s: float = 0.2, connections_every_s: float | None = None
    ) -> None:
        self._root = psutil.Process(pid)
        self._interval_s = interval_s
        self._connections_every_ns = (
            None
            if connections_every_s is None or not os.path.isdir("/proc/self/fd")
            else round(connections_every_s * 1e9)
        )
        self._connections_at = 0
        self._timeline: list[ResourceSample] = []
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
        connections: int | None = None
        every, now = self._connections_every_ns, time.monotonic_ns()
        processes = self._processes()
        if every is not None and now - self._connections_at >= every:
            self._connections_at = now
            connections = sum(_sockets(process.pid) for process in processes)
        for process in processes:
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
            cpu_s = sum(self._last_cpu.values()) - sum(self._start_cpu.values())
            sample = ResourceSample(time.monotonic_ns(), cpu_s, total_rss, connections)
            self._timeline.append(sample)

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
                timeline=list(self._timeline),
            )


def _sockets(pid: int) -> int:
    """Socket descriptors of process ``pid`` (0 where ``/proc`` does not say)."""
    count = 0
    with contextlib.suppress(OSError), os.scandir(f"/proc/{pid}/fd") as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                count += os.readlink(entry.path).startswith("socket:")
    return count


def tree_rss_bytes(pid: int) -> int:
    """RSS of the process ``pid`` and all its descendants, as the sampler adds it up: a server
    whose connections live in worker processes (granian, hypercorn, gunicorn, uvicorn
    ``--workers N``) grows there, not in the process the launcher started."""
    root = psutil.Process(pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return total
