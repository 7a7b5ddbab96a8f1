"""IntegrityTracker: exact counts for dropped, duplicated and reordered messages."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from pushbench.core.integrity import Arrival, IntegrityCounts, IntegrityTracker


def feed(tracker: IntegrityTracker, publisher: str, seqs: list[int]) -> list[Arrival]:
    return [tracker.receive(publisher, seq) for seq in seqs]


def counts_of(seqs: list[int], sent: int, publisher: str = "p") -> IntegrityCounts:
    tracker = IntegrityTracker()
    feed(tracker, publisher, seqs)
    tracker.expect(publisher, sent)
    return tracker.counts()


def test_perfect_stream() -> None:
    tracker = IntegrityTracker()
    assert feed(tracker, "p", list(range(1000))) == [Arrival.NEW] * 1000
    tracker.expect("p", 1000)
    assert tracker.counts() == IntegrityCounts(sent=1000, delivered=1000)
    assert tracker.gaps == 0


def test_nothing_received_and_nothing_declared() -> None:
    assert IntegrityTracker().counts() == IntegrityCounts()


def test_dropped_messages_in_the_middle() -> None:
    assert counts_of([0, 1, 4, 5, 7], sent=8) == IntegrityCounts(sent=8, delivered=5, lost=3)


def test_loss_at_the_end_is_only_known_from_the_sent_count() -> None:
    assert counts_of([0, 1, 2], sent=10) == IntegrityCounts(sent=10, delivered=3, lost=7)


def test_loss_at_the_start() -> None:
    assert counts_of([3, 4], sent=5) == IntegrityCounts(sent=5, delivered=2, lost=3)


def test_duplicates() -> None:
    tracker = IntegrityTracker()
    arrivals = feed(tracker, "p", [0, 0, 1, 2, 2, 2, 1])
    assert arrivals == [
        Arrival.NEW,
        Arrival.DUPLICATE,
        Arrival.NEW,
        Arrival.NEW,
        Arrival.DUPLICATE,
        Arrival.DUPLICATE,
        Arrival.DUPLICATE,  # 1 again, after 2: a duplicate, never "reordered"
    ]
    tracker.expect("p", 3)
    assert tracker.counts() == IntegrityCounts(sent=3, delivered=3, duplicated=4)


def test_a_late_message_counts_once_however_many_overtook_it() -> None:
    tracker = IntegrityTracker()
    arrivals = feed(tracker, "p", [1, 2, 3, 4, 0])
    assert arrivals == [Arrival.NEW] * 4 + [Arrival.REORDERED]
    tracker.expect("p", 5)
    assert tracker.counts() == IntegrityCounts(sent=5, delivered=5, reordered=1)


def test_swapped_pairs() -> None:
    # 1 0 3 2 5 4: each even seq is overtaken by its successor -> 3 reordered.
    assert counts_of([1, 0, 3, 2, 5, 4], sent=6) == IntegrityCounts(
        sent=6, delivered=6, reordered=3
    )


def test_late_arrivals_inside_one_gap_split_it() -> None:
    tracker = IntegrityTracker()
    feed(tracker, "p", [0, 10])  # gap 1..9
    assert tracker.gaps == 1
    assert feed(tracker, "p", [5]) == [Arrival.REORDERED]  # splits into 1..4 and 6..9
    assert tracker.gaps == 2
    assert feed(tracker, "p", [1, 9, 4, 6]) == [Arrival.REORDERED] * 4  # trims the ends
    assert tracker.gaps == 2
    assert feed(tracker, "p", [2, 3, 7, 8]) == [Arrival.REORDERED] * 4  # closes both
    assert tracker.gaps == 0
    tracker.expect("p", 11)
    assert tracker.counts() == IntegrityCounts(sent=11, delivered=11, reordered=9)


def test_duplicate_of_a_reordered_message() -> None:
    tracker = IntegrityTracker()
    assert feed(tracker, "p", [0, 2, 1, 1, 3]) == [
        Arrival.NEW,
        Arrival.NEW,
        Arrival.REORDERED,
        Arrival.DUPLICATE,
        Arrival.NEW,
    ]
    tracker.expect("p", 4)
    assert tracker.counts() == IntegrityCounts(sent=4, delivered=4, duplicated=1, reordered=1)


def test_drop_duplicate_and_reorder_together() -> None:
    # sent 0..9; 3 and 9 lost; 5 duplicated twice; 7 overtaken by 8.
    seqs = [0, 1, 2, 4, 5, 5, 6, 8, 7, 5]
    assert counts_of(seqs, sent=10) == IntegrityCounts(
        sent=10, delivered=8, lost=2, duplicated=2, reordered=1
    )


def test_seq_beyond_what_was_sent_is_unexpected_not_delivered() -> None:
    tracker = IntegrityTracker()
    feed(tracker, "p", [0, 1, 2, 5, 5])
    tracker.expect("p", 3)
    counts = tracker.counts()
    assert counts == IntegrityCounts(sent=3, delivered=3, duplicated=1, unexpected=1)
    assert counts.received == 5 == tracker.received


def test_beyond_sent_with_loss_below() -> None:
    # sent 0..4; 2 lost; 6 and 8 never sent.
    assert counts_of([0, 1, 3, 4, 6, 8], sent=5) == IntegrityCounts(
        sent=5, delivered=4, lost=1, unexpected=2
    )


def test_unknown_publisher_is_unexpected() -> None:
    tracker = IntegrityTracker()
    feed(tracker, "known", [0, 1])
    feed(tracker, "stranger", [0, 1, 1])
    tracker.expect("known", 2)
    assert tracker.counts() == IntegrityCounts(sent=2, delivered=2, duplicated=1, unexpected=2)
    assert tracker.counts_by_publisher()["stranger"] == IntegrityCounts(duplicated=1, unexpected=2)


def test_declared_publisher_never_heard_from_is_all_lost() -> None:
    tracker = IntegrityTracker()
    feed(tracker, "a", [0, 1])
    tracker.expect("a", 2)
    tracker.expect("silent", 7)
    assert tracker.counts_by_publisher() == {
        "a": IntegrityCounts(sent=2, delivered=2),
        "silent": IntegrityCounts(sent=7, lost=7),
    }
    assert tracker.counts() == IntegrityCounts(sent=9, delivered=2, lost=7)


def test_publishers_are_independent() -> None:
    tracker = IntegrityTracker()
    # Interleaved: "a" in order, "b" with its own reorder; a's high seqs do not reorder b.
    for seq_a, seq_b in zip(range(5), [1, 0, 2, 3, 4], strict=True):
        tracker.receive("a", seq_a + 100)
        tracker.receive("b", seq_b)
    tracker.expect("a", 105)
    tracker.expect("b", 5)
    by_publisher = tracker.counts_by_publisher()
    assert by_publisher["a"] == IntegrityCounts(sent=105, delivered=5, lost=100)
    assert by_publisher["b"] == IntegrityCounts(sent=5, delivered=5, reordered=1)


def test_expect_replaces_the_earlier_declaration() -> None:
    tracker = IntegrityTracker()
    feed(tracker, "p", [0, 1, 2])
    tracker.expect("p", 2)
    tracker.expect("p", 3)
    assert tracker.counts() == IntegrityCounts(sent=3, delivered=3)


def test_invalid_input_is_rejected() -> None:
    tracker = IntegrityTracker()
    with pytest.raises(ValueError, match="start at 0"):
        tracker.receive("p", -1)
    with pytest.raises(ValueError, match=">= 0"):
        tracker.expect("p", -1)
    assert tracker.received == 0


def test_a_subscriber_that_stops_receiving_costs_no_memory() -> None:
    tracker = IntegrityTracker()
    feed(tracker, "p", list(range(1000)))
    tracker.expect("p", 1_000_000)
    assert tracker.gaps == 0
    assert tracker.counts() == IntegrityCounts(sent=1_000_000, delivered=1000, lost=999_000)


def test_memory_is_per_gap_not_per_message() -> None:
    tracker = IntegrityTracker()
    feed(tracker, "p", [0, 500_000, 500_001, 1_000_000])  # two big holes
    assert tracker.gaps == 2
    tracker.expect("p", 1_000_001)
    assert tracker.counts() == IntegrityCounts(sent=1_000_001, delivered=4, lost=999_997)


def test_counts_add_up_over_subscribers() -> None:
    first = IntegrityCounts(sent=10, delivered=9, lost=1, duplicated=2, reordered=3)
    second = IntegrityCounts(sent=10, delivered=10, unexpected=4)
    total = first + second
    assert total == IntegrityCounts(
        sent=20, delivered=19, lost=1, duplicated=2, reordered=3, unexpected=4
    )
    assert IntegrityCounts.total([first, second]) == total
    assert IntegrityCounts.total([]) == IntegrityCounts()
    assert total.received == 19 + 4 + 2
    assert total.as_dict() == {
        "sent": 20,
        "delivered": 19,
        "lost": 1,
        "duplicated": 2,
        "reordered": 3,
        "unexpected": 4,
    }


def reference_counts(arrivals: list[tuple[str, int]], sent: dict[str, int]) -> IntegrityCounts:
    """The definitions of the module docstring, with unbounded memory: the test oracle."""
    seen: dict[str, set[int]] = {}
    highest: dict[str, int] = {}
    duplicated = reordered = 0
    for publisher, seq in arrivals:
        seqs = seen.setdefault(publisher, set())
        if seq in seqs:
            duplicated += 1
        elif seq < highest.get(publisher, -1):
            reordered += 1
        seqs.add(seq)
        highest[publisher] = max(highest.get(publisher, -1), seq)
    delivered = sum(
        sum(1 for seq in seen.get(publisher, set()) if seq < count)
        for publisher, count in sent.items()
    )
    unique = sum(len(seqs) for seqs in seen.values())
    return IntegrityCounts(
        sent=sum(sent.values()),
        delivered=delivered,
        lost=sum(sent.values()) - delivered,
        duplicated=duplicated,
        reordered=reordered,
        unexpected=unique - delivered,
    )


@pytest.mark.parametrize("seed", range(20))
def test_random_streams_match_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    sent = {f"pub-{i}": rng.randint(0, 300) for i in range(3)}
    stream: list[tuple[str, int]] = []
    for publisher, count in sent.items():
        for seq in range(count + rng.choice([0, 0, 3])):  # sometimes seqs beyond sent
            if rng.random() < 0.1:
                continue  # dropped
            stream.extend([(publisher, seq)] * (2 if rng.random() < 0.05 else 1))
    # Reorder locally: swap random neighbours (a jittery network, not a shuffle).
    for _ in range(len(stream) // 5):
        i = rng.randrange(max(len(stream) - 1, 1))
        stream[i : i + 2] = stream[i : i + 2][::-1]
    stream.extend(("ghost", seq) for seq in range(rng.randint(0, 3)))

    tracker = IntegrityTracker()
    arrivals = Counter(tracker.receive(publisher, seq) for publisher, seq in stream)
    for publisher, count in sent.items():
        tracker.expect(publisher, count)
    counts = tracker.counts()

    assert counts == reference_counts(stream, sent)
    assert counts.received == len(stream) == tracker.received
    assert counts.delivered + counts.lost == counts.sent
    assert arrivals[Arrival.DUPLICATE] == counts.duplicated
    assert arrivals[Arrival.REORDERED] == counts.reordered


def test_first_arrivals_leave_duplicates_out() -> None:
    """What a drain waits for: duplicates must not make the stream look complete."""
    tracker = IntegrityTracker()
    for seq in (0, 0, 2, 2, 1):
        tracker.receive("p", seq)
    assert (tracker.received, tracker.first_arrivals) == (5, 3)
