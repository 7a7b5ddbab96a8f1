"""What one Locust process measures, and the report it ships to the master. Pure: no Locust.

Recording must cost the load generator next to nothing: ``LatencyHistogram.record_ns`` is
pure-Python HdrHistogram (~1.4 µs a call), a noticeable share of a ~25 µs echo round trip. So
each measured name appends every latency and the scheduled send time of its message to two
``array('q')`` (~0.17 µs a sample, what the ``{µs: count}`` dict it replaces cost), and folds
them when a report is shipped: numpy counts the distinct (interval, µs) pairs, then one
``record_ns`` per pair builds the whole-run histogram and one histogram per interval. The fold
rounds exactly as ``record_ns`` does, so the result is the very histogram that recording every
sample would have built. (Bucketing in pure Python on receipt, with a dict per interval, costs
~0.45 µs a sample; a ``Counter`` fold on report ~0.75 µs, stalling the process's gevent loop.)

Intervals are those of :mod:`pushbench.core.intervals`: ``width_ns`` slices from ``origin_ns``,
the test start the master (or local runner) decided, on the ``CLOCK_MONOTONIC`` every process
of the host shares; every sample goes to the interval its message was *scheduled* in. What a
subscriber owed and lost is shipped as seq ranges per publisher, and each publisher's
schedule (seq ``k`` due at ``start + k * step``) beside them: the master, which hears from
every publisher, places both on the intervals.

Reports carry *deltas* since the previous report (like Locust's own stats), as plain
msgpack-able data: histograms as HdrHistogram V2 blobs, which the master merges exactly.
"""

from __future__ import annotations

import enum
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np

from pushbench.core.histogram import HIGHEST_TRACKABLE_US, LatencyHistogram
from pushbench.core.integrity import IntegrityCounts

__all__ = [
    "MAX_ERRORS",
    "REPORT_VERSION",
    "Folded",
    "LatencyCounts",
    "NameReport",
    "NameStats",
    "NodeRecorder",
    "NodeReport",
    "Phase",
    "SeqRange",
    "fold_samples",
]

#: Bumped when the report layout changes: a master refuses reports it cannot read.
#: 2: per-interval histograms and counters, seq ranges owed and missing, schedules.
REPORT_VERSION = 2
#: Distinct error messages kept per name (a dead target must not flood memory or reports).
MAX_ERRORS = 20
#: (interval, µs) pairs packed into one int64 for counting: µs (clamped to one past the
#: histogram's range, and -1 for negatives) takes the low 32 bits.
_US_BITS = 32

#: ``(publisher, first seq, end seq)``: the half-open seq range ``[first, end)``.
SeqRange = tuple[str, int, int]


class Phase(enum.Enum):
    """Where a process is in the stop protocol (see :mod:`pushbench.locust.plugin`)."""

    RUNNING = "running"
    """Generating load and measuring."""
    DRAINING = "draining"
    """Publishers and echo users stopped; subscribers still receive and measure."""
    CLOSED = "closed"
    """Final report shipped; nothing more is measured."""


@dataclass(slots=True)
class Folded:
    """Samples folded into histograms: the whole lot, and by interval index."""

    whole: LatencyHistogram
    intervals: dict[int, LatencyHistogram]
    """Interval index -> its histogram (samples scheduled before the origin are in none)."""
    last_scheduled_ns: int
    """The latest scheduled time folded (0: none)."""


def _us_keys(latencies_ns: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    # Rounded to the nearest µs like record_ns; negatives -> -1 and beyond one hour -> one
    # past it, which record_ns clamps and counts, so every sample keeps its clamping.
    us = np.minimum((latencies_ns + 500) // 1000, HIGHEST_TRACKABLE_US + 1)
    return np.where(latencies_ns < 0, -1, us)


def fold_samples(
    latencies_ns: array[int], scheduled_ns: array[int], origin_ns: int, width_ns: int
) -> Folded:
    """Raw samples as the whole-run histogram and one histogram per interval.

    Sample ``k`` has latency ``latencies_ns[k]`` and was scheduled at ``scheduled_ns[k]``; it
    belongs to interval ``(scheduled - origin_ns) // width_ns``.
    """
    whole, intervals = LatencyHistogram(), dict[int, LatencyHistogram]()
    if not latencies_ns:
        return Folded(whole, intervals, 0)
    us = _us_keys(np.frombuffer(latencies_ns, dtype=np.int64))
    scheduled = np.frombuffer(scheduled_ns, dtype=np.int64)
    values, counts = np.unique(us, return_counts=True)
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        whole.record_ns(value * 1000, count)
    index = (scheduled - origin_ns) // width_ns
    inside = index >= 0
    keys = (index[inside] << _US_BITS) + (us[inside] + 1)
    values, counts = np.unique(keys, return_counts=True)
    for key, count in zip(values.tolist(), counts.tolist(), strict=True):
        histogram = intervals.get(key >> _US_BITS)
        if histogram is None:
            histogram = intervals[key >> _US_BITS] = LatencyHistogram()
        histogram.record_ns(((key & (1 << _US_BITS) - 1) - 1) * 1000, count)
    return Folded(whole, intervals, int(scheduled.max()))


def _per_interval(times_ns: array[int], origin_ns: int, width_ns: int) -> list[list[int]]:
    """``[[index, count], ...]`` of the times at or after the origin."""
    counts = Counter((t - origin_ns) // width_ns for t in times_ns if t >= origin_ns)
    return [[index, count] for index, count in sorted(counts.items())]


class LatencyCounts:
    """Latencies of one name, each with its message's scheduled send time: cheap to add, exact
    to fold into histograms (see the module docstring)."""

    __slots__ = ("latencies_ns", "scheduled_ns")

    def __init__(self) -> None:
        self.latencies_ns: array[int] = array("q")
        self.scheduled_ns: array[int] = array("q")
        """``scheduled_ns[k]`` is when the message of ``latencies_ns[k]`` was due (an echo
        round trip's: when it was sent)."""

    def add_ns(self, ns: int, scheduled_ns: int) -> None:
        """Record one latency in ns of a message scheduled at ``scheduled_ns``."""
        self.latencies_ns.append(ns)
        self.scheduled_ns.append(scheduled_ns)

    def __len__(self) -> int:
        return len(self.latencies_ns)

    def take_raw(self) -> tuple[array[int], array[int]]:
        """Everything added since the last take, as (latencies, scheduled); then afresh."""
        taken = self.latencies_ns, self.scheduled_ns
        self.latencies_ns, self.scheduled_ns = array("q"), array("q")
        return taken

    def take(self, origin_ns: int = 0, width_ns: int = 1_000_000_000) -> Folded:
        """Everything added since the last take, folded (:func:`fold_samples`); then afresh."""
        return fold_samples(*self.take_raw(), origin_ns, width_ns)


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
    intervals: list[list[Any]]
    """``[index, histogram blob]`` per interval that got samples."""
    requests: list[list[int]]
    """``[index, count]``: HTTP requests started in the interval."""
    failed: list[list[int]]
    """``[index, count]``: echo round trips sent in the interval that got no good reply."""
    owed: list[list[Any]]
    """``[publisher, first, end, subscribers]``: finished subscribers owed seqs first..end-1."""
    missing: list[list[Any]]
    """``[publisher, first, end, subscribers]``: of those, seqs that never arrived."""


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
    origin_ns: int
    """The intervals' origin this process bucketed against (the master's test start)."""
    width_ns: int
    schedules: dict[str, list[int]]
    """Publisher id -> ``[start_ns, step_ns]``: seq ``k`` was due at ``start + k * step``."""
    last_ns: int
    """The latest moment measured in: the latest scheduled time folded, or the load's stop."""


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
    requests_ns: array[int] = field(default_factory=lambda: array("q"))
    """When each HTTP request since the last report started."""
    failed_ns: array[int] = field(default_factory=lambda: array("q"))
    """When each failed echo round trip since the last report was sent."""
    owed: Counter[SeqRange] = field(default_factory=Counter)
    """Seq ranges finished subscribers owed -> how many subscribers owed each."""
    missing: Counter[SeqRange] = field(default_factory=Counter)

    def error(self, message: str) -> None:
        """Keep a bounded list of distinct errors."""
        if len(self.errors) < MAX_ERRORS and message not in self.errors:
            self.errors.append(message)

    def count_request(self, started_ns: int) -> None:
        """One HTTP request, started at ``started_ns`` (a poll, an SSE connection)."""
        self.http_requests += 1
        self.requests_ns.append(started_ns)

    def fail_attempt(self, sent_ns: int) -> None:
        """An echo round trip sent at ``sent_ns`` got no good reply (lost in its interval)."""
        self.failed_ns.append(sent_ns)

    def finish_subscriber(
        self,
        counts: IntegrityCounts,
        owed: list[SeqRange] | None = None,
        missing: list[SeqRange] | None = None,
    ) -> None:
        """Add one subscriber's final integrity counts, and the seq ranges behind them."""
        self.integrity = self.integrity + counts
        self.subscribers_done += 1
        if counts.received == 0:
            self.silent += 1
        self.owed.update(owed or ())
        self.missing.update(missing or ())

    def take_report(self, origin_ns: int, width_ns: int) -> tuple[NameReport, Folded]:
        """The deltas as a report, and the samples folded into it; then start afresh (params
        and transport stay)."""
        folded = self.latency.take(origin_ns, width_ns)
        histogram = folded.whole
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
            intervals=[[i, h.encode()] for i, h in sorted(folded.intervals.items())],
            requests=_per_interval(self.requests_ns, origin_ns, width_ns),
            failed=_per_interval(self.failed_ns, origin_ns, width_ns),
            owed=[[*seqs, n] for seqs, n in self.owed.items()],
            missing=[[*seqs, n] for seqs, n in self.missing.items()],
        )
        self.messages = self.attempts = self.http_requests = self.cross_clock = 0
        self.integrity = IntegrityCounts()
        self.subscribers_done = self.silent = self.users = 0
        self.errors.clear()
        self.requests_ns, self.failed_ns = array("q"), array("q")
        self.owed, self.missing = Counter(), Counter()
        return report, folded


class NodeRecorder:
    """Everything one Locust process measures; users write to it, reports read from it."""

    def __init__(
        self,
        clock: str,
        keep_raw: bool = False,
        origin_ns: int | None = None,
        width_ns: int = 1_000_000_000,
    ) -> None:
        self.clock = clock
        self.keep_raw = keep_raw
        self.origin_ns = time.monotonic_ns() if origin_ns is None else origin_ns
        """Where interval 0 starts: the test start the master decided (``CLOCK_MONOTONIC``)."""
        self.width_ns = width_ns
        self.names: dict[str, NameStats] = {}
        self.sent: dict[str, int] = {}
        """Publisher id -> messages sent (seqs 0 .. n-1): what subscribers were owed."""
        self.schedules: dict[str, list[int]] = {}
        """Publisher id -> ``[start_ns, step_ns]`` of its open-loop schedule."""
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
        self._last_ns = 0
        self._raw: dict[str, list[tuple[array[int], array[int]]]] = {}

    @property
    def phase(self) -> Phase:
        """Where this process is in the stop protocol; setting it updates the two flags."""
        return self._phase

    @phase.setter
    def phase(self, phase: Phase) -> None:
        if self._phase is Phase.RUNNING and phase is not Phase.RUNNING:
            # Every message of this process was scheduled before now.
            self._last_ns = max(self._last_ns, time.monotonic_ns())
        self._phase = phase
        self.loading = phase is Phase.RUNNING
        self.recording = phase is not Phase.CLOSED

    def stats(self, name: str, transport: str, params: dict[str, Any] | None = None) -> NameStats:
        """The totals of ``name``, created on first use."""
        stats = self.names.get(name)
        if stats is None:
            stats = self.names[name] = NameStats(transport, dict(params or {}), LatencyCounts())
        return stats

    def schedule(self, publisher: str, start_ns: int, step_ns: int) -> None:
        """``publisher`` sends seq ``k`` at ``start_ns + k * step_ns`` from now on."""
        self.schedules[publisher] = [start_ns, step_ns]

    def take_report(self, final: bool = False) -> NodeReport:
        """Every name's deltas since the last report, and this process's CPU time so far."""
        names: dict[str, NameReport] = {}
        for name, stats in self.names.items():
            latency = stats.latency
            if self.keep_raw and len(latency):
                copy = array("q", latency.latencies_ns), array("q", latency.scheduled_ns)
                self._raw.setdefault(name, []).append(copy)
            names[name], folded = stats.take_report(self.origin_ns, self.width_ns)
            self._last_ns = max(self._last_ns, folded.last_scheduled_ns)
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
            origin_ns=self.origin_ns,
            width_ns=self.width_ns,
            schedules={p: list(s) for p, s in self.schedules.items()},
            last_ns=self._last_ns,
        )

    def raw_samples(self) -> dict[str, dict[str, list[int]]]:
        """Every sample shipped so far, by name: ``latency_ns`` and ``scheduled_ns`` (same
        index), only with ``keep_raw``."""
        return {
            name: {
                "latency_ns": [ns for latencies, _ in parts for ns in latencies],
                "scheduled_ns": [ns for _, scheduled in parts for ns in scheduled],
            }
            for name, parts in self._raw.items()
        }
