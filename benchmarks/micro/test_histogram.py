"""The measurement core's own cost: recording latencies and merging histograms exactly."""

from __future__ import annotations

import random

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from pushbench.core.histogram import LatencyHistogram

#: Latencies spread over 50 µs .. 50 ms, like a run's mix of push and poll deliveries.
_SAMPLES = [int(random.Random(7).lognormvariate(13.0, 1.2)) for _ in range(1_000)]


@pytest.mark.benchmark(group="histogram")
def test_histogram_record_1000(benchmark: BenchmarkFixture) -> None:
    """1,000 ``record_ns`` calls (what a subscriber does per delivered message)."""
    histogram = LatencyHistogram()

    def record() -> None:
        for ns in _SAMPLES:
            histogram.record_ns(ns)

    benchmark(record)
    assert histogram.count >= len(_SAMPLES)


@pytest.mark.benchmark(group="histogram")
def test_histogram_merge(benchmark: BenchmarkFixture) -> None:
    """Merging one subscriber's histogram into a total (exact: bucket counts add)."""
    part = LatencyHistogram()
    for ns in _SAMPLES:
        part.record_ns(ns)
    total = LatencyHistogram()
    benchmark(total.merge, part)
    assert total.count % part.count == 0


@pytest.mark.benchmark(group="histogram")
def test_histogram_encode_decode(benchmark: BenchmarkFixture) -> None:
    """A histogram to its blob and back (how histograms cross processes and Locust workers)."""
    part = LatencyHistogram()
    for ns in _SAMPLES:
        part.record_ns(ns)

    def round_trip() -> LatencyHistogram:
        return LatencyHistogram.decode(part.encode())

    assert benchmark(round_trip).count == part.count
