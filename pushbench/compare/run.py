"""``pushbench compare``: every transport against the same message stream, one scenario each.

This module is the I/O edge: it launches the server, pins processes to CPUs, runs the asyncio
drivers and samples resources. The numbers it produces go into the pure results schema.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pushbench.core.framework_tax import framework_tax
from pushbench.core.interval_log import write_interval_logs
from pushbench.core.intervals import DEFAULT_INTERVAL_S
from pushbench.core.kinds import PUSH_TRANSPORTS, Transport
from pushbench.core.payload_kind import DEFAULT_PAYLOAD_KIND
from pushbench.core.scenario_flavor import flavored_name
from pushbench.core.schema import Scenario, TlsHandshake
from pushbench.core.server_config import FLAVORS, ServerConfig
from pushbench.core.target_adapter import TargetAdapter
from pushbench.core.target_profile import BUILTIN_PROFILES
from pushbench.core.tls_cost import tls_cost, tls_name
from pushbench.drivers.floor import measure_floor
from pushbench.drivers.scenario import ScenarioSpec, run_scenario
from pushbench.harness.client_deflate import offering
from pushbench.harness.environment import server_record
from pushbench.harness.launcher import ServerProcess, ServerStartError, loop_in_use
from pushbench.harness.processes import cpu_plan, generator_affinity, pin_server, run_uvloop
from pushbench.harness.resources import TreeSampler, TreeUsage
from pushbench.harness.run_skeleton import RunOutcome, RunProgress, RunState, record_run, start_run
from pushbench.harness.throwaway_ca import TlsFiles, run_tls
from pushbench.workloads import push_scenario, sampler_for, tls_handshake

__all__ = ["CompareConfig", "PlannedScenario", "run_compare"]


@dataclass(frozen=True, slots=True)
class CompareConfig:
    """A whole comparison: the scenarios to run and where the server comes from."""

    transports: tuple[Transport, ...] = PUSH_TRANSPORTS
    poll_intervals_s: tuple[float, ...] = (0.1, 1.0)
    rate_per_s: float = 200.0
    publishers: int = 2
    subscribers: int = 50
    payload_bytes: int = 64
    #: What the payloads hold (``--payload``): compressible ``text`` or ``random``.
    payload_kind: str = DEFAULT_PAYLOAD_KIND
    duration_s: float = 15.0
    warmup_s: float = 3.0
    target: str | None = None
    server: ServerConfig = field(default_factory=ServerConfig)
    #: Pin server and generator to different CPUs when the machine has two or more.
    pin: bool = True
    #: Flavors of the reference server to measure every scenario under; ``()``: the server's
    #: flavor is not known (a ``--target`` nobody said the flavor of).
    flavors: tuple[str, ...] = FLAVORS
    #: How to drive the app (``--profile``): the reference server's envelope by default.
    profile: TargetAdapter = BUILTIN_PROFILES["reference"]
    #: Per ws scenario, subscribers that connect and never read (``--stalled-subscribers``).
    stalled_subscribers: int = 0
    #: Width of the intervals each scenario's window is cut into (``--interval``).
    interval_s: float = DEFAULT_INTERVAL_S
    #: ``--tls``: every scenario twice, over plain TCP and over TLS (a throwaway CA made for the
    #: run), side by side, and a connection's setup over each (``tls_handshake``).
    tls: bool = False
    #: ``--tls``: connections opened per flavor over each of plain TCP and TLS, to price the
    #: handshake.
    handshake_connections: int = 300

    def skipped(self) -> dict[str, str]:
        """The transports asked for that the app does not offer, each with the reason: they
        are not run, and the document says why (never faked with another transport)."""
        return self.profile.skipped(self.transports) if not self.profile.reference else {}

    def planned(self) -> list[PlannedScenario]:
        """Every scenario under every flavor, flavors side by side per scenario: machine load
        that drifts over the run then weighs on both flavors of a transport alike."""
        flavors: tuple[str | None, ...] = self.flavors or (None,)
        # The server's own TLS (--ssl-keyfile/--ssl-certfile): every scenario over it.
        ways: tuple[bool | None, ...] = (
            (False, True) if self.tls else (True,) if self.server.tls else (None,)
        )
        return [
            PlannedScenario(spec, f, tls) for spec in self.specs() for tls in ways for f in flavors
        ]

    def specs(self) -> list[ScenarioSpec]:
        """One scenario per transport, short-poll once per interval."""
        base = ScenarioSpec(
            Transport.WS,
            rate_per_s=self.rate_per_s,
            publishers=self.publishers,
            subscribers=self.subscribers,
            payload_bytes=self.payload_bytes,
            duration_s=self.duration_s,
            warmup_s=self.warmup_s,
            interval_s=self.interval_s,
            payload_kind=self.payload_kind,
            # A --target's own setting is not known: its clients offer as the flag says.
            ws_per_message_deflate=self.server.ws_per_message_deflate,
        )
        profile = None if self.profile.reference else self.profile
        specs = []
        skipped = self.skipped()
        for transport in self.transports:
            if transport in skipped:
                continue
            if transport == Transport.SHORT_POLL:
                specs += [
                    replace(base, transport=transport, poll_interval_s=interval, profile=profile)
                    for interval in self.poll_intervals_s
                ]
            else:
                stalled = self.stalled_subscribers if transport == Transport.WS else 0
                specs.append(
                    replace(base, transport=transport, profile=profile, stalled_subscribers=stalled)
                )
        return specs

    def as_dict(self) -> dict[str, Any]:
        """The configuration as the results document records it."""
        server = self.server
        return {
            "transports": list(self.transports),
            "poll_intervals_s": list(self.poll_intervals_s),
            "rate_per_s": self.rate_per_s,
            "publishers": self.publishers,
            "subscribers": self.subscribers,
            "payload_bytes": self.payload_bytes,
            "payload_kind": self.payload_kind,
            "ws_per_message_deflate": self.server.ws_per_message_deflate,
            "duration_s": self.duration_s,
            "warmup_s": self.warmup_s,
            "target": self.target,
            "flavors": list(self.flavors),
            "app": None if self.target else server.app,
            "profile": self.profile.name,
            "stalled_subscribers": self.stalled_subscribers,
            "skipped": self.skipped(),
            "asgi_server": None if self.target else server_record(server.server),
            "server": None
            if self.target
            else {
                "server": server.server,
                "workers": server.workers,
                "loop": loop_in_use(server),  # the loop run, auto resolved
                "ws_impl": server.ws_impl,
                "http_impl": server.http_impl,
                "broker": server.broker,
            },
            "pinned": self.pin,
            "tls": self.tls or (self.target is None and self.server.tls),
        }


@dataclass(frozen=True, slots=True)
class PlannedScenario:
    """One scenario of the run: what to load, and under which flavor of the server."""

    spec: ScenarioSpec
    flavor: str | None
    #: Over TLS (True), plain TCP (False) in a run that measures TLS; None: not recorded.
    tls: bool | None = None

    @property
    def name(self) -> str:
        """``ws@asgi``, ``short-poll@0.1@fastapi``, ``ws@tls@asgi`` in a ``--tls`` run; ``ws``
        when the flavor is not known."""
        name = tls_name(self.spec.name) if self.tls else self.spec.name
        return name if self.flavor is None else flavored_name(name, self.flavor)


def _derived(handshakes: list[TlsHandshake]) -> Callable[[list[Scenario]], dict[str, Any]]:
    def derived(scenarios: list[Scenario]) -> dict[str, Any]:
        return {
            "framework_tax": framework_tax(scenarios),
            "tls_cost": tls_cost(scenarios),
            "tls_handshake": list(handshakes),
        }

    return derived


def run_compare(
    config: CompareConfig, out: Path, progress: RunProgress | None = None
) -> RunOutcome:
    """Run every scenario (a step each), writing ``results.json`` after each (atomically)."""
    progress = progress or RunProgress()
    server_cpus, generator_cpus = cpu_plan(config.pin and config.target is None)
    skipped = config.skipped()
    handshakes: list[TlsHandshake] = []
    state = start_run(
        "compare",
        config.as_dict(),
        out,
        warnings=[f"{name} not measured: {reason}" for name, reason in skipped.items()],
        derived=_derived(handshakes),
    )
    for name, reason in skipped.items():
        progress.step_skipped(name, reason)

    def body() -> None:
        # The clients negotiate permessage-deflate exactly when the server offers it.
        with generator_affinity(generator_cpus), offering(config.server.ws_per_message_deflate):
            # The harness's own floor, measured where the load will come from (drivers.floor).
            state.config["harness_floor"] = run_uvloop(measure_floor).as_dict()
            with run_tls(state.run_dir, config.tls) as files:
                _run_all(config, files, server_cpus, progress, state, handshakes)

    return record_run(state, body)


def _run_all(
    config: CompareConfig,
    tls: TlsFiles | None,
    server_cpus: list[int] | None,
    progress: RunProgress,
    state: RunState,
    handshakes: list[TlsHandshake],
) -> None:
    planned = config.planned()
    flavors: tuple[str | None, ...] = (config.flavors or (None,)) if tls is not None else ()
    total = len(planned) + len(flavors)
    for index, flavor in enumerate(flavors):
        assert tls is not None
        label = "handshake" + (f"@{flavor}" if flavor else "")
        progress.step_started(index, total, label)
        server = replace(config.server, flavor=flavor or config.server.flavor)
        try:
            handshakes.append(
                tls_handshake(server, tls, config.handshake_connections, state.run_dir, server_cpus)
            )
        except ServerStartError as exc:
            state.errors.append(f"{label}: {exc}")
        progress.step_finished(label, [], state.errors[-1:] if not handshakes else [])
        state.save()
    for index, item in enumerate(planned, start=len(flavors)):
        progress.step_started(index, total, item.name)
        try:
            scenario, stop = _one_scenario(config, item, tls, state.run_dir, server_cpus, progress)
        except ServerStartError as exc:
            state.errors.append(f"{item.name}: {exc}")
            progress.step_finished(item.name, [], state.errors[-1:])
            continue
        state.scenarios.append(scenario)
        progress.step_finished(item.name, [scenario], [])
        state.save()
        if stop:
            state.interrupted = True
            return


def _one_scenario(
    config: CompareConfig,
    item: PlannedScenario,
    tls: TlsFiles | None,
    run_dir: Path,
    server_cpus: list[int] | None,
    progress: RunProgress,
) -> tuple[Scenario, bool]:
    """Run one scenario on a fresh server (or the target); (result, interrupted)."""
    server: ServerProcess | None = None
    sampler: TreeSampler | None = None
    base = config.target
    spec = item.spec
    try:
        if base is None:
            # A fresh server per scenario: no connections or history left over from the last one.
            server_config = replace(config.server, flavor=item.flavor or config.server.flavor)
            if item.tls and tls is not None:
                server_config = replace(
                    server_config, ssl_keyfile=str(tls.keyfile), ssl_certfile=str(tls.certfile)
                )
            server = ServerProcess(server_config, run_dir / f"server-{item.name}.log")
            server.start()
            base = server.url
            pin_server(server.pid, server_cpus)
            sampler = sampler_for(server.pid, spec.interval_s)
        # The server is sampled over the publishing phase only, as the generator measures itself:
        # subscribers connecting before it and closing after it are not the transport's cost.
        phase = _SampledPhase(sampler)
        run = run_uvloop(lambda: run_scenario(base, spec, progress.step_progress, phase.publishing))
        # The generator's share of its CPU while publishing: the phase whose numbers matter.
        generator_cpu = run.generator_cpu_s
        wall = run.generator_wall_s
        usage = phase.usage
        sampler = None
        errors = list(run.errors)
        if server is not None and server.exited():
            errors.append("the server process died during the scenario:\n" + server.log_tail(10))
        scenario = _flavored(push_scenario(spec, run, usage, generator_cpu, wall, errors), item)
        write_interval_logs([scenario], run_dir)
        return scenario, run.interrupted
    finally:
        if sampler is not None and sampler.running:
            sampler.stop()
        if server is not None:
            server.stop()


def _flavored(scenario: Scenario, item: PlannedScenario) -> Scenario:
    if item.flavor is None and item.tls is None:
        return scenario
    params = dict(scenario.params)
    if item.flavor is not None:
        params["flavor"] = item.flavor
    if item.tls is not None:
        params["tls"] = item.tls
    return scenario.model_copy(update={"name": item.name, "params": params})


class _SampledPhase:
    """Starts the server's sampler when publishing starts and stops it once drained."""

    def __init__(self, sampler: TreeSampler | None) -> None:
        self._sampler = sampler
        self.usage: TreeUsage | None = None

    def publishing(self, started: bool) -> None:
        if self._sampler is None:
            return
        if started:
            self._sampler.start()
        elif self._sampler.running:
            self.usage = self._sampler.stop()
