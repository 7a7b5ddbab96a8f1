"""What subscribers measure while a scenario runs: latency samples and stream integrity.

Latencies are kept as raw integer nanoseconds in a compact array during the run (an append is far
cheaper than an HdrHistogram record in pure Python) and folded into the histogram afterwards, so
the generator spends its CPU on the load, not on bookkeeping.
"""

from __future__ import annotations

import time
from array import array
from dataclasses import dataclass, field

from pushbench.core.histogram import LatencyHistogram
from pushbench.core.integrity import IntegrityCounts, IntegrityTracker

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
    integrity: IntegrityTracker = field(default_factory=IntegrityTracker)
    http_requests: int = 0
    errors: list[str] = field(default_factory=list)
    #: Arrivals that carried no message of any publisher: a frame, poll item or event of an app
    #: (``--profile``) with no payload token in it. They count as ``unexpected``.
    unexpected_arrivals: int = 0

    def deliver(self, publisher: str, seq: int, sent_ns: int, received_ns: int) -> None:
        """Record one received message (``sent_ns`` is its scheduled send time)."""
        self.integrity.receive(publisher, seq)
        if self.window.start_ns <= sent_ns < self.window.end_ns:
            self.latencies_ns.append(received_ns - sent_ns)

    def error(self, message: str) -> None:
        """Keep a bounded list of distinct errors (a dead target must not flood memory)."""
        if len(self.errors) < 20 and message not in self.errors:
            self.errors.append(message)


def now_ns() -> int:
    """The clock every publisher and subscriber on this host shares."""
    return time.monotonic_ns()


def fold(
    recorders: list[Recorder], sent: dict[str, int]
) -> tuple[LatencyHistogram, IntegrityCounts]:
    """Merge all subscribers: one histogram, summed integrity (``sent`` = per publisher)."""
    histogram = LatencyHistogram()
    totals: list[IntegrityCounts] = []
    for recorder in recorders:
        histogram.record_all_ns(recorder.latencies_ns)
        for publisher, count in sent.items():
            recorder.integrity.expect(publisher, count)
        counts = recorder.integrity.counts()
        if recorder.unexpected_arrivals:
            counts += IntegrityCounts(unexpected=recorder.unexpected_arrivals)
        totals.append(counts)
    return histogram, IntegrityCounts.total(totals)
