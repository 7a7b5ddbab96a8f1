"""Integrity of a subscriber that joins mid-stream or leaves early."""

from __future__ import annotations

from pushbench.core.integrity import Arrival, IntegrityCounts
from pushbench.locust.streams import SubscriberStreams


def test_a_late_subscriber_owes_from_its_first_message_to_the_final_count() -> None:
    streams = SubscriberStreams()
    for seq in range(100, 110):
        assert streams.receive("p", seq) is Arrival.NEW
    assert streams.counts({"p": 112}) == IntegrityCounts(sent=12, delivered=10, lost=2)


def test_gaps_duplicates_and_reordering_are_counted() -> None:
    streams = SubscriberStreams()
    for seq in (5, 7, 6, 6, 9):
        streams.receive("p", seq)
    assert streams.counts({"p": 10}) == IntegrityCounts(
        sent=5, delivered=4, lost=1, duplicated=1, reordered=1
    )


def test_an_arrival_below_the_first_one_extends_what_was_owed() -> None:
    streams = SubscriberStreams()
    for seq in (10, 11, 9):
        streams.receive("p", seq)
    # 9 arrived after 10 and 11: reordered, and the subscriber evidently owed it.
    assert streams.counts({"p": 12}) == IntegrityCounts(sent=3, delivered=3, reordered=1)


def test_a_subscriber_that_left_early_owed_up_to_what_it_saw() -> None:
    streams = SubscriberStreams()
    for seq in (3, 4, 6):
        streams.receive("p", seq)
    assert streams.counts(None) == IntegrityCounts(sent=4, delivered=3, lost=1)


def test_publishers_it_never_heard_from_are_not_counted() -> None:
    streams = SubscriberStreams()
    streams.receive("a", 0)
    assert streams.counts({"a": 1, "b": 50}) == IntegrityCounts(sent=1, delivered=1)
    assert SubscriberStreams().counts({"b": 50}) == IntegrityCounts()


def test_caught_up_once_every_heard_publisher_s_last_message_arrived() -> None:
    streams = SubscriberStreams()
    streams.receive("a", 0)
    streams.receive("a", 2)
    assert not streams.caught_up({"a": 4, "b": 9})
    streams.receive("a", 3)
    assert streams.caught_up({"a": 4, "b": 9})  # 1 is lost, not awaited; b never heard
    assert (streams.received, streams.publishers) == (3, 1)
