"""Waking the publisher on its schedule to within tens of µs, not the event loop's 1 ms tick.

An event loop's timers are as coarse as the poll they end: asyncio rounds ``epoll_wait``'s
timeout up to whole milliseconds and libuv (uvloop) keeps timers in milliseconds, so an
``asyncio.sleep`` until a message's scheduled time wakes up to 1 ms late — 0.4–0.5 ms at the
median, measured as publisher lateness on this 2-vCPU VM (``publisher_lateness_p50_us``). The
latency pushbench reports runs from the *scheduled* time (open loop), so that lateness was in
every push latency: the harness's, not the server's.

:class:`Pacer` sleeps coarsely on the loop until ``margin`` before the deadline, then hands the
last stretch to one thread that sleeps with the kernel's high-resolution timer
(``clock_nanosleep`` under ``time.sleep``) and wakes the loop with ``call_soon_threadsafe`` (a
write to the loop's self-pipe): the loop runs everything else meanwhile, no CPU is spun.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import queue
import sys
import threading
import time

from pushbench.drivers.recorder import now_ns

__all__ = ["Pacer"]

#: prctl(2) option: this thread's timer slack, in ns.
_PR_SET_TIMERSLACK = 29
#: The loop's own timer is trusted to wake no later than this before a deadline (it is up to
#: 1 ms late); the thread times the rest.
COARSE_MARGIN_NS = 2_000_000


def _fine_timer_slack() -> None:
    """Ask Linux for 1 ns of timer slack in this thread (default 50 µs: a sleep may end that
    late, to batch wake-ups); elsewhere, or without libc, the default stays."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.prctl(_PR_SET_TIMERSLACK, ctypes.c_ulong(1), 0, 0, 0)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Pacer:
    """Sleeps until a ``now_ns`` deadline; one per publishing loop, :meth:`close` when done."""

    def __init__(self, margin_ns: int = COARSE_MARGIN_NS) -> None:
        self._loop = asyncio.get_running_loop()
        self._margin_ns = margin_ns
        self._requests: queue.SimpleQueue[tuple[int, asyncio.Future[None]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name="pushbench-pacer", daemon=True)
        self._thread.start()

    async def sleep_until(self, deadline_ns: int) -> None:
        """Return at ``deadline_ns`` (at once if it has passed)."""
        remaining = deadline_ns - now_ns()
        if remaining <= 0:
            return
        if remaining > self._margin_ns:
            await asyncio.sleep((remaining - self._margin_ns) / 1e9)
            if deadline_ns <= now_ns():
                return
        future: asyncio.Future[None] = self._loop.create_future()
        self._requests.put((deadline_ns, future))
        await future

    def _run(self) -> None:
        _fine_timer_slack()
        while (request := self._requests.get()) is not None:
            deadline_ns, future = request
            delay_ns = deadline_ns - now_ns()
            if delay_ns > 0:
                time.sleep(delay_ns / 1e9)
            try:
                self._loop.call_soon_threadsafe(_wake, future)
            except RuntimeError:  # the loop closed while the publisher was cancelled
                return

    def close(self) -> None:
        """Stop the thread (it finishes the wait under way, at most ``margin_ns``)."""
        self._requests.put(None)
