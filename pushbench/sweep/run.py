"""``pushbench sweep``: measure every planned uvicorn configuration with the same workloads.

This module is the I/O edge (server processes, Redis, pinning, drivers, sampling); what to run
comes from :mod:`pushbench.sweep.matrix` and what it means from :mod:`pushbench.sweep.recommend`.
Per configuration, against one fresh server: closed-loop echo, room fan-out, closed-loop short
polling (all at saturation) and WebSocket push at a fixed open-loop rate, during which
``/metrics`` shows how the connections spread over the workers. ``results.json`` is rewritten
after every configuration, so Ctrl-C keeps everything measured.

With a user's app (``--app``, ``--profile``) each workload runs as its profile offers it,
counted in payload tokens (:mod:`pushbench.drivers.profiled_capacity`): echo on its echo
endpoint, fan-out and push on its ``ws`` and ``publish``, polls on its ``short_poll``. A workload
it does not offer is skipped with the reason (``config.skipped_workloads``, warnings); the app
has no ``/metrics`` of pushbench's, so the connections' spread over workers is not recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from pushbench.core.interval_log import write_interval_logs
from pushbench.core.kinds import WORKLOADS, Transport, Workload
from pushbench.core.schema import Scenario
from pushbench.core.server_config import REFERENCE_APP, ServerConfig
from pushbench.core.target_profile import BUILTIN_PROFILES, TargetProfile
from pushbench.drivers.capacity import echo_capacity, fanout_capacity, poll_capacity
from pushbench.drivers.profiled_capacity import (
    token_echo_capacity,
    token_fanout_capacity,
    token_poll_capacity,
)
from pushbench.drivers.scenario import ScenarioRun, ScenarioSpec, run_scenario
from pushbench.harness.client_auth import auth_headers
from pushbench.harness.client_deflate import offering
from pushbench.harness.client_tls import client_context, client_ssl
from pushbench.harness.environment import server_record
from pushbench.harness.launcher import ServerProcess, ServerStartError
from pushbench.harness.processes import cpu_plan, generator_affinity, pin_server, run_uvloop
from pushbench.harness.redis_local import redis_for_run
from pushbench.harness.resources import TreeSampler
from pushbench.harness.run_skeleton import RunOutcome, RunProgress, RunState, record_run, start_run
from pushbench.harness.throwaway_ca import TlsFiles, run_tls
from pushbench.sweep.matrix import Skipped, SweepConfig, SweepPlan
from pushbench.workloads import capacity_scenario, measure_capacity, push_scenario

__all__ = ["SweepSettings", "run_sweep", "scrape_connections", "skipped_workloads"]

_LABEL = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True, slots=True)
class SweepSettings:
    """The planned configurations and the fixed workload set they all run."""

    plan: SweepPlan
    matrix: dict[str, list[Any]]
    skipped: tuple[Skipped, ...] = ()
    """Invalid combinations left out of the matrix (the plan adds budget skips)."""
    broker_url: str | None = None
    """Redis for several workers; ``None``: 127.0.0.1:6379 if it answers, else one started."""
    p99_slo_ms: float = 50.0
    budget_s: float | None = None
    echo_connections: int = 50
    fanout_subscribers: int = 100
    pollers: int = 20
    push_rate_per_s: float = 500.0
    push_publishers: int = 2
    push_subscribers: int = 50
    payload_bytes: int = 64
    pin: bool = True
    #: The app under test, in uvicorn's form, and how to drive it (``--app``, ``--profile``).
    app: str = REFERENCE_APP
    app_dir: str | None = None
    factory: bool = False
    profile: TargetProfile = BUILTIN_PROFILES["reference"]
    #: ``--tls``: every configuration over TLS, with a throwaway CA made for the run.
    tls: bool = False

    @property
    def own_app(self) -> bool:
        """A user's app rather than the reference server."""
        return self.app != REFERENCE_APP or not self.profile.reference


def skipped_workloads(profile: TargetProfile) -> dict[str, str]:
    """The workloads ``profile``'s app does not offer, each with the reason."""
    if profile.reference:
        return {}
    name, skipped = profile.name, {}
    if profile.echo is None:
        skipped[Workload.ECHO] = f"profile {name!r} offers no echo endpoint"
    if profile.ws is None:
        skipped[Workload.FANOUT] = f"profile {name!r} offers no ws endpoint to fan out to"
        skipped[Workload.PUSH] = f"profile {name!r} offers no ws endpoint to push to"
    if profile.short_poll is None:
        skipped[Workload.POLL] = f"profile {name!r} offers no short-poll endpoint"
    return {str(workload): reason for workload, reason in skipped.items()}


def run_sweep(
    settings: SweepSettings, out: Path, progress: RunProgress | None = None
) -> RunOutcome:
    """Run the plan: a step per configuration, a phase per workload (one of :data:`WORKLOADS`)."""
    progress = progress or RunProgress()
    server_cpus, generator_cpus = cpu_plan(settings.pin)
    plan = settings.plan
    timing = plan.timing
    config: dict[str, Any] = {
        "matrix": settings.matrix,
        "asgi_servers": [
            server_record(name) for name in dict.fromkeys(c.server for c in plan.configs)
        ],
        "configurations": [c.label for c in plan.configs],
        "skipped": [
            {"label": s.label, "reason": s.reason} for s in (*settings.skipped, *plan.skipped)
        ],
        "workloads": list(WORKLOADS),
        "duration_s": round(timing.duration_s, 3),
        "warmup_s": round(timing.warmup_s, 3),
        "budget_s": settings.budget_s,
        "estimate_s": round(plan.estimate_s, 1),
        "plan_notes": list(plan.notes),
        "p99_slo_ms": settings.p99_slo_ms,
        "echo_connections": settings.echo_connections,
        "fanout_subscribers": settings.fanout_subscribers,
        "pollers": settings.pollers,
        "push_rate_per_s": settings.push_rate_per_s,
        "push_publishers": settings.push_publishers,
        "push_subscribers": settings.push_subscribers,
        "payload_bytes": settings.payload_bytes,
        "pinned": server_cpus is not None,
        "server_cpus": server_cpus,
        "generator_cpus": generator_cpus,
        "broker_url": None,
        "redis_started": False,
        "app": settings.app,
        "profile": settings.profile.name,
        "skipped_workloads": skipped_workloads(settings.profile),
        "tls": settings.tls,
    }
    not_offered = [
        f"{workload} not measured: {reason}"
        for workload, reason in skipped_workloads(settings.profile).items()
    ]
    state = start_run("sweep", config, out, warnings=[*plan.notes, *not_offered])

    def body() -> None:
        try:
            with contextlib.ExitStack() as stack:
                redis_url = None
                if any(c.broker == "redis" for c in plan.configs):
                    redis_url, started = stack.enter_context(
                        redis_for_run(settings.broker_url, state.run_dir / "redis")
                    )
                    config["broker_url"], config["redis_started"] = redis_url, started
                stack.enter_context(generator_affinity(generator_cpus))
                tls = stack.enter_context(run_tls(state.run_dir, settings.tls))
                _run_all(settings, server_cpus, redis_url, progress, state, tls)
        except RuntimeError as exc:  # RedisUnavailable: nothing with several workers can run
            state.errors.append(str(exc))

    return record_run(state, body)


def _run_all(
    settings: SweepSettings,
    server_cpus: list[int] | None,
    redis_url: str | None,
    progress: RunProgress,
    state: RunState,
    tls: TlsFiles | None = None,
) -> None:
    plan = settings.plan
    started = time.monotonic()
    remaining = plan.estimate_s
    for index, sweep_config in enumerate(plan.configs):
        estimate = plan.timing.config_s(sweep_config)
        elapsed = time.monotonic() - started
        if settings.budget_s is not None and elapsed + estimate > settings.budget_s * 1.1:
            # The plan fitted on estimates; slower start-ups than estimated eat the margin.
            reason = (
                f"budget: {elapsed:.0f} s of {settings.budget_s:g} s spent, needs ~{estimate:.0f} s"
            )
            state.config["skipped"].append({"label": sweep_config.label, "reason": reason})
            progress.step_skipped(sweep_config.label, reason)
            remaining -= estimate
            continue
        progress.step_started(index, len(plan.configs), sweep_config.label, remaining)
        remaining -= estimate
        # The user's app is ready at its first HTTP answer (it has no /healthz).
        own: dict[str, Any] = (
            {"app": settings.app, "app_dir": settings.app_dir, "factory": settings.factory}
            if settings.own_app
            else {}
        )
        server_config = ServerConfig(
            server=sweep_config.server,
            workers=sweep_config.workers,
            loop=sweep_config.loop,
            ws_impl=sweep_config.ws_impl,
            http_impl=sweep_config.http_impl,
            broker=redis_url if sweep_config.broker == "redis" and redis_url else "memory",
            flavor=sweep_config.flavor,
            # A fresh key space per configuration: no room history left over from the last.
            settings={"redis_prefix": f"pbsweep-{state.document.run_id}-{index}:"},
            health_path=None if settings.own_app else "/healthz",
            ssl_keyfile=None if tls is None else str(tls.keyfile),
            ssl_certfile=None if tls is None else str(tls.certfile),
            ws_per_message_deflate=sweep_config.deflate,
            **own,
        )
        log = state.run_dir / f"server-{index:02d}-{sweep_config.label.replace(' ', '-')}.log"
        scenarios: list[Scenario] = []
        errors: list[str] = []
        try:
            # The clients negotiate permessage-deflate exactly when this server offers it.
            with offering(sweep_config.deflate), ServerProcess(server_config, log) as server:
                pin_server(server.pid, server_cpus)
                if not settings.own_app:  # a user's app has no /metrics of pushbench's
                    _wait_workers(server, sweep_config.workers)
                stop = _measure_config(settings, sweep_config, server, progress, scenarios)
                if server.exited():
                    errors.append(f"{sweep_config.label}: the server died:\n{server.log_tail(10)}")
        except ServerStartError as exc:
            errors.append(f"{sweep_config.label}: {exc}")
            stop = False
        finally:
            if tls is not None:  # the params say so: the gate and reports tell them apart
                scenarios = [
                    s.model_copy(update={"params": {**s.params, "tls": True}}) for s in scenarios
                ]
            state.scenarios += scenarios
            state.errors += errors
            write_interval_logs(scenarios, state.run_dir)
            state.save()
        progress.step_finished(sweep_config.label, scenarios, errors)
        if stop:
            state.interrupted = True
            return


def _wait_workers(server: ServerProcess, workers: int, timeout_s: float = 20.0) -> None:
    """Return once every worker reports its broker (or after ``timeout_s``): ``/healthz``
    answers as soon as one worker is up, and connections made before the others are would all
    land on it."""
    if workers == 1:
        return
    deadline = time.monotonic() + timeout_s
    delay = 0.02
    while time.monotonic() < deadline:
        scrape = urllib.request.Request(server.url + "/metrics", headers=auth_headers())
        tls = client_ssl(server.url)
        with contextlib.suppress(OSError), urllib.request.urlopen(scrape, context=tls) as r:
            text = r.read().decode()
            pids = {
                dict(_LABEL.findall(line)).get("pid")
                for line in text.splitlines()
                if line.startswith("pushbench_broker_healthy{")
            }
            if len(pids - {None}) >= workers:
                return
        # Readiness probe back-off: the metric is the condition, the sleep only paces it.
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


Capacity = tuple[Workload, Transport, dict[str, Any], Callable[[], Any]]


def _capacity_workloads(
    settings: SweepSettings, server: ServerProcess, duration: float, warmup: float
) -> list[Capacity]:
    """The capacity workloads to run: the reference server's frame-counting clients, or the
    token-counting ones for the workloads a user's profile offers."""
    payload, profile = settings.payload_bytes, settings.profile
    echo = {"connections": settings.echo_connections}
    fanout = {"subscribers": settings.fanout_subscribers}
    polls = {"pollers": settings.pollers}
    if profile.reference:
        return [
            (
                Workload.ECHO,
                Transport.ECHO,
                echo,
                lambda: echo_capacity(
                    server.ws_url, settings.echo_connections, payload, duration, warmup
                ),
            ),
            (
                Workload.FANOUT,
                Transport.WS,
                fanout,
                lambda: fanout_capacity(
                    server.ws_url, settings.fanout_subscribers, payload, duration, warmup
                ),
            ),
            (
                Workload.POLL,
                Transport.SHORT_POLL,
                polls,
                lambda: poll_capacity(server.url, settings.pollers, duration, warmup),
            ),
        ]
    chosen: list[Capacity] = []
    if (echo_spec := profile.echo) is not None:
        chosen.append(
            (
                Workload.ECHO,
                Transport.ECHO,
                echo,
                lambda: token_echo_capacity(
                    server.ws_url,
                    echo_spec.path,
                    echo_spec.frame,
                    settings.echo_connections,
                    payload,
                    duration,
                    warmup,
                ),
            )
        )
    if (ws := profile.ws) is not None and (publish := profile.publish) is not None:
        chosen.append(
            (
                Workload.FANOUT,
                Transport.WS,
                fanout,
                lambda: token_fanout_capacity(
                    server.ws_url,
                    ws.path,
                    publish,
                    settings.fanout_subscribers,
                    payload,
                    duration,
                    warmup,
                ),
            )
        )
    if (poll := profile.short_poll) is not None:
        chosen.append(
            (
                Workload.POLL,
                Transport.SHORT_POLL,
                polls,
                lambda: token_poll_capacity(server.url, poll, settings.pollers, duration, warmup),
            )
        )
    return chosen


def _measure_config(
    settings: SweepSettings,
    config: SweepConfig,
    server: ServerProcess,
    progress: RunProgress,
    scenarios: list[Scenario],
) -> bool:
    """Run every workload the app offers; scenarios are appended as they finish. True when
    interrupted."""
    timing = settings.plan.timing
    duration, warmup, payload = timing.duration_s, timing.warmup_s, settings.payload_bytes
    base = {
        **config.params(),
        "duration_s": round(duration, 3),
        "warmup_s": round(warmup, 3),
        "payload_bytes": payload,
    }
    if settings.own_app:
        base["profile"] = settings.profile.name
    for workload, transport, extra, factory in _capacity_workloads(
        settings, server, duration, warmup
    ):
        progress.phase_started(workload)
        run, usage, generator_s = measure_capacity(server, factory)
        params = {**base, "workload": workload, **extra}
        name = f"{workload}/{config.slug}"
        # Every request sent in the window: answered 2xx (``messages``) or lost.
        requests = run.messages + run.lost if workload == Workload.POLL else None
        scenarios.append(
            capacity_scenario(name, transport, params, run, usage, generator_s, requests)
        )
        if server.exited():
            return False
    if Workload.PUSH in skipped_workloads(settings.profile):
        return False
    progress.phase_started(Workload.PUSH)
    spec = ScenarioSpec(
        Transport.WS,
        rate_per_s=settings.push_rate_per_s,
        publishers=settings.push_publishers,
        subscribers=settings.push_subscribers,
        payload_bytes=payload,
        duration_s=duration,
        warmup_s=warmup,
        profile=settings.profile if settings.own_app else None,
    )
    sampler = TreeSampler(server.pid)
    sampler.start()
    try:
        push_run, spread = run_uvloop(
            lambda: _push_with_spread(server.url, spec, scrape=not settings.own_app)
        )
    finally:
        usage = sampler.stop()
    scenario = push_scenario(
        spec,
        push_run,
        usage,
        push_run.generator_cpu_s,
        push_run.generator_wall_s,
        list(push_run.errors),
    )
    params = {**scenario.params, **base, "workload": Workload.PUSH}
    if not settings.own_app:
        counts = sorted(spread.values(), reverse=True)
        params["connections_per_worker"] = counts + [0] * (config.workers - len(counts))
    scenarios.append(scenario.model_copy(update={"name": f"push/{config.slug}", "params": params}))
    return push_run.interrupted


async def _push_with_spread(
    base_url: str, spec: ScenarioSpec, scrape: bool = True
) -> tuple[ScenarioRun, Counter[str]]:
    """The push scenario, with ``/metrics`` scraped while it runs: the busiest scrape wins
    (``scrape=False``: a user's app, which has no such metrics)."""
    task = asyncio.create_task(run_scenario(base_url, spec))
    best: Counter[str] = Counter()
    if not scrape:
        return await task, best
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_context())) as http:
        while not task.done():
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                spread = await scrape_connections(http, base_url)
                if sum(spread.values()) > sum(best.values()):
                    best = spread
            # Sampling cadence of the scrape, not a synchronisation: the task is awaited below.
            await asyncio.wait({task}, timeout=0.5)
    return await task, best


async def scrape_connections(http: aiohttp.ClientSession, base_url: str) -> Counter[str]:
    """Open connections per worker pid, from ``pushbench_connections_open{pid,transport}``."""
    async with http.get(
        f"{base_url}/metrics", timeout=aiohttp.ClientTimeout(total=2), headers=auth_headers()
    ) as r:
        text = await r.text()
    per_pid: Counter[str] = Counter()
    for line in text.splitlines():
        if not line.startswith("pushbench_connections_open{"):
            continue
        labels, _, value = line.rpartition("}")
        pid = dict(_LABEL.findall(labels)).get("pid", "?")
        per_pid[pid] += round(float(value))
    return per_pid
