"""The rows of the "pushbench" tab in Locust's web UI (pure: no Locust, no Flask)."""

from __future__ import annotations

import random

from pushbench.core.histogram import LatencyHistogram
from pushbench.core.integrity import IntegrityCounts
from pushbench.locust.aggregate import SwarmAggregate
from pushbench.locust.live import COLUMNS, REPORT_ROW, live_rows
from pushbench.locust.recording import NodeRecorder


def _ship(aggregate: SwarmAggregate, worker: str, samples: list[int]) -> None:
    recorder = NodeRecorder(clock="c0ffee00")
    stats = recorder.stats("ws", "ws", {"payload_bytes": 64})
    for ns in samples:
        stats.latency.add_ns(ns, 0)
        stats.messages += 1
    stats.finish_subscriber(IntegrityCounts(sent=len(samples), delivered=len(samples) - 1, lost=1))
    assert aggregate.add(worker, recorder.take_report(final=True))


def test_rows_hold_the_exact_merged_percentiles_of_every_worker() -> None:
    rng = random.Random(7)
    first = [rng.randrange(100_000, 90_000_000) for _ in range(3_000)]
    second = [rng.randrange(100_000, 20_000_000) for _ in range(1_000)]
    aggregate = SwarmAggregate()
    _ship(aggregate, "w1", first)
    _ship(aggregate, "w2", second)
    pooled = LatencyHistogram()
    pooled.record_all_ns(first + second)

    ws, report = live_rows(aggregate, 10.0, None)
    assert list(ws) == [key for key, _ in COLUMNS]
    assert (ws["name"], ws["transport"], ws["count"]) == ("ws", "ws", 4_000)
    for key, percentile in (("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9)):
        assert ws[key] == pooled.percentile_us(percentile), key
    assert (ws["sent"], ws["delivered"], ws["lost"], ws["duplicated"]) == (4_000, 3_998, 2, 0)
    assert report["name"] == REPORT_ROW
    assert report["transport"] == "written when the test stops"


def test_before_any_report_only_the_report_row_shows_and_then_its_address() -> None:
    (row,) = live_rows(SwarmAggregate(), 0.0, "/pushbench/report")
    assert (row["name"], row["transport"], row["p99"]) == (REPORT_ROW, "/pushbench/report", "")
