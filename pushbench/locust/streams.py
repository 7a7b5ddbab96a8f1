"""Integrity of what one Locust subscriber received, for subscribers that join mid-stream.

:class:`pushbench.core.integrity.IntegrityTracker` assumes a subscriber owes every message from
seq 0 on. A Locust subscriber joins whenever the spawn rate gets to it, and may leave early (a ramp
down), so here each subscriber owes, per publisher:

- from the *lowest* seq it received from that publisher (what was published before it joined
  was never owed to it). A message lost right after joining, before the first one that
  arrived, cannot be told from one published before joining: it is not counted.
- up to the publisher's final sent count when the test ends with the subscriber still there
  (the drain phase gives late messages time to arrive); up to the highest seq it received when
  it left early (a message in flight as it left was never owed).

Publishers it never heard from are not counted against it; a subscriber that heard from nobody
is counted as *silent* instead (the report warns about those).

:meth:`SubscriberStreams.seq_ranges` gives the same owed and missing seqs as ranges, which the
master places on the intervals by each publisher's schedule.
"""

from __future__ import annotations

from collections.abc import Mapping

from pushbench.core.integrity import Arrival, IntegrityCounts, IntegrityTracker

__all__ = ["SubscriberStreams"]


class SubscriberStreams:
    """Per-publisher sequence check of one subscriber; pure bookkeeping.

    Example:
        >>> streams = SubscriberStreams()
        >>> for seq in (5, 7, 6, 6):
        ...     _ = streams.receive("pb.a", seq)
        >>> streams.counts({"pb.a": 9})
        IntegrityCounts(sent=4, delivered=3, lost=1, duplicated=1, reordered=1, unexpected=0)
    """

    __slots__ = ("_ranges", "_tracker")

    def __init__(self) -> None:
        self._tracker = IntegrityTracker()
        # publisher -> [lowest seq, highest seq] received
        self._ranges: dict[str, list[int]] = {}

    def receive(self, publisher: str, seq: int) -> Arrival:
        """Account for one received message (see :meth:`IntegrityTracker.receive`)."""
        seen = self._ranges.get(publisher)
        if seen is None:
            self._ranges[publisher] = [seq, seq]
        elif seq > seen[1]:
            seen[1] = seq
        elif seq < seen[0]:
            seen[0] = seq
        return self._tracker.receive(publisher, seq)

    @property
    def received(self) -> int:
        """Every arrival so far, duplicates included."""
        return self._tracker.received

    @property
    def publishers(self) -> int:
        """Publishers heard from."""
        return len(self._ranges)

    def caught_up(self, sent: Mapping[str, int]) -> bool:
        """Whether the last message of every publisher heard from has arrived.

        Publishers never heard from are ignored (see the module docstring). Gaps below the last
        message may remain: they are losses, not a reason to keep waiting.
        """
        ranges = self._ranges
        for publisher, count in sent.items():
            seen = ranges.get(publisher)
            if seen is not None and seen[1] < count - 1:
                return False
        return True

    def counts(self, sent: Mapping[str, int] | None = None) -> IntegrityCounts:
        """Delivery counts over what this subscriber owed.

        Args:
            sent: Each publisher's final sent count, when the subscriber stayed to the end;
                None when it left early (it then owed up to the highest seq it received).
        """
        tracker = self._tracker
        for publisher, (_, highest) in self._ranges.items():
            owed_end = highest + 1
            if sent is not None and publisher in sent:
                owed_end = sent[publisher]
            tracker.expect(publisher, owed_end)
        total = IntegrityCounts()
        for publisher, counts in tracker.counts_by_publisher().items():
            lowest = self._ranges[publisher][0]
            # Seqs below the lowest one received were all missing, none was owed: take them
            # back out of the counts (they are exactly ``lowest`` lost messages).
            owed_before = min(lowest, counts.sent)
            total = total + IntegrityCounts(
                sent=counts.sent - owed_before,
                delivered=counts.delivered,
                lost=counts.lost - owed_before,
                duplicated=counts.duplicated,
                reordered=counts.reordered,
                unexpected=counts.unexpected,
            )
        return total

    def seq_ranges(
        self, sent: Mapping[str, int] | None = None
    ) -> tuple[list[tuple[str, int, int]], list[tuple[str, int, int]]]:
        """What :meth:`counts` counts, as half-open ``(publisher, first, end)`` seq ranges:
        (owed, missing). Their lengths add up to ``counts(sent).sent`` and ``.lost``."""
        owed: list[tuple[str, int, int]] = []
        missing: list[tuple[str, int, int]] = []
        tracker = self._tracker
        for publisher, (lowest, highest) in self._ranges.items():
            end = highest + 1
            if sent is not None and publisher in sent:
                end = sent[publisher]
            first = min(lowest, end)
            if end > first:
                owed.append((publisher, first, end))
            tracker.expect(publisher, end)
            for start, stop in tracker.missing_ranges(publisher):
                start = max(start, first)
                if stop > start:
                    missing.append((publisher, start, stop))
        return owed, missing
