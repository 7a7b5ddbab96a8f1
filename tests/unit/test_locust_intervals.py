"""Locust intervals without sockets: the workers' fold, the seq ranges, the master's merge."""

from __future__ import annotations

import random
from array import array
from datetime import UTC, datetime
from typing import Any

import pytest

from pushbench.core.histogram import LatencyHistogram
from pushbench.core.intervals import IntervalGrid, ResourceSample, seqs_per_interval
from pushbench.core.schema import Environment, ResultsDocument, load_results
from pushbench.harness.resources import TreeUsage
from pushbench.locust.aggregate import INTERVALS_ORIGIN_KEY, SwarmAggregate
from pushbench.locust.options import LoadOptions, OptionsError
from pushbench.locust.recording import NodeRecorder, fold_samples
from pushbench.locust.run import add_server_intervals
from pushbench.locust.streams import SubscriberStreams

S = 1_000_000_000
ORIGIN = 50 * S
ENV = Environment(python="CPython 3.11", platform="x", cpu_count=2, packages={}, git_commit=None)


def _samples(seed: int, count: int, seconds: int) -> list[tuple[int, int]]:
    """(latency, scheduled) pairs: scheduled over ``seconds`` from ORIGIN, latencies log-normal
    with rounding edges, negatives and beyond one hour (clamped) mixed in."""
    rng = random.Random(seed)
    pairs = [
        (round(rng.lognormvariate(13, 1.2)), ORIGIN + rng.randrange(seconds * S))
        for _ in range(count)
    ]
    edges = [499, 500, 1_499, 0, -1, -2_000_000, 4_000_000_000_000_000]
    return pairs + [(ns, ORIGIN + rng.randrange(seconds * S)) for ns in edges]


def _pooled(pairs: list[tuple[int, int]], width_ns: int = S) -> dict[int, LatencyHistogram]:
    pooled: dict[int, LatencyHistogram] = {}
    for ns, scheduled in pairs:
        pooled.setdefault((scheduled - ORIGIN) // width_ns, LatencyHistogram()).record_ns(ns)
    return pooled


def test_the_fold_is_the_histogram_of_every_sample_and_of_each_interval() -> None:
    pairs = _samples(1, 20_000, seconds=4)
    before = [(7_000, ORIGIN - 1)]  # scheduled before the origin: whole run only
    latencies = array("q", [ns for ns, _ in pairs + before])
    scheduled = array("q", [t for _, t in pairs + before])
    folded = fold_samples(latencies, scheduled, ORIGIN, S)
    whole = LatencyHistogram()
    for ns, _ in pairs + before:
        whole.record_ns(ns)
    assert folded.whole.encode() == whole.encode()
    assert (folded.whole.clamped_low, folded.whole.clamped_high) == (2, 1)
    pooled = _pooled(pairs)
    assert folded.intervals.keys() == pooled.keys() == {0, 1, 2, 3}
    for index, histogram in pooled.items():
        assert folded.intervals[index].encode() == histogram.encode(), index
    assert folded.last_scheduled_ns == max(scheduled)
    assert fold_samples(array("q"), array("q"), ORIGIN, S).intervals == {}


@pytest.mark.parametrize(("start", "step"), [(ORIGIN, S // 10), (ORIGIN - 3 * S // 7, 333_333_333)])
def test_seqs_fall_in_the_interval_of_their_schedule(start: int, step: int) -> None:
    grid = IntervalGrid(ORIGIN, ORIGIN + 3 * S + S // 2, S)
    for first, end in [(0, 40), (5, 17), (12, 12), (30, 1_000)]:
        expected = [0] * grid.count
        for seq in range(first, end):
            t = start + seq * step
            if grid.start_ns <= t < grid.end_ns:
                expected[(t - ORIGIN) // S] += 1
        assert seqs_per_interval(grid, start, step, first, end) == expected, (first, end)


def test_seq_ranges_add_up_to_the_counts() -> None:
    rng = random.Random(3)
    for _ in range(200):
        streams = SubscriberStreams()
        for publisher in ("pb.a", "pb.b"):
            seqs = [s for s in range(rng.randrange(3, 40), 60) if rng.random() > 0.2]
            for seq in seqs + rng.sample(seqs, min(2, len(seqs))):  # duplicates too
                streams.receive(publisher, seq)
        sent = rng.choice([None, {"pb.a": 70, "pb.b": 55}])
        owed, missing = streams.seq_ranges(sent)
        counts = streams.counts(sent)
        assert sum(end - first for _, first, end in owed) == counts.sent
        assert sum(end - first for _, first, end in missing) == counts.lost


def _document(aggregate: SwarmAggregate, end_ns: int) -> ResultsDocument:
    now = datetime.now(UTC)
    return aggregate.document(
        run_id="r",
        started_at=now,
        finished_at=now,
        duration_s=4.0,
        environment=ENV,
        config={},
        end_ns=end_ns,
    )


def _worker(clock: str, pairs: list[tuple[int, int]], origin_ns: int = ORIGIN) -> list[Any]:
    """A worker's reports: ``pairs`` as ws deliveries in two reports, then one subscriber that
    owed seqs 0..39 of a publisher due every 0.1 s from the origin and missed seqs 12..14."""
    recorder = NodeRecorder(clock, origin_ns=origin_ns, width_ns=S)
    recorder.schedule("pb.p", ORIGIN, S // 10)
    stats = recorder.stats("ws", "ws")
    reports = []
    for part in (pairs[: len(pairs) // 2], pairs[len(pairs) // 2 :]):
        for ns, scheduled in part:
            stats.latency.add_ns(ns, scheduled)
        reports.append(recorder.take_report())
    counts = SubscriberStreams()
    for seq in [*range(12), *range(15, 40)]:
        counts.receive("pb.p", seq)
    owed, missing = counts.seq_ranges({"pb.p": 40})
    stats.finish_subscriber(counts.counts({"pb.p": 40}), owed, missing)
    polls = recorder.stats("short-poll@1", "short-poll")
    for t in (ORIGIN + S // 2, ORIGIN + 2 * S, ORIGIN + 2 * S + 1, ORIGIN + 9 * S):
        polls.count_request(t)
    reports.append(recorder.take_report(final=True))
    return reports


def test_two_workers_merge_into_the_intervals_of_all_their_samples_pooled() -> None:
    aggregate = SwarmAggregate(ORIGIN, S, clock="c0ffee00")
    everything: list[tuple[int, int]] = []
    for seed in (1, 2):
        pairs = _samples(seed, 3_000 * seed, seconds=4)
        everything += pairs
        for report in _worker("c0ffee00", pairs):
            assert aggregate.add(f"w{seed}", report)
    document = _document(aggregate, end_ns=ORIGIN + 4 * S)
    assert load_results(document.model_dump_json()) == document
    assert document.config[INTERVALS_ORIGIN_KEY] == ORIGIN
    ws = next(s for s in document.scenarios if s.name == "ws")
    assert ws.interval_s == 1.0
    assert [i.start_s for i in ws.intervals] == [0.0, 1.0, 2.0, 3.0]
    pooled = _pooled(everything)
    for index, interval in enumerate(ws.intervals):
        assert interval.latency_us.decode_histogram().encode() == pooled[index].encode()
    # Two subscribers owed 10 seqs per second (0.1 s apart) for 4 s; seqs 12..14 (at 1.2 s to
    # 1.4 s) never reached either.
    assert [i.sent for i in ws.intervals] == [20, 20, 20, 20] == [ws.sent // 4] * 4
    assert [i.lost for i in ws.intervals] == [0, 6, 0, 0]
    assert [i.delivered for i in ws.intervals] == [20, 14, 20, 20]
    assert all(i.http_requests is None for i in ws.intervals)
    polls = next(s for s in document.scenarios if s.name == "short-poll@1")
    # Requests by when they started; the one after the load's end is in no interval.
    assert [i.http_requests for i in polls.intervals] == [2, 0, 4, 0]


def test_intervals_of_another_clock_or_origin_are_refused_and_said() -> None:
    aggregate = SwarmAggregate(ORIGIN, S, clock="c0ffee00")
    pairs = _samples(4, 500, seconds=2)
    for report in _worker("c0ffee00", pairs):
        assert aggregate.add("here", report)
    for report in _worker("deadbeef", pairs):
        assert aggregate.add("elsewhere", report)
    for report in _worker("c0ffee00", pairs, origin_ns=ORIGIN + 1):
        assert aggregate.add("late", report)
    document = _document(aggregate, end_ns=ORIGIN + 2 * S)
    ws = next(s for s in document.scenarios if s.name == "ws")
    assert ws.latency_us.count == 3 * len(pairs)  # the whole run has every sample
    assert sum(i.latency_us.count for i in ws.intervals) == len(pairs)  # intervals: one's
    warnings = " | ".join(document.warnings)
    assert "elsewhere: on another host's clock" in warnings
    assert "late: bucketed intervals of 1 s from another origin" in warnings


def test_the_runner_places_the_server_samples_on_the_intervals() -> None:
    aggregate = SwarmAggregate(ORIGIN, S, clock="c")
    for report in _worker("c", _samples(5, 200, seconds=2)):
        aggregate.add("w", report)
    document = _document(aggregate, end_ns=ORIGIN + 2 * S)
    # One CPU-second per second, RSS rising, sampled every 0.25 s from before the origin.
    timeline = [
        ResourceSample(ORIGIN + k * S // 4, k / 4, 100_000_000 + k, 10 + k) for k in range(-1, 10)
    ]
    usage = TreeUsage(cpu_s=2.5, rss_peak_bytes=0, wall_s=2.5, processes=[], timeline=timeline)
    placed = add_server_intervals(document, usage)
    for scenario in placed.scenarios:
        servers = [i.server for i in scenario.intervals]
        assert [s.cpu_percent if s else None for s in servers] == [100.0, 100.0]
        assert [s.rss_bytes if s else None for s in servers] == [100_000_003, 100_000_007]
    assert add_server_intervals(document.model_copy(update={"config": {}}), usage) == (
        document.model_copy(update={"config": {}})
    )


def test_interval_option_is_validated() -> None:
    assert LoadOptions(interval=0.5).interval_ns == 500_000_000
    assert LoadOptions().as_config()["interval_s"] == 1.0
    with pytest.raises(OptionsError, match=r"--interval must be >= 0\.01 s"):
        LoadOptions(interval=0.001)
