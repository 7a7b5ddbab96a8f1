"""Workloads several commands run: an open-loop push scenario and a closed-loop capacity
measurement, turned into results-schema scenarios the same way wherever they run.

``compare`` runs push scenarios, ``serverbench`` capacity ones, ``sweep`` both; each command keeps
its own plan and report, and none imports another (``make lint`` checks it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from pushbench.core.histogram import LatencyHistogram
from pushbench.core.kinds import Transport
from pushbench.core.schema import GeneratorCost, Scenario, latency_summary
from pushbench.core.server_config import ServerConfig
from pushbench.core.thresholds import SATURATED_CPU_PERCENT, SATURATED_LAG_NS
from pushbench.drivers.capacity import CapacityRun
from pushbench.drivers.scenario import ScenarioRun, ScenarioSpec, run_scenario
from pushbench.harness.launcher import ServerProcess
from pushbench.harness.processes import pin_server, run_uvloop
from pushbench.harness.resources import TreeSampler, TreeUsage
from pushbench.harness.server_cost import server_cost

__all__ = ["capacity_scenario", "measure_capacity", "push_on_fresh_server", "push_scenario"]


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
    )


def capacity_scenario(
    name: str,
    transport: Transport,
    params: dict[str, Any],
    run: CapacityRun,
    usage: TreeUsage,
    generator_cpu_s: float,
    http_requests: int | None = None,
) -> Scenario:
    """A capacity measurement (raw-client counts, echo round trips) as a results Scenario."""
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
    )


def measure_capacity(
    server: ServerProcess, factory: Callable[[], Coroutine[Any, Any, CapacityRun]]
) -> tuple[CapacityRun, TreeUsage, float]:
    """Run one capacity workload; (its run, the server tree's usage, this process's CPU s)."""
    sampler = TreeSampler(server.pid)
    before = time.process_time()  # CLOCK_PROCESS_CPUTIME_ID: ns, every thread of this process
    sampler.start()
    try:
        run: CapacityRun = run_uvloop(factory)
    finally:
        usage = sampler.stop()
    return run, usage, time.process_time() - before


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
    sampler = TreeSampler(server.pid)
    usage: list[TreeUsage] = []

    def publishing(started: bool) -> None:
        if started:
            sampler.start()
        elif sampler.running:
            usage.append(sampler.stop())

    try:
        pin_server(server.pid, server_cpus)
        run = run_uvloop(lambda: run_scenario(server.url, spec, None, publishing))
        errors = list(run.errors)
        if server.exited():
            errors.append("the server process died during the scenario:\n" + server.log_tail(10))
    finally:
        if sampler.running:
            sampler.stop()
        server.stop()
    return push_scenario(
        spec, run, usage[0] if usage else None, run.generator_cpu_s, run.generator_wall_s, errors
    )
