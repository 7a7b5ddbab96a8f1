"""Message integrity: was every published message delivered exactly once, and in order?

Publishers number their messages ``0, 1, 2, ...`` (one sequence per publisher). A subscriber feeds
every message it receives to an :class:`IntegrityTracker`; at the end each publisher's sent count
is declared with :meth:`IntegrityTracker.expect`, and :meth:`IntegrityTracker.counts` says how
many were delivered, lost, duplicated, reordered, or never sent at all.

Definitions, per publisher (all counts are of messages, not bytes):

- **delivered** — distinct seqs received that the publisher sent (``seq < sent_count``).
- **lost** — seqs the publisher sent but that never arrived: ``sent - delivered``.
- **duplicated** — arrivals of a seq that had already arrived; a seq received 3 times counts 2.
- **reordered** — first arrivals of a seq *after* a higher seq from the same publisher had
  already arrived (late arrivals). A message that arrives after later ones counts once however
  many overtook it; the messages that overtook it are not counted. Duplicates never count here.
- **unexpected** — distinct seqs received that no publisher claims: from a publisher never
  declared with ``expect``, or with ``seq >= sent_count``.

So ``delivered + lost == sent`` and ``delivered + unexpected + duplicated == received`` (every
arrival). Memory per publisher is O(number of gaps), not O(messages): the tracker keeps the
highest seq seen and the *missing* seqs below it as ranges. A burst of losses is one range; a
subscriber that stops receiving costs nothing. Only scattered single losses grow it.
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Iterable
from dataclasses import asdict, dataclass

__all__ = ["Arrival", "IntegrityCounts", "IntegrityTracker"]


class Arrival(enum.Enum):
    """What one received message turned out to be."""

    NEW = "new"
    """First arrival, and no higher seq from its publisher had arrived before it."""
    REORDERED = "reordered"
    """First arrival, but after a higher seq from the same publisher (it was overtaken)."""
    DUPLICATE = "duplicate"
    """This seq had already arrived from this publisher."""


@dataclass(frozen=True, slots=True)
class IntegrityCounts:
    """Delivery counts for one subscriber, or summed (``+``) over several.

    Summed over subscribers of a fan-out, ``sent`` is the number of *deliveries owed*
    (messages sent x subscribers that should have received them), so ``lost / sent`` stays a
    loss ratio.
    """

    sent: int = 0
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    reordered: int = 0
    unexpected: int = 0

    @property
    def received(self) -> int:
        """Every arrival: ``delivered + unexpected + duplicated``."""
        return self.delivered + self.unexpected + self.duplicated

    def __add__(self, other: IntegrityCounts) -> IntegrityCounts:
        if not isinstance(other, IntegrityCounts):
            return NotImplemented
        return IntegrityCounts(
            sent=self.sent + other.sent,
            delivered=self.delivered + other.delivered,
            lost=self.lost + other.lost,
            duplicated=self.duplicated + other.duplicated,
            reordered=self.reordered + other.reordered,
            unexpected=self.unexpected + other.unexpected,
        )

    @classmethod
    def total(cls, counts: Iterable[IntegrityCounts]) -> IntegrityCounts:
        """The sum of ``counts`` (all zeros if empty)."""
        result = cls()
        for item in counts:
            result = result + item
        return result

    def as_dict(self) -> dict[str, int]:
        """The six counters by name (e.g. to fill a results ``Scenario``)."""
        return asdict(self)


class _Stream:
    """One publisher's sequence as seen by one subscriber."""

    __slots__ = ("duplicated", "gap_ends", "gap_starts", "highest", "missing", "reordered")

    def __init__(self) -> None:
        self.highest = -1
        # Seqs below ``highest`` not received yet, as sorted, disjoint half-open ranges
        # [gap_starts[i], gap_ends[i]). Two flat int lists: compact, and bisect-able.
        self.gap_starts: list[int] = []
        self.gap_ends: list[int] = []
        self.missing = 0
        self.duplicated = 0
        self.reordered = 0

    def receive(self, seq: int) -> Arrival:
        if seq > self.highest:
            if seq > self.highest + 1:
                self.gap_starts.append(self.highest + 1)
                self.gap_ends.append(seq)
                self.missing += seq - self.highest - 1
            self.highest = seq
            return Arrival.NEW
        i = bisect.bisect_right(self.gap_starts, seq) - 1
        if i < 0 or seq >= self.gap_ends[i]:
            self.duplicated += 1
            return Arrival.DUPLICATE
        self._fill(i, seq)
        self.reordered += 1
        return Arrival.REORDERED

    def _fill(self, i: int, seq: int) -> None:
        start, end = self.gap_starts[i], self.gap_ends[i]
        self.missing -= 1
        if end - start == 1:
            del self.gap_starts[i], self.gap_ends[i]
        elif seq == start:
            self.gap_starts[i] = seq + 1
        elif seq == end - 1:
            self.gap_ends[i] = seq
        else:  # split the gap in two around seq
            self.gap_ends[i] = seq
            self.gap_starts.insert(i + 1, seq + 1)
            self.gap_ends.insert(i + 1, end)

    def missing_below(self, limit: int) -> int:
        """Missing seqs smaller than ``limit``."""
        total = 0
        for start, end in zip(self.gap_starts, self.gap_ends, strict=True):
            if start >= limit:
                break
            total += min(end, limit) - start
        return total

    def missing_ranges(self, sent: int) -> list[tuple[int, int]]:
        """The seqs below ``sent`` that never arrived, as half-open ranges in order."""
        ranges = [
            (start, min(end, sent))
            for start, end in zip(self.gap_starts, self.gap_ends, strict=True)
            if start < sent
        ]
        if self.highest + 1 < sent:
            ranges.append((self.highest + 1, sent))
        return ranges

    def counts(self, sent: int | None) -> IntegrityCounts:
        unique = self.highest + 1 - self.missing
        if sent is None:  # nobody declared this publisher: everything is unexpected
            delivered, unexpected, sent = 0, unique, 0
        elif sent > self.highest:
            delivered, unexpected = unique, 0
        else:
            delivered = sent - self.missing_below(sent)
            unexpected = unique - delivered
        return IntegrityCounts(
            sent=sent,
            delivered=delivered,
            lost=sent - delivered,
            duplicated=self.duplicated,
            reordered=self.reordered,
            unexpected=unexpected,
        )


class IntegrityTracker:
    """Checks the messages one subscriber received against what the publishers sent.

    Pure bookkeeping, no I/O: feed it with :meth:`receive`, declare what was sent with
    :meth:`expect`, read :meth:`counts`. Sum several subscribers' counts with ``+``.

    Example:
        >>> tracker = IntegrityTracker()
        >>> for seq in (0, 2, 1, 1):
        ...     _ = tracker.receive("pub-a", seq)
        >>> tracker.expect("pub-a", 4)
        >>> tracker.counts()
        IntegrityCounts(sent=4, delivered=3, lost=1, duplicated=1, reordered=1, unexpected=0)
    """

    __slots__ = ("_sent", "_streams", "first_arrivals", "received")

    def __init__(self) -> None:
        self._streams: dict[str, _Stream] = {}
        self._sent: dict[str, int] = {}
        self.received = 0
        """Every arrival so far, duplicates included (cheap live progress)."""
        self.first_arrivals = 0
        """Arrivals of a message not seen before: what a drain waits for (a duplicate is not
        the message still missing)."""

    def receive(self, publisher: str, seq: int) -> Arrival:
        """Account for one received message.

        Args:
            publisher: The publisher's id, as carried in the message envelope.
            seq: The publisher's sequence number of the message (0, 1, 2, ...).

        Returns:
            Whether it was new, a late (reordered) first arrival, or a duplicate.

        Raises:
            ValueError: ``seq`` is negative.
        """
        if seq < 0:
            raise ValueError(f"publisher sequence numbers start at 0, got {seq}")
        stream = self._streams.get(publisher)
        if stream is None:
            stream = self._streams[publisher] = _Stream()
        self.received += 1
        arrival = stream.receive(seq)
        if arrival is not Arrival.DUPLICATE:
            self.first_arrivals += 1
        return arrival

    def expect(self, publisher: str, sent_count: int) -> None:
        """Declare that ``publisher`` sent seqs ``0 .. sent_count - 1`` (replaces an earlier call).

        Publishers that are declared but never received from count as entirely lost.

        Raises:
            ValueError: ``sent_count`` is negative.
        """
        if sent_count < 0:
            raise ValueError(f"sent_count must be >= 0, got {sent_count}")
        self._sent[publisher] = sent_count

    def counts_by_publisher(self) -> dict[str, IntegrityCounts]:
        """Counts for every publisher received from or declared, by publisher id."""
        result: dict[str, IntegrityCounts] = {}
        for publisher, stream in self._streams.items():
            result[publisher] = stream.counts(self._sent.get(publisher))
        for publisher, sent in self._sent.items():
            if publisher not in self._streams:
                result[publisher] = IntegrityCounts(sent=sent, lost=sent)
        return result

    def missing_ranges(self, publisher: str) -> list[tuple[int, int]]:
        """The seqs ``publisher`` was declared to send (:meth:`expect`) that never arrived, as
        half-open ``[first, end)`` ranges in order: what per-interval loss is counted from."""
        sent = self._sent.get(publisher, 0)
        stream = self._streams.get(publisher)
        if stream is None:
            return [(0, sent)] if sent else []
        return stream.missing_ranges(sent)

    def counts(self) -> IntegrityCounts:
        """Counts summed over all publishers.

        ``lost`` is only final once every publisher has been declared with :meth:`expect`:
        before that, undeclared publishers' messages count as ``unexpected``.
        """
        return IntegrityCounts.total(self.counts_by_publisher().values())

    @property
    def gaps(self) -> int:
        """Ranges of missing seqs currently tracked, over all publishers (the memory cost)."""
        return sum(len(stream.gap_starts) for stream in self._streams.values())
