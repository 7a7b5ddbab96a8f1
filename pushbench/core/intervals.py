"""Over time: the measured window cut into fixed intervals, each with its own histogram.

An *interval* is ``[start + i * width, start + (i + 1) * width)`` of the measured window on the
``time.monotonic_ns`` clock (the last one ends with the window, so it may be shorter). Every
per-message figure is attributed to the interval its message was **scheduled** in, never to when
it arrived: a stall then shows up as high latency in the interval that suffered it, and the
message it lost as a loss of that interval, as open-loop measurement wants. So, per interval:

- **latency**: the delivery latencies of messages scheduled in it (one HdrHistogram each);
  the intervals partition the window, so merging them gives the whole-run histogram exactly;
- **sent**: deliveries owed for messages scheduled in it (messages sent x subscribers);
- **lost**: of those, the ones that never arrived by the end of the drain;
  ``delivered = sent - lost``;
- **http requests**: the requests subscribers made during it (requests have no schedule);
- **server**: the server tree's CPU % over it, its peak RSS and open TCP connections in it.

Drivers keep raw samples while they run and bucket them here afterwards (pure code, no I/O), so
the hot path costs what it did before intervals existed.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from pushbench.core.histogram import LatencyHistogram

__all__ = [
    "DEFAULT_INTERVAL_S",
    "IntervalGrid",
    "IntervalSeries",
    "ResourceSample",
    "ServerInterval",
    "bucket_latencies",
    "counts_per_interval",
    "lost_per_interval",
    "merge_series",
    "seqs_per_interval",
    "server_per_interval",
]

#: The interval width when nobody asks for another (``--interval``).
DEFAULT_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True)
class IntervalGrid:
    """The measured window ``[start_ns, end_ns)`` cut into intervals of ``width_ns``."""

    start_ns: int
    end_ns: int
    width_ns: int

    def __post_init__(self) -> None:
        if self.width_ns <= 0:
            raise ValueError(f"interval width must be > 0 ns, got {self.width_ns}")

    @property
    def count(self) -> int:
        """How many intervals (0 for an empty window)."""
        span = self.end_ns - self.start_ns
        return max(0, math.ceil(span / self.width_ns))

    def bounds(self, index: int) -> tuple[int, int]:
        """``[start, end)`` of interval ``index`` in ns; the last one ends with the window."""
        start = self.start_ns + index * self.width_ns
        return start, min(start + self.width_ns, self.end_ns)

    def edges(self) -> list[int]:
        """Every interval's start, then the window's end (``count + 1`` values)."""
        return [self.start_ns + i * self.width_ns for i in range(self.count)] + [self.end_ns]


class ResourceSample(NamedTuple):
    """One sample of the server's process tree, on the ``monotonic_ns`` clock."""

    t_ns: int
    cpu_s: float
    """CPU seconds of the whole tree since the sampler started (cumulative)."""
    rss_bytes: int
    connections: int | None
    """Established TCP connections of the tree; None: not counted."""


class ServerInterval(NamedTuple):
    """The server tree over one interval."""

    cpu_percent: float
    """Of one core (above 100 with several busy processes)."""
    rss_bytes: int
    """Peak of the samples in the interval."""
    connections: int | None
    """Peak of the samples in the interval; None: not counted."""


@dataclass(slots=True)
class IntervalSeries:
    """One scenario's intervals: a histogram and counters per interval of ``grid``."""

    grid: IntervalGrid
    histograms: list[LatencyHistogram]
    sent: list[int]
    lost: list[int]
    http_requests: list[int] | None = None
    #: The window's start as seconds since the epoch (for interval logs with absolute times).
    start_epoch_s: float = 0.0

    @property
    def delivered(self) -> list[int]:
        """``sent - lost`` per interval."""
        return [s - lost for s, lost in zip(self.sent, self.lost, strict=True)]

    def whole(self) -> LatencyHistogram:
        """Every interval merged: the whole window's histogram (exact)."""
        total = LatencyHistogram()
        for histogram in self.histograms:
            if histogram.count:
                total.merge(histogram)
        return total


def bucket_latencies(
    grid: IntervalGrid,
    samples: Iterable[tuple[Sequence[int], Sequence[int]]],
) -> list[LatencyHistogram]:
    """One histogram per interval from raw ``(latencies_ns, scheduled_ns)`` pairs of arrays.

    Sample ``k`` of a pair has latency ``latencies_ns[k]`` and was scheduled at
    ``scheduled_ns[k]``; samples scheduled outside the window (warm-up) are left out. Equal
    (interval, µs) pairs become one record call, as in
    :meth:`~pushbench.core.histogram.LatencyHistogram.record_all_ns`.
    """
    start, end, width = grid.start_ns, grid.end_ns, grid.width_ns
    counts: Counter[tuple[int, int]] = Counter()
    for latencies, scheduled in samples:
        counts.update(
            ((sent - start) // width, (latency + 500) // 1000)
            for latency, sent in zip(latencies, scheduled, strict=True)
            if start <= sent < end
        )
    histograms = [LatencyHistogram() for _ in range(grid.count)]
    for (index, us), count in counts.items():
        histograms[index].record_ns(us * 1000, count)
    return histograms


def merge_series(parts: Sequence[Sequence[LatencyHistogram]]) -> list[LatencyHistogram]:
    """Interval-wise merge of several sources on the same grid (exact: counts add)."""
    width = max((len(part) for part in parts), default=0)
    merged = [LatencyHistogram() for _ in range(width)]
    for part in parts:
        for index, histogram in enumerate(part):
            if histogram.count:
                merged[index].merge(histogram)
    return merged


def seqs_per_interval(
    grid: IntervalGrid, start_ns: int, step_ns: int, first: int, end: int
) -> list[int]:
    """How many of the seqs ``first .. end - 1`` fall in each interval, seq ``k`` scheduled at
    ``start_ns + k * step_ns`` (an open-loop publisher's schedule); seqs outside the window
    are in none. Arithmetic on the schedule: no per-seq work, however long the run.
    """
    if step_ns <= 0:
        raise ValueError(f"a schedule's step must be > 0 ns, got {step_ns}")

    def cut(edge: int) -> int:
        # The first seq scheduled at or after ``edge``: ceil((edge - start) / step).
        return min(end, max(first, -((start_ns - edge) // step_ns)))

    cuts = [cut(edge) for edge in grid.edges()]
    return [cuts[i + 1] - cuts[i] for i in range(grid.count)]


def _cuts(grid: IntervalGrid, scheduled: Sequence[int]) -> list[int]:
    """Positions in the sorted ``scheduled`` where each interval (and the window's end) starts."""
    return [bisect.bisect_left(scheduled, edge) for edge in grid.edges()]


def counts_per_interval(grid: IntervalGrid, scheduled: Sequence[int]) -> list[int]:
    """How many of the (sorted) scheduled times fall in each interval."""
    cuts = _cuts(grid, scheduled)
    return [cuts[i + 1] - cuts[i] for i in range(grid.count)]


def lost_per_interval(
    grid: IntervalGrid, scheduled: Sequence[int], missing: Iterable[tuple[int, int]]
) -> list[int]:
    """Missing seqs per interval of their scheduled time.

    Args:
        grid: The intervals.
        scheduled: The scheduled send time of seq ``k`` at index ``k`` (sorted: a publisher
            sends its seqs in schedule order).
        missing: Half-open ``[first, end)`` seq ranges that never arrived.
    """
    cuts = _cuts(grid, scheduled)
    lost = [0] * grid.count
    for first, end in missing:
        # Intervals whose seq range [cuts[i], cuts[i + 1]) overlaps [first, end).
        index = max(0, bisect.bisect_right(cuts, first) - 1)
        while index < grid.count and cuts[index] < end:
            overlap = min(end, cuts[index + 1]) - max(first, cuts[index])
            if overlap > 0:
                lost[index] += overlap
            index += 1
    return lost


def _cpu_at(samples: Sequence[ResourceSample], times: Sequence[int], t_ns: int) -> float | None:
    """The tree's cumulative CPU seconds at ``t_ns``, interpolated between two samples."""
    after = bisect.bisect_left(times, t_ns)
    if after == len(samples) or (after == 0 and times[0] != t_ns):
        return None  # outside what was sampled
    if times[after] == t_ns or after == 0:
        return samples[after].cpu_s
    low, high = samples[after - 1], samples[after]
    share = (t_ns - low.t_ns) / (high.t_ns - low.t_ns)
    return low.cpu_s + share * (high.cpu_s - low.cpu_s)


def server_per_interval(
    grid: IntervalGrid, samples: Sequence[ResourceSample]
) -> list[ServerInterval | None]:
    """The server per interval from samples taken every so often on the same clock.

    CPU % is the CPU time between the interval's two edges (linearly interpolated between the
    samples around each edge) over its length; RSS and connections are the peak of the
    samples inside the interval, or of the last sample before it when none fell inside. An
    interval the samples do not cover at both edges is None.
    """
    ordered = sorted(samples)
    times = [sample.t_ns for sample in ordered]
    out: list[ServerInterval | None] = []
    for index in range(grid.count):
        start, end = grid.bounds(index)
        before, after = _cpu_at(ordered, times, start), _cpu_at(ordered, times, end)
        if before is None or after is None or end <= start:
            out.append(None)
            continue
        first = bisect.bisect_left(times, start)
        inside = ordered[first : bisect.bisect_left(times, end)] or ordered[max(0, first - 1) :][:1]
        counted = [s.connections for s in inside if s.connections is not None]
        out.append(
            ServerInterval(
                cpu_percent=max(0.0, 100.0 * (after - before) / ((end - start) / 1e9)),
                rss_bytes=max(s.rss_bytes for s in inside),
                connections=max(counted) if counted else None,
            )
        )
    return out
