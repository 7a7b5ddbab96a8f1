"""Per-process recording and the exact merge of worker reports on the master."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from pushbench.core.histogram import LatencyHistogram
from pushbench.core.integrity import IntegrityCounts
from pushbench.core.schema import Environment, load_results
from pushbench.locust.aggregate import SwarmAggregate
from pushbench.locust.recording import REPORT_VERSION, LatencyCounts, NodeRecorder, Phase


def _samples(seed: int, count: int) -> list[int]:
    rng = random.Random(seed)
    values = [round(rng.lognormvariate(13, 1.2)) for _ in range(count)]
    # Rounding boundaries, zero, negatives (clock skew) and beyond one hour (clamped).
    return [*values, 499, 500, 1499, 1500, 0, -1, -499, -2_000_000, 4_000_000_000_000_000]


def _pooled(samples: list[int]) -> LatencyHistogram:
    histogram = LatencyHistogram()
    for ns in samples:
        histogram.record_ns(ns)
    return histogram


def test_folded_counts_are_the_histogram_of_every_sample() -> None:
    samples = _samples(1, 20_000)
    counts = LatencyCounts()
    for ns in samples:
        counts.add_ns(ns, 0)
    assert len(counts) == len(samples)
    folded, pooled = counts.take().whole, _pooled(samples)
    assert folded.summary() == pooled.summary()
    assert folded.encode() == pooled.encode()
    assert (folded.clamped_low, folded.clamped_high) == (pooled.clamped_low, 1)
    assert len(counts) == 0, "take() starts afresh"


def _worker_reports(recorder: NodeRecorder, samples: list[int], chunks: int) -> list[Any]:
    """Record ``samples`` through a worker's recorder, shipping a report every chunk."""
    reports = []
    stats = recorder.stats("ws", "ws", {"payload_bytes": 64})
    size = len(samples) // chunks + 1
    for start in range(0, len(samples), size):
        for ns in samples[start : start + size]:
            stats.latency.add_ns(ns, 0)
            stats.messages += 1
        reports.append(recorder.take_report())
    stats.finish_subscriber(IntegrityCounts(sent=5, delivered=4, lost=1))
    reports.append(recorder.take_report(final=True))
    return reports


def test_merged_percentiles_equal_those_of_all_samples_pooled() -> None:
    aggregate = SwarmAggregate()
    everything: list[int] = []
    for worker in range(3):
        samples = _samples(worker, 5_000 * (worker + 1))
        everything += samples
        recorder = NodeRecorder(clock="c0ffee00")
        for report in _worker_reports(recorder, samples, chunks=4):
            assert aggregate.add(f"w{worker}", report)
    merged = aggregate.names["ws"]
    assert merged.histogram.summary() == _pooled(everything).summary()
    assert merged.histogram.clamped == _pooled(everything).clamped
    assert merged.messages == len(everything)
    assert merged.integrity == IntegrityCounts(sent=15, delivered=12, lost=3)
    assert all(worker.final for worker in aggregate.workers.values())


def test_reports_are_deltas_and_carry_raw_samples_only_when_asked() -> None:
    recorder = NodeRecorder(clock="c", keep_raw=True)
    stats = recorder.stats("echo", "echo")
    stats.latency.add_ns(1_000, 0)
    stats.attempts = stats.messages = 1
    first = recorder.take_report()
    second = recorder.take_report()
    assert first["names"]["echo"]["messages"] == 1
    assert second["names"]["echo"]["messages"] == 0
    assert LatencyHistogram.decode(second["names"]["echo"]["histogram"]).count == 0
    assert recorder.raw_samples() == {"echo": {"latency_ns": [1_000], "scheduled_ns": [0]}}
    assert NodeRecorder(clock="c").raw_samples() == {}


def _flags(recorder: NodeRecorder) -> tuple[bool, bool]:
    return recorder.loading, recorder.recording


def test_phases_gate_loading_and_recording() -> None:
    recorder = NodeRecorder(clock="c")
    assert _flags(recorder) == (True, True)
    recorder.phase = Phase.DRAINING
    assert _flags(recorder) == (False, True)
    recorder.phase = Phase.CLOSED
    assert _flags(recorder) == (False, False)


def test_the_master_refuses_foreign_late_or_malformed_reports() -> None:
    aggregate = SwarmAggregate()
    report: dict[str, Any] = dict(NodeRecorder(clock="c").take_report())
    assert not aggregate.add("old", {**report, "version": REPORT_VERSION + 1})
    assert not aggregate.add("bad", {**report, "names": {"ws": {"transport": "ws"}}})
    assert aggregate.add("w", report)
    aggregate.closed = True
    late = NodeRecorder(clock="c")
    late.stats("ws", "ws").messages = 1
    assert not aggregate.add("w", late.take_report())
    assert len(aggregate.rejected) == 3


def _document_aggregate() -> SwarmAggregate:
    aggregate = SwarmAggregate()
    for index, clock in enumerate(("aaaaaaaa", "bbbbbbbb")):
        recorder = NodeRecorder(clock=clock)
        echo = recorder.stats("echo", "echo", {"payload_bytes": 64})
        echo.users, echo.attempts, echo.messages = 5, 101, 100
        for _ in range(100):
            echo.latency.add_ns(250_000, 0)
        poll = recorder.stats("short-poll@1", "short-poll", {"poll_interval_s": 1.0})
        poll.messages, poll.http_requests, poll.cross_clock = 40, 20, 3 * index
        poll.latency.add_ns(500_000_000, 0)
        poll.finish_subscriber(IntegrityCounts(sent=40, delivered=40))
        poll.finish_subscriber(IntegrityCounts())
        recorder.drained = bool(index)
        aggregate.add(f"w{index}", recorder.take_report(final=True))
    return aggregate


def test_the_document_has_one_scenario_per_name_and_honest_warnings() -> None:
    aggregate = _document_aggregate()
    now = datetime.now(UTC)
    document = aggregate.document(
        run_id="r",
        started_at=now,
        finished_at=now,
        duration_s=10.0,
        environment=Environment(
            python="CPython 3.11", platform="x", cpu_count=2, packages={}, git_commit=None
        ),
        config={"room": "r"},
    )
    assert load_results(document.model_dump_json()) == document
    echo, poll = document.scenarios
    assert (echo.transport, echo.sent, echo.delivered, echo.lost) == ("echo", 202, 200, 2)
    assert echo.http_requests is None
    assert echo.latency_us.count == 200
    assert echo.throughput_msgs_per_s == pytest.approx(20.0)
    assert (poll.sent, poll.delivered, poll.http_requests) == (80, 80, 40)
    assert poll.http_requests_per_delivered_msg == pytest.approx(0.5)
    assert poll.params["users"] == 0
    assert poll.params["cross_clock_messages"] == 3
    assert document.config["workers"] == 2
    warnings = " | ".join(document.warnings)
    assert "another host" in warnings
    assert "2 of 4 subscribers received nothing" in warnings
    assert "2 hosts" in warnings
    assert "worker w0: the drain timed out" in warnings
