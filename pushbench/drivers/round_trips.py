"""What a closed-loop client keeps while it runs, and the measured window it keeps it for.

The raw-socket clients answer ~50k round trips/s per core, so the hot path only appends to
preallocated ``array('q')`` storage: the send time and latency of each completed round trip
(two appends), the send time of each message that got no good answer. Everything else (which
interval, which histogram) is worked out after the run by :mod:`pushbench.core.closed_loop`.

Every time here is ``time.monotonic_ns``, the clock the server sampler
(:class:`~pushbench.harness.resources.TreeSampler`) stamps its samples with, so the server's CPU
and memory fall on the same intervals as the round trips.
"""

from __future__ import annotations

import asyncio
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

from pushbench.core.intervals import IntervalGrid

__all__ = [
    "CLOCK",
    "DRAIN_LIMIT_S",
    "MeasuredWindow",
    "RoundTrips",
    "count_at_edges",
    "drain",
    "sleep_until",
]

#: The clock of every send time and latency of a closed loop.
CLOCK = time.monotonic_ns
#: After the window, how long messages sent inside it may still take to come back before they
#: count as lost.
DRAIN_LIMIT_S = 1.0


def _samples() -> array[int]:
    return array("q")


@dataclass(slots=True)
class RoundTrips:
    """A closed loop's raw samples (ns, :data:`CLOCK`); index ``k`` of ``sent_ns`` and
    ``latencies_ns`` is one completed round trip."""

    sent_ns: array[int] = field(default_factory=_samples)
    latencies_ns: array[int] = field(default_factory=_samples)
    #: The send time of each message that got no good answer (timed out, failed, left
    #: outstanding on a connection that closed or never answered by the end of the drain).
    failed_ns: array[int] = field(default_factory=_samples)
    #: The send time of each of those whose answer came late after all (no longer lost).
    recovered_ns: array[int] = field(default_factory=_samples)

    def clear(self) -> None:
        """Forget the warm-up (what is sent before the window is filtered out anyway; this
        keeps the arrays from holding it)."""
        for samples in (self.sent_ns, self.latencies_ns, self.failed_ns, self.recovered_ns):
            del samples[:]


@dataclass(frozen=True, slots=True)
class MeasuredWindow:
    """The measured window of a closed loop: its intervals and its start on the wall clock."""

    grid: IntervalGrid
    start_epoch_s: float

    @classmethod
    def opening_now(cls, duration_s: float, interval_s: float) -> MeasuredWindow:
        """A window of ``duration_s`` starting now, cut into ``interval_s`` intervals."""
        start = CLOCK()
        epoch = time.time()
        grid = IntervalGrid(start, start + round(duration_s * 1e9), round(interval_s * 1e9))
        return cls(grid, epoch)

    @property
    def duration_s(self) -> float:
        return (self.grid.end_ns - self.grid.start_ns) / 1e9

    async def close(self) -> None:
        """Wait (a fixed span of wall time: the measured window itself) until it has ended."""
        await sleep_until(self.grid.end_ns)


async def drain(pending: Callable[[], bool], limit_s: float = DRAIN_LIMIT_S) -> None:
    """Give the round trips still outstanding ``limit_s`` at most to come back: polls
    ``pending`` every millisecond until it is False (a closed loop's last answers land within
    one round trip)."""
    deadline = CLOCK() + round(limit_s * 1e9)
    while pending():
        if CLOCK() >= deadline:
            return
        await asyncio.sleep(0.001)


async def count_at_edges(grid: IntervalGrid, total: Callable[[], int]) -> list[int]:
    """``total()`` read now (the window's start) and at every later edge of ``grid``, as the
    event loop reaches each: ``grid.count + 1`` running counts."""
    counts = [total()]
    for edge in grid.edges()[1:]:
        await sleep_until(edge)
        counts.append(total())
    return counts


async def sleep_until(t_ns: int) -> None:
    """Sleep until :data:`CLOCK` reads ``t_ns`` (a fixed point of wall time; the loop's timers
    may wake a hair early, so it sleeps again for what is left)."""
    remaining = t_ns - CLOCK()
    while remaining > 0:
        await asyncio.sleep(remaining / 1e9)
        remaining = t_ns - CLOCK()
