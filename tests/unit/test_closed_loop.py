"""A closed loop over time, without sockets: round trips and requests by their send time, losses
and late answers in their send interval, fan-out counts read at the edges, and the raw HTTP
client's timing; the intervals add up to the run's whole-window figures exactly."""

from __future__ import annotations

from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pushbench.core.closed_loop import closed_loop_series, counted_series, in_window, tally
from pushbench.core.histogram import LatencyHistogram
from pushbench.core.intervals import IntervalGrid
from pushbench.drivers.capacity import closed_loop_run, counted_run
from pushbench.drivers.round_trips import MeasuredWindow, RoundTrips

S = 1_000_000_000
MS = 1_000_000

GRID = IntervalGrid(10 * S, 13 * S, S)


def test_a_round_trip_belongs_to_the_interval_it_was_sent_in() -> None:
    # Sent at 10.9 s, answered 0.4 s later (in interval 1): interval 0's round trip.
    series = closed_loop_series(GRID, array("q", [10 * S + 900 * MS]), array("q", [400 * MS]))
    assert [h.count for h in series.histograms] == [1, 0, 0]
    assert series.sent == [1, 0, 0]
    assert series.lost == [0, 0, 0]
    assert series.http_requests is None


def test_sent_before_or_after_the_window_is_left_out() -> None:
    sent = array("q", [10 * S - 1, 10 * S, 13 * S - 1, 13 * S])
    series = closed_loop_series(GRID, sent, array("q", [MS] * 4), array("q", [10 * S - 5]))
    assert series.sent == [1, 0, 1]
    assert series.lost == [0, 0, 0], "a loss of the warm-up is not the window's"
    assert list(in_window(GRID, sent, array("q", [1, 2, 3, 4]))) == [2, 3]


def test_a_loss_counts_where_it_was_sent_and_a_late_answer_takes_it_back() -> None:
    failed = array("q", [10 * S + 1, 11 * S + 1, 11 * S + 2])
    recovered = array("q", [11 * S + 2])
    series = closed_loop_series(
        GRID, array("q", [12 * S]), array("q", [MS]), failed, recovered, requests=True
    )
    assert series.lost == [1, 1, 0]
    assert series.sent == [1, 1, 1]
    assert series.delivered == [0, 0, 1]
    assert series.http_requests == series.sent, "requests: every one sent in the interval"


def test_tally_counts_times_in_any_order() -> None:
    assert tally(GRID, [12 * S, 10 * S, 12 * S + 5, 9 * S, 11 * S, 13 * S]) == [1, 1, 2]


# (send time, latency, outcome) from 1 s before the window to 1 s after it; outcome 0: answered,
# 1: lost, 2: lost then answered late.
round_trips = st.lists(
    st.tuples(st.integers(9 * S, 14 * S), st.integers(0, 2 * S), st.sampled_from([0, 0, 1, 2])),
    max_size=300,
)


@settings(max_examples=60, deadline=None)
@given(round_trips, st.sampled_from([S, S // 3, 2 * S]))
def test_the_intervals_add_up_to_the_whole_run_exactly(
    trips: list[tuple[int, int, int]], width: int
) -> None:
    """What the drivers report as the whole run (:func:`closed_loop_run`) is what its
    intervals add up to, and its histogram is the intervals' merged."""
    samples = RoundTrips()
    for sent, latency, outcome in trips:
        if outcome == 0:
            samples.sent_ns.append(sent)
            samples.latencies_ns.append(latency)
        else:
            samples.failed_ns.append(sent)
            if outcome == 2:
                samples.recovered_ns.append(sent)
    grid = IntervalGrid(10 * S, 13 * S, width)
    run = closed_loop_run(samples, MeasuredWindow(grid, 0.0), dropped=0)
    series = run.intervals
    assert series is not None
    inside = [t for t in trips if 10 * S <= t[0] < 13 * S]
    assert run.messages == sum(series.delivered) == sum(1 for t in inside if t[2] == 0)
    assert run.lost == sum(series.lost) == sum(1 for t in inside if t[2] == 1)
    assert run.late == sum(1 for t in inside if t[2] == 2)
    assert run.duration_s == 3.0
    whole = LatencyHistogram()
    whole.record_all_ns(run.round_trips_ns)
    assert series.whole().encode() == whole.encode()
    assert sum(h.count for h in series.histograms) == run.messages


def test_fanout_counts_read_at_the_edges_become_intervals() -> None:
    window = MeasuredWindow(GRID, 1_700_000_000.0)
    run = counted_run(window, [100, 150, 250, 260], dropped=1)
    series = run.intervals
    assert series is not None
    assert series.sent == series.delivered == [50, 100, 10]
    assert series.lost == [0, 0, 0]
    assert all(h.count == 0 for h in series.histograms), "counted, not timed"
    assert (run.messages, run.dropped_connections, run.per_s) == (160, 1, 160 / 3)
    assert series.start_epoch_s == 1_700_000_000.0


@pytest.mark.parametrize(
    ("counts", "problem"), [([1, 2, 3], "3 counts for the 4 edges"), ([1, 3, 2, 4], "went down")]
)
def test_edge_counts_that_cannot_be_intervals_are_refused(counts: list[int], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        counted_series(GRID, counts)


def test_clear_forgets_the_warm_up() -> None:
    samples = RoundTrips()
    for values in (samples.sent_ns, samples.latencies_ns, samples.failed_ns, samples.recovered_ns):
        values.append(1)
    samples.clear()
    kept = (samples.sent_ns, samples.latencies_ns, samples.failed_ns, samples.recovered_ns)
    assert [len(values) for values in kept] == [0, 0, 0, 0]
