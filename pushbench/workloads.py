"""Workloads several commands run: an open-loop push scenario and a closed-loop capacity
measurement, turned into results-schema scenarios the same way wherever they run.

``compare`` runs push scenarios, ``serverbench`` capacity ones, ``sweep`` both; each command keeps
its own plan and report, and none imports another (``make lint`` checks it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pushbench.core.histogram import LatencyHistogram
from pushbench.core.intervals import DEFAULT_INTERVAL_S, IntervalSeries, server_per_interval
from pushbench.core.kinds import Transport
from pushbench.core.schema import (
    GeneratorCost,
    Interval,
    IntervalServer,
    Scenario,
    TlsHandshake,
    latency_summary,
)
from pushbench.core.server_config import REFERENCE_APP, ServerConfig
from pushbench.core.thresholds import SATURATED_CPU_PERCENT, SATURATED_LAG_NS
from pushbench.drivers.capacity import CapacityRun
from pushbench.drivers.handshakes import handshake_run
from pushbench.drivers.scenario import ScenarioRun, ScenarioSpec, run_scenario
from pushbench.harness.launcher import ServerProcess
from pushbench.harness.processes import pin_server, run_uvloop
from pushbench.harness.resources import TreeSampler, TreeUsage
from pushbench.harness.server_cost import server_cost
from pushbench.harness.throwaway_ca import TlsFiles

__all__ = [
    "capacity_scenario",
    "measure_capacity",
    "push_on",
    "push_on_fresh_server",
    "push_scenario",
    "sampler_for",
    "schema_intervals",
    "tls_handshake",
]

#: How often the server tree is sampled at most (finer when the intervals are shorter).
SAMPLE_EVERY_S = 0.2


def sampler_for(pid: int, interval_s: float) -> TreeSampler:
    """A sampler of the server tree fine enough for ``interval_s`` intervals: a few samples
    per interval, connections counted at least once in each (every half interval)."""
    return TreeSampler(pid, min(SAMPLE_EVERY_S, interval_s / 2), connections_every_s=interval_s / 2)


def schema_intervals(series: IntervalSeries, usage: TreeUsage | None) -> list[Interval]:
    """A run's intervals as the results document holds them, the server's samples placed on
    the same grid."""
    grid = series.grid
    servers = server_per_interval(grid, usage.timeline) if usage is not None else []
    out = []
    for index, histogram in enumerate(series.histograms):
        start, end = grid.bounds(index)
        server = servers[index] if index < len(servers) else None
        out.append(
            Interval(
                start_s=(start - grid.start_ns) / 1e9,
                duration_s=(end - start) / 1e9,
                sent=series.sent[index],
                delivered=series.sent[index] - series.lost[index],
                lost=series.lost[index],
                http_requests=None if series.http_requests is None else series.http_requests[index],
                latency_us=latency_summary(histogram),
                server=None
                if server is None
                else IntervalServer(
                    cpu_percent=round(server.cpu_percent, 2),
                    rss_bytes=server.rss_bytes,
                    connections=server.connections,
                ),
            )
        )
    return out


def push_scenario(
    spec: ScenarioSpec,
    run: ScenarioRun,
    usage: TreeUsage | None,
    generator_cpu_s: float,
    wall_s: float,
    errors: list[str],
) -> Scenario:
    """One open-loop scenario's measurements as a results-schema :class:`Scenario`."""
    delivered = run.integrity.delivered
    cpu_percent = 100.0 * generator_cpu_s / wall_s if wall_s > 0 else 0.0
    saturated = (
        cpu_percent >= SATURATED_CPU_PERCENT
        or run.max_loop_lag_ns > SATURATED_LAG_NS
        or run.publish.max_lag_ns > SATURATED_LAG_NS
    )
    server = None if usage is None else server_cost(usage, delivered)
    requests = run.http_requests
    params = spec.params()
    params["generator_max_loop_lag_ms"] = round(run.max_loop_lag_ns / 1e6, 3)
    params["publisher_max_schedule_lag_ms"] = round(run.publish.max_lag_ns / 1e6, 3)
    if run.publish.lateness_ns:
        lateness = LatencyHistogram()
        lateness.record_all_ns(run.publish.lateness_ns)
        params["publisher_lateness_p50_us"] = lateness.percentile_us(50)
        params["publisher_lateness_p99_us"] = lateness.percentile_us(99)
    return Scenario(
        name=spec.name,
        transport=spec.transport,
        params=params,
        latency_us=latency_summary(run.histogram),
        sent=run.integrity.sent,
        delivered=delivered,
        lost=run.integrity.lost,
        duplicated=run.integrity.duplicated,
        reordered=run.integrity.reordered,
        unexpected=run.integrity.unexpected,
        publishes_attempted=run.publish.attempted,
        publishes_sent=run.publish.sent_total,
        throughput_msgs_per_s=run.histogram.count / run.window.duration_s
        if run.window.duration_s > 0
        else 0.0,
        server=server,
        generator=GeneratorCost(
            cpu_s=generator_cpu_s, cpu_percent=cpu_percent, saturated=saturated
        ),
        http_requests=requests,
        http_requests_per_delivered_msg=requests / delivered
        if requests is not None and delivered
        else None,
        errors=errors,
        ws_bytes_per_delivery=run.ws_received_bytes / delivered
        if run.ws_received_bytes and delivered
        else None,
        **_interval_fields(run.intervals, usage, spec.interval_s),
    )


def _interval_fields(
    series: IntervalSeries | None, usage: TreeUsage | None, interval_s: float | None = None
) -> Any:
    """The scenario fields of a run's intervals (none when it recorded none)."""
    if series is None or not series.histograms:
        return {}
    return {
        "interval_s": interval_s or series.grid.width_ns / 1e9,
        "intervals_started_at": datetime.fromtimestamp(series.start_epoch_s, UTC),
        "intervals": schema_intervals(series, usage),
    }


def capacity_scenario(
    name: str,
    transport: Transport,
    params: dict[str, Any],
    run: CapacityRun,
    usage: TreeUsage,
    generator_cpu_s: float,
    http_requests: int | None = None,
) -> Scenario:
    """A capacity measurement (raw-client counts, echo round trips) as a results Scenario,
    with its intervals when the run recorded them (the server's samples on the same grid)."""
    histogram = LatencyHistogram()
    histogram.record_all_ns(run.round_trips_ns)
    cpu_percent = 100 * generator_cpu_s / max(usage.wall_s, 1e-9)
    return Scenario(
        name=name,
        transport=transport,
        params=params,
        latency_us=latency_summary(histogram),
        # A lost echo is a message sent and never answered; the reference runs lose none.
        sent=run.messages + run.lost,
        delivered=run.messages,
        lost=run.lost,
        duplicated=run.duplicated,
        reordered=0,
        unexpected=run.unexpected,
        throughput_msgs_per_s=run.per_s,
        server=server_cost(usage, run.messages),
        generator=GeneratorCost(
            cpu_s=generator_cpu_s,
            cpu_percent=cpu_percent,
            saturated=cpu_percent >= SATURATED_CPU_PERCENT,
        ),
        http_requests=http_requests,
        http_requests_per_delivered_msg=1.0 if http_requests else None,
        errors=[
            *(
                [f"{run.dropped_connections} connections dropped or requests failed"]
                if run.dropped_connections
                else []
            ),
            *run.errors,
        ],
        **_interval_fields(run.intervals, usage),
    )


def measure_capacity(
    server: ServerProcess,
    factory: Callable[[], Coroutine[Any, Any, CapacityRun]],
    interval_s: float = DEFAULT_INTERVAL_S,
) -> tuple[CapacityRun, TreeUsage, float]:
    """Run one capacity workload; (its run, the server tree's usage, this process's CPU s).

    The server is sampled finely enough for the run's ``interval_s`` intervals
    (:func:`sampler_for`), on the clock the closed-loop drivers stamp their sends with. The
    generator's CPU leaves out the drivers' bucketing after the window (``bookkeeping_cpu_s``).
    """
    sampler = sampler_for(server.pid, interval_s)
    before = time.process_time()  # CLOCK_PROCESS_CPUTIME_ID: ns, every thread of this process
    sampler.start()
    try:
        run: CapacityRun = run_uvloop(factory)
    finally:
        usage = sampler.stop()
    return run, usage, time.process_time() - before - run.bookkeeping_cpu_s


def push_on_fresh_server(
    config: ServerConfig, spec: ScenarioSpec, log: Path, server_cpus: list[int] | None = None
) -> Scenario:
    """One open-loop scenario on a server started for it (and stopped after), sampled as
    ``compare`` samples it: from the first publish to the end of the drain, so connecting and
    closing subscribers are not in the server's CPU.

    Raises:
        ServerStartError: The server did not start.
    """
    server = ServerProcess(config, log)
    server.start()
    try:
        pin_server(server.pid, server_cpus)
        return push_on(server, spec)
    finally:
        server.stop()


def push_on(
    server: ServerProcess,
    spec: ScenarioSpec,
    progress: Callable[[float], None] | None = None,
) -> Scenario:
    """One open-loop scenario on a running ``server`` (``ramp`` steps share one), sampled from
    the first publish to the end of the drain."""
    sampler = sampler_for(server.pid, spec.interval_s)
    usage: list[TreeUsage] = []

    def publishing(started: bool) -> None:
        if started:
            sampler.start()
        elif sampler.running:
            usage.append(sampler.stop())

    try:
        run = run_uvloop(lambda: run_scenario(server.url, spec, progress, publishing))
        errors = list(run.errors)
        if server.exited():
            errors.append("the server process died during the scenario:\n" + server.log_tail(10))
    finally:
        if sampler.running:
            sampler.stop()
    return push_scenario(
        spec, run, usage[0] if usage else None, run.generator_cpu_s, run.generator_wall_s, errors
    )


def _setups(
    config: ServerConfig, connections: int, log: Path, server_cpus: list[int] | None
) -> tuple[CapacityRun, float]:
    """``connections`` connection setups on a server started for them: (the run, the server
    tree's CPU µs per connection answered)."""
    with ServerProcess(config, log) as server:
        pin_server(server.pid, server_cpus)
        path = config.health_path or "/"
        run, usage, _ = measure_capacity(
            server, lambda: handshake_run(server.url, connections, path)
        )
    return run, usage.cpu_s * 1e6 / max(run.messages, 1)


def tls_handshake(
    config: ServerConfig,
    tls: TlsFiles,
    connections: int,
    run_dir: Path,
    server_cpus: list[int] | None = None,
) -> TlsHandshake:
    """A connection's setup (connect, one ``GET``, close) over plain TCP and over TLS, each on
    a fresh server of ``config``: client-side times and the server's CPU per connection.

    Raises:
        ServerStartError: A server did not start.
    """
    reference = config.app == REFERENCE_APP
    label = f"-{config.flavor}" if reference else ""
    plain, plain_cpu_us = _setups(
        replace(config, ssl_keyfile=None, ssl_certfile=None),
        connections,
        run_dir / f"server-handshake{label}.log",
        server_cpus,
    )
    secure, tls_cpu_us = _setups(
        replace(config, ssl_keyfile=str(tls.keyfile), ssl_certfile=str(tls.certfile)),
        connections,
        run_dir / f"server-handshake@tls{label}.log",
        server_cpus,
    )
    plain_times, tls_times = LatencyHistogram(), LatencyHistogram()
    plain_times.record_all_ns(plain.round_trips_ns)
    tls_times.record_all_ns(secure.round_trips_ns)
    return TlsHandshake(
        flavor=config.flavor if reference else None,
        connections=max(1, min(plain.messages, secure.messages)),
        plain_connect_us_p50=plain_times.percentile_us(50),
        tls_connect_us_p50=tls_times.percentile_us(50),
        plain_connect_us_p99=plain_times.percentile_us(99),
        tls_connect_us_p99=tls_times.percentile_us(99),
        plain_server_cpu_us_per_connection=plain_cpu_us,
        tls_server_cpu_us_per_connection=tls_cpu_us,
        extra_server_cpu_us_per_connection=tls_cpu_us - plain_cpu_us,
    )
