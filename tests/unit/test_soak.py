"""Soak readings of long runs: memory slope per connection and latency drift (no sockets)."""

from __future__ import annotations

from pathlib import Path

from pushbench.core.histogram import LatencyHistogram
from pushbench.core.schema import Interval, IntervalServer, Scenario, latency_summary, load_results
from pushbench.core.soak import SOAK_MIN_S, soak
from pushbench.report.verdict import findings

FIXTURE = Path(__file__).parents[1] / "fixtures" / "results-v1.json"


def _interval(second: int, latency_us: int, rss: int, connections: int = 52) -> Interval:
    histogram = LatencyHistogram()
    histogram.record_all_ns([latency_us * 1000] * 100)
    return Interval(
        start_s=second,
        duration_s=1.0,
        sent=100,
        delivered=100,
        lost=0,
        latency_us=latency_summary(histogram),
        server=IntervalServer(cpu_percent=10.0, rss_bytes=rss, connections=connections),
    )


def _long(seconds: int, rss_per_s: int, late_latency_us: int) -> Scenario:
    base = load_results(FIXTURE).scenarios[0]
    intervals = [
        _interval(s, 2_000 if s < seconds * 4 // 5 else late_latency_us, 50_000_000 + rss_per_s * s)
        for s in range(seconds)
    ]
    return base.model_copy(update={"interval_s": 1.0, "intervals": intervals})


def test_a_short_run_is_no_soak() -> None:
    assert soak(_long(60, 0, 2_000)) is None
    assert soak(load_results(FIXTURE).scenarios[0]) is None  # no intervals: schema v1


def test_memory_growth_is_read_per_connection_per_minute() -> None:
    reading = soak(_long(int(SOAK_MIN_S), rss_per_s=1_000, late_latency_us=2_000))
    assert reading is not None
    assert round(reading.rss_slope_bytes_per_min) == 60_000
    assert reading.connections == 52
    assert round(reading.rss_slope_per_connection or 0) == round(60_000 / 52)
    assert reading.grows
    assert not reading.drifts


def test_a_flat_run_is_not_flagged_and_a_drifting_one_is() -> None:
    flat = _long(int(SOAK_MIN_S), rss_per_s=0, late_latency_us=2_000)
    drifting = _long(int(SOAK_MIN_S), rss_per_s=0, late_latency_us=9_000)
    flat_reading, drift_reading = soak(flat), soak(drifting)
    assert flat_reading is not None
    assert drift_reading is not None
    assert not flat_reading.grows
    assert not flat_reading.drifts
    assert drift_reading.drifts
    assert drift_reading.first_p99_us < drift_reading.last_p99_us
    document = load_results(FIXTURE)
    texts = [f.text for f in findings(document.model_copy(update={"scenarios": [drifting, flat]}))]
    assert [t for t in texts if "drifted" in t] == [
        f"{drifting.name}: p99 drifted from 2 ms in the first fifth of the run to 9.01 ms in the "
        "last (×4.5, over ×1.5)."
    ]
