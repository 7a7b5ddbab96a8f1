"""LatencyHistogram: units, clamping, exact merging of encoded blobs, round trips."""

from __future__ import annotations

import random

import pytest
from hdrh.histogram import HdrHistogram

from pushbench.core.histogram import HIGHEST_TRACKABLE_US, LatencyHistogram, PercentilePoint

PERCENTILES = (0.0, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0)


def latencies_ns(seed: int, n: int) -> list[int]:
    """Log-normal latencies around 500 µs with a long tail, in ns."""
    rng = random.Random(seed)
    return [int(rng.lognormvariate(0.0, 1.2) * 500_000) for _ in range(n)]


def recorded(values: list[int]) -> LatencyHistogram:
    histogram = LatencyHistogram()
    for ns in values:
        histogram.record_ns(ns)
    return histogram


def test_empty_histogram_reports_zeros() -> None:
    histogram = LatencyHistogram()
    assert histogram.count == 0
    assert histogram.summary() == {
        "p50": 0,
        "p90": 0,
        "p99": 0,
        "p999": 0,
        "max": 0,
        "mean": 0.0,
        "count": 0,
    }
    assert histogram.percentile_us(99) == 0
    assert histogram.percentile_distribution() == []


def test_nanoseconds_are_rounded_to_the_nearest_microsecond() -> None:
    histogram = LatencyHistogram()
    histogram.record_ns(1_499)  # 1.499 µs -> 1 µs
    assert histogram.percentile_us(100) == 1
    histogram = LatencyHistogram()
    histogram.record_ns(1_500)  # 1.5 µs -> 2 µs (half up)
    assert histogram.percentile_us(100) == 2
    histogram = LatencyHistogram()
    histogram.record_ns(499)  # sub-µs -> 0
    assert histogram.percentile_us(100) == 0
    assert histogram.count == 1


def test_values_below_1024_us_are_exact() -> None:
    # 3 significant digits: 2048 sub-buckets, so every µs up to 2047 has its own bucket.
    histogram = recorded([us * 1_000 for us in range(1, 1001)])
    assert histogram.percentile_us(50) == 500
    assert histogram.percentile_us(99) == 990
    assert histogram.summary()["max"] == 1000
    assert histogram.summary()["mean"] == pytest.approx(500.5)


def test_large_values_keep_three_significant_digits() -> None:
    histogram = LatencyHistogram()
    histogram.record_ns(123_456_789_000)  # 123.456789 s
    # Reported values are the top of their bucket: never below the value, at most 0.1 % above.
    assert 123_456_789 <= histogram.percentile_us(50) <= 123_456_789 * 1.001
    histogram = LatencyHistogram()
    histogram.record_ns(4_000_000)  # 4000 µs: buckets are 2 µs wide from 2048 µs
    assert histogram.percentile_us(50) == 4_001


def test_negative_values_are_recorded_as_zero_and_counted() -> None:
    histogram = LatencyHistogram()
    histogram.record_ns(-5_000)
    histogram.record_ns(2_000, count=3)
    assert histogram.count == 4
    assert histogram.clamped_low == 1
    assert histogram.clamped == 1
    assert histogram.percentile_us(0) == 0
    assert histogram.percentile_us(100) == 2


def test_values_above_one_hour_are_recorded_as_one_hour_and_counted() -> None:
    histogram = LatencyHistogram()
    histogram.record_ns(HIGHEST_TRACKABLE_US * 1_000)  # exactly one hour: in range
    histogram.record_ns(2 * HIGHEST_TRACKABLE_US * 1_000, count=2)
    assert histogram.count == 3
    assert histogram.clamped_high == 2
    assert histogram.percentile_us(100) == pytest.approx(HIGHEST_TRACKABLE_US, rel=1e-3)


def test_percentile_out_of_range_is_rejected() -> None:
    histogram = recorded([1_000])
    with pytest.raises(ValueError, match=r"0\.\.100"):
        histogram.percentile_us(100.5)
    with pytest.raises(ValueError, match=r"0\.\.100"):
        histogram.percentile_us(-1)


def test_summary_mean_matches_hdrhistogram() -> None:
    histogram = recorded(latencies_ns(seed=1, n=5_000))
    reference = HdrHistogram.decode(histogram.encode().encode("ascii"))
    assert histogram.summary()["mean"] == reference.get_mean_value()
    assert histogram.summary()["p99"] == reference.get_value_at_percentile(99.0)
    assert histogram.summary()["p999"] == reference.get_value_at_percentile(99.9)


def test_encode_decode_round_trip() -> None:
    histogram = recorded(latencies_ns(seed=2, n=10_000))
    blob = histogram.encode()
    assert blob.startswith("HISTF")  # HdrHistogram V2 compressed, base64
    decoded = LatencyHistogram.decode(blob)
    assert decoded.count == histogram.count
    assert decoded.summary() == histogram.summary()
    assert decoded.percentile_distribution() == histogram.percentile_distribution()
    assert decoded.encode() == blob


def test_empty_histogram_round_trips() -> None:
    decoded = LatencyHistogram.decode(LatencyHistogram().encode())
    assert decoded.count == 0
    assert decoded.summary() == LatencyHistogram().summary()


def test_decoded_histogram_keeps_recording() -> None:
    decoded = LatencyHistogram.decode(recorded([1_000_000]).encode())
    decoded.record_ns(1_500_000)
    assert decoded.count == 2
    assert decoded.percentile_us(100) == 1_500


def test_merging_blobs_from_several_processes_equals_one_histogram() -> None:
    # Four "processes" record their own share and ship encoded blobs; the merge of the blobs
    # must be indistinguishable from one histogram that recorded everything.
    shares = [latencies_ns(seed=seed, n=2_500 + 500 * seed) for seed in range(4)]
    shares.append([])  # a process that measured nothing
    blobs = [recorded(share).encode() for share in shares]

    merged = LatencyHistogram()
    for blob in blobs:
        merged.merge(LatencyHistogram.decode(blob))
    everything = recorded([ns for share in shares for ns in share])

    assert merged.count == everything.count == sum(len(share) for share in shares)
    for percentile in PERCENTILES:
        assert merged.percentile_us(percentile) == everything.percentile_us(percentile)
    assert merged.summary() == everything.summary()
    assert merged.percentile_distribution() == everything.percentile_distribution()
    assert merged.encode() == everything.encode()


def test_merge_leaves_the_other_histogram_unchanged_and_sums_clamp_counters() -> None:
    first = recorded([1_000, -1])
    second = recorded([2_000, 10**20])
    second_blob = second.encode()
    first.merge(second)
    assert first.count == 4
    assert (first.clamped_low, first.clamped_high) == (1, 1)
    assert second.count == 2
    assert second.encode() == second_blob


def test_decode_rejects_garbage() -> None:
    for blob in ("", "not base64!", "HISTFAAAAB", "SGVsbG8sIHdvcmxkIQ=="):
        with pytest.raises(ValueError, match="not an HdrHistogram"):
            LatencyHistogram.decode(blob)


def test_decode_rejects_other_histogram_configurations() -> None:
    other = HdrHistogram(1, 60_000_000, 2)
    other.record_value(1_000)
    blob = other.encode().decode("ascii")
    with pytest.raises(ValueError, match="expected"):
        LatencyHistogram.decode(blob)


def test_percentile_distribution_is_a_monotonic_curve_to_the_max() -> None:
    histogram = recorded(latencies_ns(seed=3, n=10_000))
    points = histogram.percentile_distribution(ticks_per_half_distance=5)
    assert all(isinstance(point, PercentilePoint) for point in points)
    assert points[0] == PercentilePoint(0.0, points[0].value_us)
    assert points[-1] == PercentilePoint(100.0, histogram.summary()["max"])
    percentiles = [point.percentile for point in points]
    values = [point.value_us for point in points]
    assert percentiles == sorted(percentiles)
    assert values == sorted(values)
    # Denser towards the tail: at least 5 points per halving of the distance to 100 %.
    assert sum(1 for p in percentiles if 99.0 <= p < 100.0) >= 5 * 5
    finer = histogram.percentile_distribution(ticks_per_half_distance=10)
    assert len(finer) > len(points)
    with pytest.raises(ValueError, match="at least 1"):
        histogram.percentile_distribution(ticks_per_half_distance=0)


def test_coordinated_omission_correction_backfills_missed_samples() -> None:
    histogram = LatencyHistogram()
    histogram.record_ns_corrected(2_000_000, expected_interval_ns=200_000)  # 2 ms stall
    assert histogram.count == 10  # 2000, 1800, ..., 200 µs
    assert histogram.percentile_us(0) == 200
    assert histogram.percentile_us(50) == 1_000
    assert histogram.percentile_us(100) == 2_000

    uncorrected = LatencyHistogram()
    uncorrected.record_ns_corrected(10_000_000, expected_interval_ns=0)
    assert uncorrected.count == 1
