"""A closed loop's measured window over time: round trips and requests by their **send** time.

A closed-loop client (echo, short polls) sends its next message when the last one came back, so
it has no schedule: a round trip belongs to the interval its message was *sent* in, whenever its
answer came. A stall then shows as high latency in the interval that suffered it and as fewer
round trips sent in the next; and since every message sent in the window is counted once,
wherever its answer lands, the intervals add up to the whole-run figures exactly:

- **sent**: messages (requests) sent in the interval;
- **lost**: of those, the ones that never got an answer (timed out, failed, a dropped
  connection's outstanding one), less those whose answer still came late;
  ``delivered = sent - lost`` are the round trips completed;
- **latency**: one histogram of the completed round trips' latencies.

A run that counts deliveries without timing them (fan-out: frames counted per subscriber) reads
its counters at each interval's edge instead (:func:`counted_series`).

Drivers keep raw samples in ``array('q')`` while they run and bucket them here afterwards (pure
code, no I/O), as :mod:`pushbench.core.intervals` does for push.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence

from pushbench.core.histogram import LatencyHistogram
from pushbench.core.intervals import IntervalGrid, IntervalSeries, bucket_latencies

__all__ = ["closed_loop_series", "counted_series", "in_window", "tally"]


def tally(grid: IntervalGrid, times_ns: Iterable[int]) -> list[int]:
    """How many of ``times_ns`` (in any order) fall in each interval; the rest are left out."""
    start, end, width = grid.start_ns, grid.end_ns, grid.width_ns
    counts = [0] * grid.count
    for t in times_ns:
        if start <= t < end:
            counts[(t - start) // width] += 1
    return counts


def in_window(
    grid: IntervalGrid, sent_ns: Sequence[int], latencies_ns: Sequence[int]
) -> array[int]:
    """The latencies (ns) of the round trips sent inside the window: the whole run's samples."""
    start, end = grid.start_ns, grid.end_ns
    return array(
        "q",
        (
            latency
            for latency, sent in zip(latencies_ns, sent_ns, strict=True)
            if start <= sent < end
        ),
    )


def closed_loop_series(
    grid: IntervalGrid,
    sent_ns: Sequence[int],
    latencies_ns: Sequence[int],
    failed_ns: Iterable[int] = (),
    recovered_ns: Iterable[int] = (),
    *,
    requests: bool = False,
    start_epoch_s: float = 0.0,
) -> IntervalSeries:
    """The intervals of a closed loop, from its raw samples.

    Args:
        grid: The measured window's intervals (``monotonic_ns``).
        sent_ns: The send time of each completed round trip.
        latencies_ns: Its latency (same index as ``sent_ns``).
        failed_ns: The send time of each message that got no (good) answer.
        recovered_ns: The send time of each of those whose answer came after all (late): no
            longer lost.
        requests: The messages are HTTP requests: ``http_requests`` per interval is ``sent``.
        start_epoch_s: The window's start in seconds since the epoch (for interval logs).
    """
    histograms = bucket_latencies(grid, [(latencies_ns, sent_ns)])
    failed = tally(grid, failed_ns)
    recovered = tally(grid, recovered_ns)
    lost = [f - r for f, r in zip(failed, recovered, strict=True)]
    sent = [h.count + n for h, n in zip(histograms, lost, strict=True)]
    return IntervalSeries(
        grid,
        histograms,
        sent,
        lost,
        http_requests=list(sent) if requests else None,
        start_epoch_s=start_epoch_s,
    )


def counted_series(
    grid: IntervalGrid, at_edges: Sequence[int], *, start_epoch_s: float = 0.0
) -> IntervalSeries:
    """The intervals of a run that counts deliveries without timing them.

    Args:
        grid: The measured window's intervals.
        at_edges: The running count read at every edge of ``grid`` (``grid.count + 1`` values,
            the window's start first): interval ``i`` delivered ``at_edges[i + 1] -
            at_edges[i]``, so the intervals add up to ``at_edges[-1] - at_edges[0]``.
        start_epoch_s: The window's start in seconds since the epoch.
    """
    if len(at_edges) != grid.count + 1:
        raise ValueError(f"{len(at_edges)} counts for the {grid.count + 1} edges of the window")
    delivered = [at_edges[i + 1] - at_edges[i] for i in range(grid.count)]
    if any(n < 0 for n in delivered):
        raise ValueError(f"a running count went down: {list(at_edges)}")
    return IntervalSeries(
        grid,
        [LatencyHistogram() for _ in range(grid.count)],
        delivered,
        [0] * grid.count,
        start_epoch_s=start_epoch_s,
    )
