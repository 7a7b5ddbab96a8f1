"""Running the generator's asyncio code, and keeping server and generator on separate CPUs."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import psutil

__all__ = ["cpu_plan", "generator_affinity", "pin_server", "raise_open_files", "run_uvloop"]

T = TypeVar("T")


def cpu_plan(pin: bool) -> tuple[list[int] | None, list[int] | None]:
    """(server CPUs, generator CPUs): the allowed CPUs split in two, server first.

    ``(None, None)`` when pinning is off or there is only one CPU.
    """
    allowed = sorted(os.sched_getaffinity(0))
    if not pin or len(allowed) < 2:
        return None, None
    half = len(allowed) // 2
    return allowed[:half], allowed[half:]


@contextlib.contextmanager
def generator_affinity(cpus: list[int] | None) -> Iterator[None]:
    """Run this process on ``cpus`` inside the block (no change for ``None``)."""
    original = os.sched_getaffinity(0)
    if cpus:
        os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, original)


def pin_server(pid: int, cpus: list[int] | None) -> None:
    """Pin every thread of every process of the server's tree to ``cpus``.

    The server is pinned once it answers, by then with its workers and their threads running:
    an affinity mask is per thread (``sched_setaffinity`` of a pid sets that one thread), and
    only what starts later inherits it. granian runs its Rust runtime in threads of each worker,
    uvicorn and hypercorn their workers in child processes; pinning the main thread alone would
    leave them all free to run on the generator's CPUs.
    """
    if not cpus:
        return
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    for process in processes:
        with contextlib.suppress(psutil.Error):
            for thread in process.threads():
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(thread.id, cpus)


def raise_open_files(needed: int) -> None:
    """Raise this process's soft open-file limit to at least ``needed`` (servers it starts
    inherit it).

    Raises:
        OSError: the hard limit is below ``needed``; the message says what to change.
    """
    import resource  # POSIX only, like the rest of the harness

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return  # already enough: never lower it
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise OSError(
            f"this needs {needed} open files but the hard limit is {hard}: "
            f"raise it (ulimit -Hn {needed}, as root) or ask for fewer connections"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def run_uvloop(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run one coroutine on a fresh uvloop event loop (asyncio's where uvloop is missing)."""
    try:
        import uvloop

        loop_factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        loop_factory = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(factory())
