"""CPU time of any process, at nanosecond resolution where the kernel offers it.

psutil reads ``/proc/<pid>/stat``, whose CPU times move in clock ticks (10 ms at the usual
``CLK_TCK`` of 100): a short run's "server CPU µs per message" then came out in multiples of
4 µs. Linux keeps every process's CPU time in nanoseconds and lets any process read another's
through its CPU-time clock (``clock_getcpuclockid`` + ``clock_gettime``): the whole process,
threads that have exited included. ``/proc/<pid>/schedstat`` holds the same nanoseconds, but
for one thread only. Where the clock cannot be had (not Linux, or no libc), psutil's ticks are
the fallback, and :data:`CPU_RESOLUTION_NS` says which resolution a figure has.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import time

import psutil

__all__ = ["CPU_CLOCK", "CPU_RESOLUTION_NS", "process_cpu_ns"]


def _load_libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.clock_getcpuclockid  # noqa: B018 - probe: a libc without it is no use here
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _load_libc()


def _clock_ns(pid: int) -> int | None:
    """The process's CPU-time clock, or None when it cannot be read (gone, or not allowed)."""
    if _LIBC is None:
        return None
    clock = ctypes.c_int()
    if _LIBC.clock_getcpuclockid(pid, ctypes.byref(clock)) != 0:
        return None
    try:
        return time.clock_gettime_ns(clock.value)
    except OSError:
        return None


def _probe() -> bool:
    return _clock_ns(os.getpid()) is not None


#: How every CPU figure of this run is read: ``"clock_gettime"`` (ns) or ``"psutil"`` (ticks).
CPU_CLOCK = "clock_gettime" if _probe() else "psutil"
#: The resolution of those figures, in ns: 1, or one clock tick of ``/proc/<pid>/stat``.
CPU_RESOLUTION_NS = 1 if CPU_CLOCK == "clock_gettime" else 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def process_cpu_ns(process: psutil.Process) -> int:
    """User + system CPU time of ``process`` so far, in ns.

    Raises:
        psutil.Error: the process is gone (or cannot be read).
    """
    if CPU_CLOCK == "clock_gettime":
        cpu = _clock_ns(process.pid)
        if cpu is not None:
            return cpu
    times = process.cpu_times()
    return round((times.user + times.system) * 1e9)
