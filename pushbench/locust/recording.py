"""What one Locust process measures, and the report it ships to the master. Pure: no Locust.

Recording must cost the load generator next to nothing: ``LatencyHistogram.record_ns`` is
pure-Python HdrHistogram (~1.4 µs a call), a noticeable share of a ~25 µs echo round trip. So
each measured name keeps a ``{µs: count}`` dict — one dict update per sample (~0.15 µs) — and
folds it into a histogram only when a report is shipped, one ``record_ns`` per *distinct* µs
value. The fold rounds exactly as ``record_ns`` does, so the result is the very histogram that
recording every sample would have built.

Reports carry *deltas* since the previous report (like Locust's own stats), as plain
msgpack-able data: histograms as HdrHistogram V2 blobs, which the master merges exactly.
"""

from __future__ import annotations

import enum
import time
from array import array
from dataclasses import dataclass, field
from typing import Any, TypedDict

from pushbench.core.histogram import LatencyHistogram
from pushbench.core.integrity import IntegrityCounts

__all__ = [
    "MAX_ERRORS",
    "REPORT_VERSION",
    "LatencyCounts",
    "NameReport",
    "NameStats",
    "NodeRecorder",
    "NodeReport",
    "Phase",
]

#: Bumped when the report layout changes: a master refuses reports it cannot read.
REPORT_VERSION = 1
#: Distinct error messages kept per name (a dead target must not flood memory or reports).
MAX_ERRORS = 20


class Phase(enum.Enum):
    """Where a process is in the stop protocol (see :mod:`pushbench.locust.plugin`)."""

    RUNNING = "running"
    """Generating load and measuring."""
    DRAINING = "draining"
    """Publishers and echo users stopped; subscribers still receive and measure."""
    CLOSED = "closed"
    """Final report shipped; nothing more is measured."""


class LatencyCounts:
    """Latencies of one name as a count per µs: cheap to add, exact to fold into a histogram."""

    __slots__ = ("_counts", "raw_ns")

    def __init__(self, keep_raw: bool = False) -> None:
        self._counts: dict[int, int] = {}
        self.raw_ns: array[int] | None = array("q") if keep_raw else None
        """Every sample as recorded, when ``keep_raw`` (to check the merge; costs memory)."""

    def add_ns(self, ns: int) -> None:
        """Record one latency in ns (rounded to the nearest µs like ``record_ns``)."""
        # Negative values keep their own key below zero: record_ns clamps and counts them.
        key = (ns + 500) // 1000 if ns >= 0 else -1
        counts = self._counts
        counts[key] = counts.get(key, 0) + 1
        if self.raw_ns is not None:
            self.raw_ns.append(ns)

    def __len__(self) -> int:
        return sum(self._counts.values())

    def take(self) -> LatencyHistogram:
        """Everything added since the last ``take``, as a histogram; then start afresh."""
        counts, self._counts = self._counts, {}
        histogram = LatencyHistogram()
        for us, count in counts.items():
            histogram.record_ns(us * 1000, count)
        return histogram


class NameReport(TypedDict):
    """One name's measurements since the previous report."""

    transport: str
    histogram: str
    clamped_low: int
    clamped_high: int
    messages: int
    attempts: int
    http_requests: int
    cross_clock: int
    integrity: dict[str, int]
    subscribers_done: int
    silent: int
    users: int
    errors: list[str]
    params: dict[str, Any]


class NodeReport(TypedDict):
    """What a worker ships (or a local runner keeps): deltas by name, plus process figures."""

    version: int
    final: bool
    names: dict[str, NameReport]
    sent: dict[str, int]
    cpu_s: float
    wall_s: float
    publish_lag_max_ns: int
    clock: str
    drained: bool


@dataclass(slots=True)
class NameStats:
    """Running totals of one measured name (a scenario) in this process, since the last report."""

    transport: str
    params: dict[str, Any]
    latency: LatencyCounts
    messages: int = 0
    """Deliveries (first arrivals) or echo replies: throughput counts these."""
    attempts: int = 0
    """Echo messages sent (replies owed); 0 for subscribers, whose owed count is integrity's."""
    http_requests: int = 0
    cross_clock: int = 0
    """Deliveries whose latency was not recorded: the publisher ran on another host's clock."""
    integrity: IntegrityCounts = field(default_factory=IntegrityCounts)
    """Summed over subscribers that finished since the last report."""
    subscribers_done: int = 0
    silent: int = 0
    """Finished subscribers that never received a pushbench message."""
    users: int = 0
    """Users of this name started since the last report."""
    errors: list[str] = field(default_factory=list)

    def error(self, message: str) -> None:
        """Keep a bounded list of distinct errors."""
        if len(self.errors) < MAX_ERRORS and message not in self.errors:
            self.errors.append(message)

    def finish_subscriber(self, counts: IntegrityCounts) -> None:
        """Add one subscriber's final integrity counts."""
        self.integrity = self.integrity + counts
        self.subscribers_done += 1
        if counts.received == 0:
            self.silent += 1

    def take_report(self) -> NameReport:
        """The deltas as a report; then start afresh (params and transport stay)."""
        histogram = self.latency.take()
        report = NameReport(
            transport=self.transport,
            histogram=histogram.encode(),
            clamped_low=histogram.clamped_low,
            clamped_high=histogram.clamped_high,
            messages=self.messages,
            attempts=self.attempts,
            http_requests=self.http_requests,
            cross_clock=self.cross_clock,
            integrity=self.integrity.as_dict(),
            subscribers_done=self.subscribers_done,
            silent=self.silent,
            users=self.users,
            errors=list(self.errors),
            params=dict(self.params),
        )
        self.messages = self.attempts = self.http_requests = self.cross_clock = 0
        self.integrity = IntegrityCounts()
        self.subscribers_done = self.silent = self.users = 0
        self.errors.clear()
        return report


class NodeRecorder:
    """Everything one Locust process measures; users write to it, reports read from it."""

    def __init__(self, clock: str, keep_raw: bool = False) -> None:
        self.clock = clock
        self.keep_raw = keep_raw
        self.names: dict[str, NameStats] = {}
        self.sent: dict[str, int] = {}
        """Publisher id -> messages sent (seqs 0 .. n-1): what subscribers were owed."""
        self.publish_lag_max_ns = 0
        self.drained = True
        """False when the drain timed out with subscribers still missing messages."""
        # Plain attributes, not properties: users test them once per message.
        self.loading = True
        """False once load generation stopped (publishers and echo users must stop)."""
        self.recording = True
        """False once the final report is out: later samples would be shipped nowhere."""
        self._phase = Phase.RUNNING
        self._cpu_start = time.process_time()
        self._wall_start = time.monotonic()
        self._raw: dict[str, list[array[int]]] = {}

    @property
    def phase(self) -> Phase:
        """Where this process is in the stop protocol; setting it updates the two flags."""
        return self._phase

    @phase.setter
    def phase(self, phase: Phase) -> None:
        self._phase = phase
        self.loading = phase is Phase.RUNNING
        self.recording = phase is not Phase.CLOSED

    def stats(self, name: str, transport: str, params: dict[str, Any] | None = None) -> NameStats:
        """The totals of ``name``, created on first use."""
        stats = self.names.get(name)
        if stats is None:
            stats = self.names[name] = NameStats(
                transport, dict(params or {}), LatencyCounts(self.keep_raw)
            )
        return stats

    def take_report(self, final: bool = False) -> NodeReport:
        """Every name's deltas since the last report, and this process's CPU time so far."""
        names: dict[str, NameReport] = {}
        for name, stats in self.names.items():
            raw = stats.latency.raw_ns
            if raw is not None and raw:
                self._raw.setdefault(name, []).append(raw)
                stats.latency.raw_ns = array("q")
            names[name] = stats.take_report()
        return NodeReport(
            version=REPORT_VERSION,
            final=final,
            names=names,
            sent=dict(self.sent),
            cpu_s=time.process_time() - self._cpu_start,
            wall_s=time.monotonic() - self._wall_start,
            publish_lag_max_ns=self.publish_lag_max_ns,
            clock=self.clock,
            drained=self.drained,
        )

    def raw_samples(self) -> dict[str, list[int]]:
        """Every latency shipped so far, by name, in ns (only with ``keep_raw``)."""
        return {name: [ns for part in parts for ns in part] for name, parts in self._raw.items()}
