"""The master's side: merge every worker's reports exactly, then build the results document.

Pure (no Locust, no I/O). Histograms are merged by adding HdrHistogram bucket counts, so the
merged percentiles are those of all samples pooled — never an average of per-worker
percentiles, and never Locust's rounded response-time buckets. Interval histograms merge the
same way, interval by interval, and their counters add up.

The intervals are those of :mod:`pushbench.core.intervals`, from the test start (the origin
every process bucketed against) to the latest moment any process measured in, so they
partition every sample. Owed and lost messages arrive as seq ranges and are placed by each
publisher's schedule; a publisher on another host's clock (or whose schedule never arrived)
cannot be placed, and what it owed is in the whole-run counts only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pushbench.core.histogram import LatencyHistogram
from pushbench.core.integrity import IntegrityCounts
from pushbench.core.intervals import DEFAULT_INTERVAL_S, IntervalGrid, seqs_per_interval
from pushbench.core.kinds import SWARM_TRANSPORTS, TRANSPORTS_WITHOUT_REQUESTS, Transport
from pushbench.core.schema import (
    Environment,
    GeneratorCost,
    Interval,
    ResultsDocument,
    Scenario,
    latency_summary,
)
from pushbench.core.thresholds import SATURATED_CPU_PERCENT
from pushbench.locust.recording import REPORT_VERSION, NameReport, NodeReport

__all__ = ["INTERVALS_ORIGIN_KEY", "NameTotals", "SwarmAggregate", "WorkerTotals"]

#: The ``config`` key holding the intervals' origin on ``CLOCK_MONOTONIC`` (ns): what the
#: runner places its server samples by, and what a check of the raw samples buckets by.
INTERVALS_ORIGIN_KEY = "intervals_origin_monotonic_ns"


@dataclass(slots=True)
class NameTotals:
    """One name (a scenario) summed over every worker and report."""

    transport: str
    params: dict[str, Any]
    histogram: LatencyHistogram = field(default_factory=LatencyHistogram)
    messages: int = 0
    attempts: int = 0
    http_requests: int = 0
    cross_clock: int = 0
    integrity: IntegrityCounts = field(default_factory=IntegrityCounts)
    subscribers_done: int = 0
    silent: int = 0
    users: int = 0
    errors: list[str] = field(default_factory=list)
    interval_histograms: dict[int, LatencyHistogram] = field(default_factory=dict)
    interval_requests: Counter[int] = field(default_factory=Counter)
    interval_failed: Counter[int] = field(default_factory=Counter)
    owed: Counter[tuple[str, int, int]] = field(default_factory=Counter)
    missing: Counter[tuple[str, int, int]] = field(default_factory=Counter)

    def add(self, report: NameReport, intervals: bool = True) -> None:
        """Merge one delta report (the histogram exactly)."""
        histogram = LatencyHistogram.decode(report["histogram"])
        histogram.clamped_low = report["clamped_low"]
        histogram.clamped_high = report["clamped_high"]
        self.histogram.merge(histogram)
        self.messages += report["messages"]
        self.attempts += report["attempts"]
        self.http_requests += report["http_requests"]
        self.cross_clock += report["cross_clock"]
        self.integrity = self.integrity + IntegrityCounts(**report["integrity"])
        self.subscribers_done += report["subscribers_done"]
        self.silent += report["silent"]
        self.users += report["users"]
        for error in report["errors"]:
            if error not in self.errors and len(self.errors) < 50:
                self.errors.append(error)
        if intervals:
            self._add_intervals(report)

    def _add_intervals(self, report: NameReport) -> None:
        for index, blob in report["intervals"]:
            histogram = self.interval_histograms.get(index)
            if histogram is None:
                histogram = self.interval_histograms[index] = LatencyHistogram()
            histogram.merge(LatencyHistogram.decode(blob))
        for index, count in report["requests"]:
            self.interval_requests[index] += count
        for index, count in report["failed"]:
            self.interval_failed[index] += count
        for publisher, first, end, subscribers in report["owed"]:
            self.owed[publisher, first, end] += subscribers
        for publisher, first, end, subscribers in report["missing"]:
            self.missing[publisher, first, end] += subscribers

    def intervals(self, grid: IntervalGrid, schedules: Mapping[str, list[int]]) -> list[Interval]:
        """This name's intervals on ``grid`` (owed and lost placed by ``schedules``)."""
        echo = self.transport == Transport.ECHO
        requests = None if self.transport in TRANSPORTS_WITHOUT_REQUESTS else self.interval_requests
        histograms = [
            self.interval_histograms.get(i) or LatencyHistogram() for i in range(grid.count)
        ]
        if echo:  # a round trip is owed when sent, lost when it got no good reply
            lost = [self.interval_failed[i] for i in range(grid.count)]
            sent = [h.count + failed for h, failed in zip(histograms, lost, strict=True)]
        else:
            sent = _placed(grid, self.owed, schedules)
            lost = _placed(grid, self.missing, schedules)
        out = []
        for index, histogram in enumerate(histograms):
            start, end = grid.bounds(index)
            out.append(
                Interval(
                    start_s=(start - grid.start_ns) / 1e9,
                    duration_s=(end - start) / 1e9,
                    sent=sent[index],
                    delivered=sent[index] - lost[index],
                    lost=lost[index],
                    http_requests=None if requests is None else requests[index],
                    latency_us=latency_summary(histogram),
                )
            )
        return out


def _placed(
    grid: IntervalGrid, ranges: Counter[tuple[str, int, int]], schedules: Mapping[str, list[int]]
) -> list[int]:
    """Seq ranges (each counted for that many subscribers) per interval of their schedule."""
    placed = [0] * grid.count
    for (publisher, first, end), subscribers in ranges.items():
        schedule = schedules.get(publisher)
        if schedule is None:
            continue
        counts = seqs_per_interval(grid, schedule[0], schedule[1], first, end)
        for index, count in enumerate(counts):
            placed[index] += count * subscribers
    return placed


@dataclass(slots=True)
class WorkerTotals:
    """The latest cumulative figures of one worker process."""

    cpu_s: float = 0.0
    wall_s: float = 0.0
    sent: dict[str, int] = field(default_factory=dict)
    publish_lag_max_ns: int = 0
    clock: str = ""
    final: bool = False
    drained: bool = True

    @property
    def cpu_percent(self) -> float:
        """CPU time over wall time, in % of one core."""
        return 100.0 * self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0


class SwarmAggregate:
    """Every report of one test, merged as it arrives.

    Example:
        >>> aggregate = SwarmAggregate()
        >>> aggregate.add("worker-1", report)  # doctest: +SKIP
        >>> aggregate.names["ws"].histogram.percentile_us(99)  # doctest: +SKIP
    """

    def __init__(
        self,
        origin_ns: int | None = None,
        width_ns: int = round(DEFAULT_INTERVAL_S * 1e9),
        clock: str | None = None,
    ) -> None:
        """Args:
        origin_ns: Where the intervals start: the test start every process was told of
            (None: the first report's).
        width_ns: The intervals' width (``--interval``).
        clock: This host's clock id: intervals of workers on another clock are refused
            (their monotonic times mean nothing here); None: accept every clock.
        """
        self.origin_ns = origin_ns
        self.width_ns = width_ns
        self.clock = clock
        self.schedules: dict[str, list[int]] = {}
        """Publisher -> ``[start_ns, step_ns]``, from the workers on this clock."""
        self.last_ns = origin_ns or 0
        """The latest moment any process (on this clock) measured in."""
        self.names: dict[str, NameTotals] = {}
        self.workers: dict[str, WorkerTotals] = {}
        self.rejected: list[str] = []
        """Why some reports were not merged (wrong version, malformed, after the end)."""
        self.closed = False
        """Set once the results are final: later reports are counted as rejected."""

    def add(self, worker: str, report: Mapping[str, Any]) -> bool:
        """Merge ``report`` from ``worker``; False (and a note in :attr:`rejected`) if refused."""
        if self.closed:
            if any(name["messages"] for name in report.get("names", {}).values()):
                self._reject(f"{worker}: measurements arrived after the results were final")
            return False
        if report.get("version") != REPORT_VERSION:
            self._reject(
                f"{worker}: report version {report.get('version')!r}, expected "
                f"{REPORT_VERSION} (mixed pushbench versions in one swarm?)"
            )
            return False
        node: NodeReport = report  # type: ignore[assignment]
        try:
            aligned = self._aligned(worker, node)
            for name, part in node["names"].items():
                totals = self.names.get(name)
                if totals is None:
                    totals = self.names[name] = NameTotals(part["transport"], dict(part["params"]))
                totals.add(part, intervals=aligned)
            if aligned:
                self.schedules.update(node["schedules"])
                self.last_ns = max(self.last_ns, node["last_ns"])
        except (KeyError, TypeError, ValueError) as exc:
            self._reject(f"{worker}: malformed report ({type(exc).__name__}: {exc})")
            return False
        totals_of_worker = self.workers.setdefault(worker, WorkerTotals())
        totals_of_worker.cpu_s = node["cpu_s"]
        totals_of_worker.wall_s = node["wall_s"]
        totals_of_worker.sent = dict(node["sent"])
        totals_of_worker.publish_lag_max_ns = node["publish_lag_max_ns"]
        totals_of_worker.clock = node["clock"]
        totals_of_worker.final = totals_of_worker.final or node["final"]
        totals_of_worker.drained = node.get("drained", True)
        return True

    def _aligned(self, worker: str, node: NodeReport) -> bool:
        """Whether ``node``'s intervals are this aggregate's (same clock, origin and width)."""
        if self.clock is not None and node["clock"] != self.clock:
            self._reject(
                f"{worker}: on another host's clock; its samples are in the whole-run figures "
                "but not in the intervals"
            )
            return False
        if self.origin_ns is None:
            self.origin_ns, self.width_ns = node["origin_ns"], node["width_ns"]
        if (node["origin_ns"], node["width_ns"]) != (self.origin_ns, self.width_ns):
            self._reject(
                f"{worker}: bucketed intervals of {node['width_ns'] / 1e9:g} s from another "
                "origin than the master's; its samples are in the whole-run figures only"
            )
            return False
        return True

    def grid(self, end_ns: int = 0) -> IntervalGrid | None:
        """The intervals from the origin to ``end_ns`` or the latest moment measured in, if
        later (so that every sample falls in one); None before any report."""
        if self.origin_ns is None:
            return None
        return IntervalGrid(self.origin_ns, max(end_ns, self.last_ns + 1), self.width_ns)

    def _reject(self, reason: str) -> None:
        if reason not in self.rejected and len(self.rejected) < 20:
            self.rejected.append(reason)

    def sent(self) -> dict[str, int]:
        """Every publisher's sent count, over all workers."""
        merged: dict[str, int] = {}
        for worker in self.workers.values():
            merged.update(worker.sent)
        return merged

    def generator(self, duration_s: float) -> GeneratorCost | None:
        """What the workers' processes spent generating the load (None before any report)."""
        if not self.workers:
            return None
        cpu_s = sum(worker.cpu_s for worker in self.workers.values())
        busiest = max(worker.cpu_percent for worker in self.workers.values())
        return GeneratorCost(
            cpu_s=cpu_s,
            cpu_percent=100.0 * cpu_s / duration_s if duration_s > 0 else 0.0,
            saturated=busiest >= SATURATED_CPU_PERCENT,
        )

    def warnings(self) -> list[str]:
        """What a reader of the results must know to trust them."""
        warnings: list[str] = []
        clocks = {worker.clock for worker in self.workers.values()}
        for name, totals in self.names.items():
            if totals.cross_clock:
                warnings.append(
                    f"{name}: {totals.cross_clock} messages came from publishers on another "
                    "host; their latency is not comparable across clocks and was not recorded "
                    "(use --publisher-round-trip, or echo round trips, across hosts)"
                )
            if totals.silent:
                warnings.append(
                    f"{name}: {totals.silent} of {totals.subscribers_done} subscribers received "
                    "nothing (no publisher running, or the subscription is broken)"
                )
            clamped = totals.histogram.clamped
            if clamped:
                warnings.append(f"{name}: {clamped} latencies out of range were clamped")
            for what in ("lost", "duplicated", "reordered", "unexpected"):
                count = getattr(totals.integrity, what)
                if count:
                    warnings.append(f"{name}: {count} messages {what}")
        if len(clocks) > 1:
            warnings.append(
                f"workers ran on {len(clocks)} hosts: push latency is only recorded between a "
                "publisher and subscribers on the same host"
            )
        for worker, process in self.workers.items():
            if process.cpu_percent >= SATURATED_CPU_PERCENT:
                warnings.append(
                    f"worker {worker} used {process.cpu_percent:.0f}% of its CPU: its latencies "
                    "include its own queueing; add workers or lower the load"
                )
            if not process.drained:
                warnings.append(
                    f"worker {worker}: the drain timed out with subscribers still missing "
                    "messages; they count as lost (raise --drain-timeout if they were only late)"
                )
            lag_ms = process.publish_lag_max_ns / 1e6
            if lag_ms > 50:
                warnings.append(
                    f"worker {worker}: publishers fell up to {lag_ms:.0f} ms behind schedule"
                )
        return warnings + list(self.rejected)

    def scenarios(
        self,
        duration_s: float,
        generator: GeneratorCost | None,
        grid: IntervalGrid | None = None,
        started_at: datetime | None = None,
    ) -> list[Scenario]:
        """One scenario per measured name, sorted by name; with ``grid``, with intervals
        (``started_at``: the wall-clock time of the origin)."""
        scenarios = []
        for name in sorted(self.names):
            totals = self.names[name]
            if totals.transport not in SWARM_TRANSPORTS:
                continue
            scenario = _scenario(name, totals, duration_s, generator)
            if grid is not None and grid.count:
                scenario = scenario.model_copy(
                    update={
                        "interval_s": grid.width_ns / 1e9,
                        "intervals_started_at": started_at,
                        "intervals": totals.intervals(grid, self.schedules),
                    }
                )
            scenarios.append(scenario)
        return scenarios

    def document(
        self,
        *,
        run_id: str,
        started_at: datetime,
        finished_at: datetime,
        duration_s: float,
        environment: Environment,
        config: dict[str, Any],
        warnings: list[str] | None = None,
        errors: list[str] | None = None,
        interrupted: bool = False,
        end_ns: int = 0,
    ) -> ResultsDocument:
        """The results document (``kind: locust``) of everything merged so far.

        ``started_at`` is the wall-clock time of the intervals' origin; ``end_ns`` where the
        load stopped (``CLOCK_MONOTONIC``), the intervals' end unless a sample came later.
        """
        generator = self.generator(duration_s)
        config = {
            **config,
            "workers": len(self.workers),
            "duration_s": round(duration_s, 3),
            INTERVALS_ORIGIN_KEY: self.origin_ns,
        }
        return ResultsDocument(
            kind="locust",
            run_id=run_id,
            started_at=started_at,
            finished_at=finished_at,
            environment=environment,
            config=config,
            scenarios=self.scenarios(duration_s, generator, self.grid(end_ns), started_at),
            warnings=[*(warnings or []), *self.warnings()],
            errors=list(errors or []),
            interrupted=interrupted,
        )


def _scenario(
    name: str, totals: NameTotals, duration_s: float, generator: GeneratorCost | None
) -> Scenario:
    if totals.transport == Transport.ECHO:
        counts = IntegrityCounts(
            sent=totals.attempts,
            delivered=totals.messages,
            lost=max(totals.attempts - totals.messages, 0),
        )
    else:
        counts = totals.integrity
    requests = None if totals.transport in TRANSPORTS_WITHOUT_REQUESTS else totals.http_requests
    delivered = counts.delivered
    params = {**totals.params, "users": totals.users, "duration_s": round(duration_s, 3)}
    if totals.cross_clock:
        params["cross_clock_messages"] = totals.cross_clock
    return Scenario(
        name=name,
        transport=Transport(totals.transport),  # a worker's report names it by its string
        params=params,
        latency_us=latency_summary(totals.histogram),
        sent=counts.sent,
        delivered=delivered,
        lost=counts.lost,
        duplicated=counts.duplicated,
        reordered=counts.reordered,
        unexpected=counts.unexpected,
        throughput_msgs_per_s=totals.messages / duration_s if duration_s > 0 else 0.0,
        server=None,
        generator=generator,
        http_requests=requests,
        http_requests_per_delivered_msg=requests / delivered
        if requests is not None and delivered
        else None,
        errors=list(totals.errors),
    )
