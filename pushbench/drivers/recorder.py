"""What subscribers measure while a scenario runs: latency samples and stream integrity.

Latencies are kept as raw integer nanoseconds in a compact array during the run (an append is far
cheaper than an HdrHistogram record in pure Python) and folded into the histogram afterwards, so
the generator spends its CPU on the load, not on bookkeeping. Next to each latency the recorder
keeps the message's scheduled send time, in a second array: the fold drops the warm-up by it and
buckets the rest into intervals (:mod:`pushbench.core.intervals`). The second append costs what
the window test it replaces cost, so a delivery costs what it did before intervals.
"""

from __future__ import annotations

import time
from array import array
from dataclasses import dataclass, field

from pushbench.core.integrity import IntegrityCounts, IntegrityTracker
from pushbench.core.intervals import (
    IntervalGrid,
    IntervalSeries,
    bucket_latencies,
    counts_per_interval,
    lost_per_interval,
)

__all__ = ["Recorder", "Window", "fold", "now_ns"]


@dataclass(slots=True)
class Window:
    """The measured part of a run, on the ``time.monotonic_ns`` clock.

    Messages *scheduled* before ``start_ns`` are warm-up: their integrity counts, their latency
    does not.
    Set once before the first message is published.
    """

    start_ns: int = 0
    end_ns: int = 0

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9


@dataclass(slots=True)
class Recorder:
    """One subscriber's view: latency of each measured delivery and its stream's integrity."""

    window: Window
    latencies_ns: array[int] = field(default_factory=lambda: array("q"))
    #: The scheduled send time of each sample in ``latencies_ns`` (same index).
    scheduled_ns: array[int] = field(default_factory=lambda: array("q"))
    integrity: IntegrityTracker = field(default_factory=IntegrityTracker)
    http_requests: int = 0
    errors: list[str] = field(default_factory=list)
    #: Arrivals that carried no message of any publisher: a frame, poll item or event of an app
    #: (``--profile``) with no payload token in it. They count as ``unexpected``.
    unexpected_arrivals: int = 0
    #: WebSocket bytes this subscriber received after its handshake (its raw client's count).
    ws_received_bytes: int = 0

    def deliver(self, publisher: str, seq: int, sent_ns: int, received_ns: int) -> None:
        """Record one received message (``sent_ns`` is its scheduled send time).

        Warm-up deliveries are kept too and dropped at the fold, by their scheduled time.
        """
        self.integrity.receive(publisher, seq)
        self.latencies_ns.append(received_ns - sent_ns)
        self.scheduled_ns.append(sent_ns)

    def error(self, message: str) -> None:
        """Keep a bounded list of distinct errors (a dead target must not flood memory)."""
        if len(self.errors) < 20 and message not in self.errors:
            self.errors.append(message)


def now_ns() -> int:
    """The clock every publisher and subscriber on this host shares."""
    return time.monotonic_ns()


def fold(
    recorders: list[Recorder],
    sent: dict[str, int],
    grid: IntervalGrid,
    scheduled: dict[str, array[int]],
) -> tuple[IntervalSeries, IntegrityCounts]:
    """Merge all subscribers: one histogram per interval of ``grid`` and summed integrity.

    Args:
        recorders: Every subscriber's recorder.
        sent: Messages sent per publisher (the deliveries each subscriber is owed).
        grid: The measured window's intervals; latencies scheduled outside it are warm-up.
        scheduled: Per publisher, the scheduled time of each sent seq (index = seq), which
            places every owed and every lost message in its interval.
    """
    histograms = bucket_latencies(grid, ((r.latencies_ns, r.scheduled_ns) for r in recorders))
    owed = [0] * grid.count
    for times in scheduled.values():
        for index, count in enumerate(counts_per_interval(grid, times)):
            owed[index] += count * len(recorders)
    lost = [0] * grid.count
    totals: list[IntegrityCounts] = []
    for recorder in recorders:
        for publisher, count in sent.items():
            recorder.integrity.expect(publisher, count)
            missing = recorder.integrity.missing_ranges(publisher)
            if missing:
                times = scheduled.get(publisher, array("q"))
                for index, count_lost in enumerate(lost_per_interval(grid, times, missing)):
                    lost[index] += count_lost
        counts = recorder.integrity.counts()
        if recorder.unexpected_arrivals:
            counts += IntegrityCounts(unexpected=recorder.unexpected_arrivals)
        totals.append(counts)
    return IntervalSeries(grid, histograms, owed, lost), IntegrityCounts.total(totals)
