"""A scenario's intervals as series to plot and a one-line range to print.

Throughput per interval is its latency samples over its length, as the whole-run figure is the
histogram's count over the window: the intervals add up to it. A run that counts deliveries
without timing them (serverbench's fan-out) has no latency samples: its throughput is the
interval's delivered count. Documents without intervals (schema version 1) have no series, and
their reports render as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from pushbench.core.schema import Interval, ResultsDocument, Scenario
from pushbench.core.soak import Soak, soak
from pushbench.core.units import format_ms, format_rate

__all__ = ["OverTime", "over_time", "over_time_line", "rate", "with_intervals"]


@dataclass(frozen=True, slots=True)
class OverTime:
    """One scenario's per-interval series, all of the same length."""

    t_s: list[float]
    """Each interval's middle, seconds from the measured window's start."""
    msgs_per_s: list[float]
    p50_ms: list[float]
    p99_ms: list[float]
    max_ms: list[float]
    lost: list[int]
    timed: list[bool]
    """Whether the interval has latency samples (its p50/p99/max mean something)."""
    cpu_percent: list[float | None]
    rss_mb: list[float | None]


def with_intervals(document: ResultsDocument) -> list[Scenario]:
    """The scenarios of ``document`` that carry intervals."""
    return [s for s in document.scenarios if s.intervals]


def rate(interval: Interval) -> float:
    """The interval's messages per second: its latency samples, or (a run that counts
    deliveries without timing them) its delivered count, over its length."""
    return (interval.latency_us.count or interval.delivered) / interval.duration_s


def over_time(scenario: Scenario) -> OverTime:
    """The series of ``scenario``'s intervals."""
    items = scenario.intervals
    return OverTime(
        t_s=[i.start_s + i.duration_s / 2 for i in items],
        msgs_per_s=[rate(i) for i in items],
        p50_ms=[i.latency_us.p50 / 1000 for i in items],
        p99_ms=[i.latency_us.p99 / 1000 for i in items],
        max_ms=[i.latency_us.max / 1000 for i in items],
        lost=[i.lost for i in items],
        timed=[i.latency_us.count > 0 for i in items],
        cpu_percent=[i.server.cpu_percent if i.server else None for i in items],
        rss_mb=[i.server.rss_bytes / 2**20 if i.server else None for i in items],
    )


def over_time_line(scenario: Scenario) -> str:
    """``p99 per 1 s: 5.30 … 9.62 ms; msgs/s 980 … 1,000; server CPU 3.8 … 4.2 %``; the
    intervals' lowest and highest values, lost messages when there were any."""
    items = scenario.intervals
    width = f"{scenario.interval_s:g} s" if scenario.interval_s else "interval"
    measured = [i for i in items if i.latency_us.count]
    parts = []
    if measured:
        p99 = [i.latency_us.p99 for i in measured]
        parts.append(f"p99 per {width}: {format_ms(min(p99))} … {format_ms(max(p99))} ms")
    # A tail interval much shorter than the width (the window rarely ends on a boundary: a
    # Locust run's last one is often a few ms) says little about a rate: left out of the
    # range while full-width ones exist. The chart still plots it.
    full = [i for i in items if not scenario.interval_s or i.duration_s >= scenario.interval_s / 2]
    rates = [rate(i) for i in full or items]
    parts.append(f"msgs/s {format_rate(min(rates))} … {format_rate(max(rates))}")
    cpu = [i.server.cpu_percent for i in items if i.server]
    if cpu:
        parts.append(f"server CPU {min(cpu):.1f} … {max(cpu):.1f} %")
    lossy = sum(1 for i in items if i.lost)
    if lossy:
        parts.append(f"loss in {lossy} of {len(items)} intervals")
    reading = soak(scenario)
    if reading is not None:
        parts.append(soak_text(reading))
    return "; ".join(parts)


def soak_text(reading: Soak) -> str:
    """``soak 10 min: server RSS +12.3 KiB/min (+205 B/min per connection); p99 first fifth
    4.10 ms, last fifth 4.30 ms``."""
    text = f"soak {reading.minutes:.0f} min: "
    slope = reading.rss_slope_bytes_per_min
    if slope is not None:
        per = reading.rss_slope_per_connection or 0.0
        text += f"server RSS {slope / 1024:+.1f} KiB/min ({per:+.0f} B/min per connection); "
    return text + (
        f"p99 first fifth {format_ms(reading.first_p99_us)} ms, last fifth "
        f"{format_ms(reading.last_p99_us)} ms"
    )
