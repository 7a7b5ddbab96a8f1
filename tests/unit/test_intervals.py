"""Intervals: bucketing by scheduled time, exact merges, loss per interval, server per interval."""

from __future__ import annotations

import os
import time
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pushbench.core.histogram import LatencyHistogram
from pushbench.core.integrity import IntegrityTracker
from pushbench.core.intervals import (
    IntervalGrid,
    ResourceSample,
    bucket_latencies,
    counts_per_interval,
    lost_per_interval,
    merge_series,
    server_per_interval,
)
from pushbench.drivers.recorder import Recorder, Window, fold
from pushbench.drivers.scenario import _requests_per_interval
from pushbench.harness.resources import TreeSampler

S = 1_000_000_000
MS = 1_000_000

# (latency ns, scheduled ns): latencies up to 2 s (negative ones too: they are clamped),
# scheduled from 1 s before the window (warm-up) to past its end.
samples = st.lists(st.tuples(st.integers(-5 * MS, 2 * S), st.integers(-S, 6 * S)), max_size=300)


def grid(seconds: int = 5, width_ns: int = S) -> IntervalGrid:
    return IntervalGrid(0, seconds * S, width_ns)


def arrays(pairs: list[tuple[int, int]]) -> tuple[array[int], array[int]]:
    return array("q", [lat for lat, _ in pairs]), array("q", [t for _, t in pairs])


def test_grid_cuts_the_window_and_the_last_interval_ends_with_it() -> None:
    g = IntervalGrid(10 * S, 12 * S + S // 2, S)
    assert g.count == 3
    assert [g.bounds(i) for i in range(3)] == [
        (10 * S, 11 * S),
        (11 * S, 12 * S),
        (12 * S, 12 * S + S // 2),
    ]
    assert g.edges() == [10 * S, 11 * S, 12 * S, 12 * S + S // 2]
    assert IntervalGrid(5, 5, S).count == 0
    with pytest.raises(ValueError, match="interval width"):
        IntervalGrid(0, S, 0)


def test_a_sample_goes_to_the_interval_it_was_scheduled_in_not_where_it_arrived() -> None:
    # Scheduled at 0.9 s, arrived 0.5 s later (in interval 1): it is interval 0's latency.
    histograms = bucket_latencies(grid(2), [arrays([(500 * MS, 900 * MS), (MS, 1_100 * MS)])])
    assert [h.count for h in histograms] == [1, 1]
    assert 500_000 <= histograms[0].percentile_us(100) <= 500_500  # top of its 3-digit bucket
    assert histograms[1].percentile_us(100) == 1000


def test_warm_up_and_after_the_window_are_left_out() -> None:
    histograms = bucket_latencies(grid(1), [arrays([(MS, -1), (MS, 0), (MS, S - 1), (MS, S)])])
    assert [h.count for h in histograms] == [2]


@settings(max_examples=60, deadline=None)
@given(samples, st.integers(1, 4), st.sampled_from([S, S // 3, 2 * S]))
def test_merged_intervals_equal_pooling_the_raw_samples_per_interval(
    pairs: list[tuple[int, int]], parts: int, width: int
) -> None:
    """Bucketing each subscriber then merging interval by interval is bucketing them all at
    once, and every interval merged is the whole window recorded directly."""
    g = grid(5, width)
    shares = [pairs[i::parts] for i in range(parts)]
    merged = merge_series([bucket_latencies(g, [arrays(share)]) for share in shares])
    pooled = bucket_latencies(g, [arrays(pairs)])
    assert [h.encode() for h in merged] == [h.encode() for h in pooled]
    assert [h.clamped_low for h in merged] == [h.clamped_low for h in pooled]
    for index, histogram in enumerate(pooled):
        start, end = g.bounds(index)
        direct = LatencyHistogram()
        direct.record_all_ns(lat for lat, t in pairs if start <= t < end)
        assert histogram.encode() == direct.encode()
    whole = LatencyHistogram()
    whole.record_all_ns(lat for lat, t in pairs if 0 <= t < 5 * S)
    total = LatencyHistogram()
    for histogram in pooled:
        if histogram.count:
            total.merge(histogram)
    assert total.encode() == whole.encode()
    assert total.summary() == whole.summary()


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(-S, 6 * S), max_size=80).map(sorted),
    st.lists(st.tuples(st.integers(0, 90), st.integers(1, 20)), max_size=8),
)
def test_loss_per_interval_counts_each_missing_seq_where_it_was_scheduled(
    scheduled: list[int], gaps: list[tuple[int, int]]
) -> None:
    g = grid(5)
    missing_seqs = sorted(
        {
            seq
            for first, length in gaps
            for seq in range(first, first + length)
            if seq < len(scheduled)
        }
    )
    ranges: list[tuple[int, int]] = []
    for seq in missing_seqs:  # back into disjoint ranges, as the tracker gives them
        if ranges and ranges[-1][1] == seq:
            ranges[-1] = (ranges[-1][0], seq + 1)
        else:
            ranges.append((seq, seq + 1))
    expected = [0] * g.count
    for seq in missing_seqs:
        if 0 <= scheduled[seq] < 5 * S:
            expected[scheduled[seq] // S] += 1
    assert lost_per_interval(g, scheduled, ranges) == expected
    owed = [sum(1 for t in scheduled if i * S <= t < (i + 1) * S) for i in range(5)]
    assert counts_per_interval(g, scheduled) == owed


def test_fold_gives_sent_lost_and_latency_per_interval() -> None:
    window = Window(0, 2 * S)
    one, two = Recorder(window), Recorder(window)
    scheduled = {"p": array("q", [100 * MS, 600 * MS, 1_200 * MS, 1_700 * MS])}
    for seq, t in enumerate(scheduled["p"]):
        one.deliver("p", seq, t, t + MS)
        if seq != 2:  # the second subscriber misses seq 2 (interval 1)
            two.deliver("p", seq, t, t + 2 * MS)
    series, integrity = fold([one, two], {"p": 4}, IntervalGrid(0, 2 * S, S), scheduled)
    assert series.sent == [4, 4]
    assert series.lost == [0, 1]
    assert series.delivered == [4, 3]
    assert [h.count for h in series.histograms] == [4, 3]
    assert integrity.lost == 1
    assert series.whole().count == 7


def test_fold_keeps_warm_up_out_of_latency_but_in_integrity() -> None:
    window = Window(S, 2 * S)
    recorder = Recorder(window)
    recorder.deliver("p", 0, S // 2, S // 2 + MS)  # warm-up
    recorder.deliver("p", 1, S + 1, S + MS)
    scheduled = {"p": array("q", [S // 2, S + 1])}
    series, integrity = fold([recorder], {"p": 2}, IntervalGrid(S, 2 * S, S), scheduled)
    assert [h.count for h in series.histograms] == [1]
    assert series.sent == [1]
    assert integrity.delivered == 2


def test_server_cpu_is_interpolated_between_samples_and_rss_is_the_peak() -> None:
    # CPU 0.5 core until 1 s, then 1 core; samples every 0.4 s, one on the edge at 1 s (it
    # belongs to the interval it opens).
    samples = [
        ResourceSample(-200 * MS, 0.0, 100, 5),
        ResourceSample(200 * MS, 0.2, 120, 7),
        ResourceSample(600 * MS, 0.4, 110, None),
        ResourceSample(1_000 * MS, 0.6, 130, 6),
        ResourceSample(1_400 * MS, 1.0, 90, 4),
        ResourceSample(2_200 * MS, 1.8, 80, 3),
    ]
    first, second = server_per_interval(grid(2), samples)
    assert first is not None
    assert second is not None
    assert first.cpu_percent == pytest.approx(50.0, abs=0.01)
    assert second.cpu_percent == pytest.approx(100.0, abs=0.01)
    assert (first.rss_bytes, first.connections) == (120, 7)
    assert (second.rss_bytes, second.connections) == (130, 6)


def test_an_interval_the_samples_do_not_cover_has_no_server_figures() -> None:
    samples = [ResourceSample(500 * MS, 0.0, 1, None), ResourceSample(1_500 * MS, 1.0, 1, None)]
    assert server_per_interval(grid(2), samples) == [None, None]
    assert server_per_interval(grid(2), []) == [None, None]


def test_requests_per_interval_from_the_counts_at_each_edge() -> None:
    g = grid(3)
    assert _requests_per_interval(g, [10, 15, 25, 30], 40) == [5, 10, 5]
    # Cut short after the second edge: the last interval reached holds the rest.
    assert _requests_per_interval(g, [10, 15], 40) == [5, 25, 0]


def test_missing_ranges_are_the_gaps_and_the_tail_below_what_was_sent() -> None:
    tracker = IntegrityTracker()
    for seq in (0, 3, 4, 7):
        tracker.receive("p", seq)
    tracker.expect("p", 10)
    tracker.expect("silent", 3)
    assert tracker.missing_ranges("p") == [(1, 3), (5, 7), (8, 10)]
    assert tracker.missing_ranges("silent") == [(0, 3)]
    tracker.expect("p", 6)  # sent fewer than the highest seen: the rest is unexpected, not lost
    assert tracker.missing_ranges("p") == [(1, 3), (5, 6)]


def test_the_sampler_keeps_a_timeline_on_the_drivers_clock() -> None:
    """Sampling this very process (no sockets): every sample on ``monotonic_ns``, CPU
    cumulative, and the socket descriptors counted when asked for."""
    sampler = TreeSampler(os.getpid(), interval_s=0.01, connections_every_s=0.0)
    before = time.monotonic_ns()
    sampler.start()
    deadline = time.monotonic() + 0.1
    while time.monotonic() < deadline:  # burn a little CPU for the sampler to see
        sum(range(1000))
    usage = sampler.stop()
    timeline = usage.timeline
    assert len(timeline) >= 2
    assert all(before <= s.t_ns <= time.monotonic_ns() for s in timeline)
    assert [s.cpu_s for s in timeline] == sorted(s.cpu_s for s in timeline)
    assert timeline[-1].cpu_s > 0
    assert all(s.rss_bytes > 0 for s in timeline)
    assert all(s.connections is not None and s.connections >= 0 for s in timeline)
    quiet = TreeSampler(os.getpid(), interval_s=0.01)
    quiet.start()
    assert all(s.connections is None for s in quiet.stop().timeline)
