"""Soak: what a long run shows that a short one cannot — memory that keeps growing, latency
that drifts.

Any scenario whose intervals (schema v2) cover :data:`SOAK_MIN_S` or more gets a soak reading:

- **RSS slope**: a least-squares line through the server tree's RSS per interval (the peak of
  the interval's samples) against time, in bytes per minute, and per connection (the server's
  open connections at the end, else the scenario's subscribers and publishers), over the second
  half of the run: the first half is where allocators, caches and bounded buffers (the reference
  server's 10,000-message history per room) fill up and then level off. Measured: a 5-minute
  ws soak at 200 msgs/s grew 55.8 → 60.8 MiB in its first 100 s, then stayed at 60.8 MiB
  (run ``20261201-120949-compare-00fd``).
- **Latency drift**: p50 and p99 of the first fifth of the intervals against the last fifth,
  each merged from the intervals' histograms (exact, not an average of percentiles).

Growth beyond :data:`RSS_GROWTH_LIMIT_BYTES_PER_MIN_PER_CONN`, or a p99 drift beyond
:data:`P99_DRIFT_LIMIT`, is a finding of the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from pushbench.core.histogram import LatencyHistogram
from pushbench.core.schema import Interval, Scenario

__all__ = [
    "P99_DRIFT_LIMIT",
    "RSS_GROWTH_LIMIT_BYTES_PER_MIN_PER_CONN",
    "SOAK_MIN_S",
    "Soak",
    "soak",
]

#: A run at least this long (of measured intervals) is read as a soak.
SOAK_MIN_S: Final = 300.0
#: Server memory growing faster than this per connection is a finding (1 KiB per minute: a
#: day at that rate is 1.4 MiB per connection, far beyond what any connection holds here).
RSS_GROWTH_LIMIT_BYTES_PER_MIN_PER_CONN: Final = 1024.0
#: p99 of the last fifth more than this many times the first fifth's is a finding.
P99_DRIFT_LIMIT: Final = 1.5


@dataclass(frozen=True, slots=True)
class Soak:
    """What one long scenario showed over its run."""

    minutes: float
    rss_slope_bytes_per_min: float | None
    """None: the server was not sampled (a ``--target``)."""
    connections: int
    first_p50_us: int
    first_p99_us: int
    last_p50_us: int
    last_p99_us: int

    @property
    def rss_slope_per_connection(self) -> float | None:
        """Bytes per minute per connection."""
        if self.rss_slope_bytes_per_min is None:
            return None
        return self.rss_slope_bytes_per_min / max(self.connections, 1)

    @property
    def p99_drift(self) -> float | None:
        """Last fifth's p99 over the first fifth's (None when the first is 0)."""
        return self.last_p99_us / self.first_p99_us if self.first_p99_us else None

    @property
    def grows(self) -> bool:
        slope = self.rss_slope_per_connection
        return slope is not None and slope > RSS_GROWTH_LIMIT_BYTES_PER_MIN_PER_CONN

    @property
    def drifts(self) -> bool:
        drift = self.p99_drift
        return drift is not None and drift > P99_DRIFT_LIMIT


def _merged(intervals: Sequence[Interval]) -> LatencyHistogram:
    merged = LatencyHistogram()
    for interval in intervals:
        if interval.latency_us.count:
            merged.merge(interval.latency_us.decode_histogram())
    return merged


def _slope_per_min(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, bytes), per minute; None under two distinct times."""
    if len(points) < 2:
        return None
    mean_t = sum(t for t, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    cov = sum((t - mean_t) * (y - mean_y) for t, y in points)
    return cov / var * 60


def soak(scenario: Scenario, min_s: float = SOAK_MIN_S) -> Soak | None:
    """The soak reading of ``scenario``; None for a run shorter than ``min_s`` or without
    intervals (schema v1)."""
    intervals = scenario.intervals or []
    if not intervals:
        return None
    covered = intervals[-1].start_s + intervals[-1].duration_s - intervals[0].start_s
    if covered < min_s:
        return None
    fifth = max(1, len(intervals) // 5)
    first, last = _merged(intervals[:fifth]), _merged(intervals[-fifth:])
    half = len(intervals) // 2
    sampled = [(i.start_s + i.duration_s / 2, float(i.server.rss_bytes)) for i in intervals[half:]
               if i.server is not None]  # fmt: skip
    counted = [i.server.connections for i in intervals if i.server and i.server.connections]
    params = scenario.typed_params
    connections = counted[-1] if counted else (params.subscribers or 0) + (params.publishers or 0)
    return Soak(
        minutes=covered / 60,
        rss_slope_bytes_per_min=_slope_per_min(sampled),
        connections=connections,
        first_p50_us=first.percentile_us(50) if first.count else 0,
        first_p99_us=first.percentile_us(99) if first.count else 0,
        last_p50_us=last.percentile_us(50) if last.count else 0,
        last_p99_us=last.percentile_us(99) if last.count else 0,
    )
