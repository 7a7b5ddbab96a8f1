"""``pushbench ramp``: per transport, step the load up on one fresh server until a step breaks.

Each transport gets its own server (fresh: nothing left over from another transport). On it the
ramp runs steps of ``step_duration_s`` measured seconds (after ``warmup_s``), each a whole
open-loop scenario with its own subscribers, the load growing by ``step`` on the chosen axis
(subscribers, or the publish rate), until a stop condition holds (:mod:`pushbench.core.ramp_stop`):
the generator saturated, the step incomplete, a loss, p99 over the SLO, the server saturated, or
``max_steps``. Every step is kept in the results, named ``<transport>@<load>`` (``ws@200``), with
``ramp_step``, ``ramp_axis`` and ``ramp_load`` in its params, and the stop in the last step's
``ramp_stop``/``ramp_stop_reason``. With ``tls`` (``--tls``) every server serves TLS with a
throwaway CA made for the run (written to the run's ``tls/``) that the clients trust, and every
step's params say ``tls: true``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pushbench.core.interval_log import write_interval_logs
from pushbench.core.kinds import Transport
from pushbench.core.payload_kind import DEFAULT_PAYLOAD_KIND, PAYLOAD_KINDS
from pushbench.core.ramp_stop import Stop, StopReason, stop_reason
from pushbench.core.schema import Scenario
from pushbench.core.server_config import ServerConfig
from pushbench.core.target_adapter import TargetAdapter
from pushbench.core.target_profile import BUILTIN_PROFILES
from pushbench.drivers.scenario import ScenarioSpec
from pushbench.harness.client_deflate import offering
from pushbench.harness.environment import server_record
from pushbench.harness.launcher import ServerProcess, ServerStartError, loop_in_use
from pushbench.harness.processes import cpu_plan, generator_affinity, pin_server
from pushbench.harness.run_skeleton import RunOutcome, RunProgress, RunState, record_run, start_run
from pushbench.harness.throwaway_ca import run_tls
from pushbench.workloads import push_on

__all__ = ["Axis", "RampConfig", "run_ramp"]

Axis = Literal["subscribers", "rate"]


@dataclass(frozen=True, slots=True)
class RampConfig:
    """A ramp: which transports, how the load grows, when it stops."""

    transports: tuple[Transport, ...] = (Transport.WS,)
    axis: Axis = "subscribers"
    #: The first step's load on the axis (subscribers, or msgs/s), and the increase per step.
    start: float = 50
    step: float = 50
    max_steps: int = 10
    step_duration_s: float = 5.0
    warmup_s: float = 1.0
    slo_p99_ms: float = 50.0
    #: The other axis's fixed value: msgs/s when ramping subscribers, subscribers when ramping rate.
    rate_per_s: float = 200.0
    subscribers: int = 50
    publishers: int = 2
    payload_bytes: int = 64
    #: What the payload holds (``--payload``: compressible text or random bytes as text).
    payload_kind: str = DEFAULT_PAYLOAD_KIND
    poll_interval_s: float = 1.0
    server: ServerConfig = field(default_factory=ServerConfig)
    profile: TargetAdapter = BUILTIN_PROFILES["reference"]
    pin: bool = True
    #: ``--tls``: every server over TLS with a throwaway CA made for the run, trusted by the
    #: clients (``server.ssl_*`` set by the run; ``params.tls`` true), as ``serverbench --tls``.
    tls: bool = False

    def __post_init__(self) -> None:
        if self.start <= 0 or self.step <= 0 or self.max_steps < 1:
            raise ValueError("start and step must be > 0, max_steps at least 1")
        if self.axis == "subscribers" and (self.start % 1 or self.step % 1):
            raise ValueError("a subscriber ramp starts and steps by whole subscribers")
        if self.slo_p99_ms <= 0 or self.step_duration_s <= 0:
            raise ValueError("the SLO and the step duration must be > 0")
        if self.payload_kind not in PAYLOAD_KINDS:
            raise ValueError(
                f"unknown --payload {self.payload_kind}; choose {' or '.join(PAYLOAD_KINDS)}"
            )

    def load(self, index: int) -> float:
        """The load of step ``index`` (0-based) on the axis."""
        return self.start + index * self.step

    def spec(self, transport: Transport, index: int) -> ScenarioSpec:
        """Step ``index`` of ``transport``'s ramp as a scenario."""
        load = self.load(index)
        by_subscribers = self.axis == "subscribers"
        return ScenarioSpec(
            transport,
            rate_per_s=self.rate_per_s if by_subscribers else load,
            publishers=self.publishers,
            subscribers=int(load) if by_subscribers else self.subscribers,
            payload_bytes=self.payload_bytes,
            payload_kind=self.payload_kind,
            ws_per_message_deflate=self.server.ws_per_message_deflate,
            duration_s=self.step_duration_s,
            warmup_s=self.warmup_s,
            poll_interval_s=self.poll_interval_s if transport == Transport.SHORT_POLL else None,
            profile=None if self.profile.reference else self.profile,
        )

    def as_dict(self) -> dict[str, Any]:
        """The configuration as the results document records it."""
        return {
            "transports": list(self.transports),
            "axis": self.axis,
            "start": self.start,
            "step": self.step,
            "max_steps": self.max_steps,
            "step_duration_s": self.step_duration_s,
            "warmup_s": self.warmup_s,
            "slo_p99_ms": self.slo_p99_ms,
            "rate_per_s": self.rate_per_s,
            "subscribers": self.subscribers,
            "publishers": self.publishers,
            "payload_bytes": self.payload_bytes,
            "payload_kind": self.payload_kind,
            "poll_interval_s": self.poll_interval_s,
            "app": self.server.app,
            "profile": self.profile.name,
            "asgi_server": server_record(self.server.server),
            "server": {
                "server": self.server.server,
                "workers": self.server.workers,
                "loop": loop_in_use(self.server),  # the loop run, auto resolved
                "ws_impl": self.server.ws_impl,
                "http_impl": self.server.http_impl,
                "broker": self.server.broker,
                "flavor": self.server.flavor if self.profile.reference else None,
            },
            "pinned": self.pin,
            "tls": self.tls or self.server.tls,
        }


def run_ramp(config: RampConfig, out: Path, progress: RunProgress | None = None) -> RunOutcome:
    """Ramp every transport in turn; ``results.json`` is rewritten after every step."""
    progress = progress or RunProgress()
    server_cpus, generator_cpus = cpu_plan(config.pin)
    skipped = config.profile.skipped(config.transports) if not config.profile.reference else {}
    state = start_run(
        "ramp",
        config.as_dict(),
        out,
        warnings=[f"{name} not ramped: {reason}" for name, reason in skipped.items()],
    )
    transports = [t for t in config.transports if t not in skipped]

    def body() -> None:
        with run_tls(state.run_dir, config.tls) as files:
            ramp_all(
                config if files is None else replace(config, server=files.serving(config.server))
            )

    def ramp_all(config: RampConfig) -> None:
        # The clients negotiate permessage-deflate exactly when the servers offer it.
        with generator_affinity(generator_cpus), offering(config.server.ws_per_message_deflate):
            for transport in transports:
                _ramp_one(config, transport, state, server_cpus, progress)

    return record_run(state, body)


def _ramp_one(
    config: RampConfig,
    transport: Transport,
    state: RunState,
    server_cpus: list[int] | None,
    progress: RunProgress,
) -> None:
    log = state.run_dir / f"server-{transport}.log"
    try:
        server = ServerProcess(config.server, log)
        server.start()
    except ServerStartError as exc:
        state.errors.append(f"{transport}: {exc}")
        progress.step_finished(str(transport), [], state.errors[-1:])
        return
    try:
        pin_server(server.pid, server_cpus)
        for index in range(config.max_steps):
            spec = config.spec(transport, index)
            name = f"{transport}@{config.load(index):g}"
            progress.step_started(index, config.max_steps, name)
            scenario = _named(push_on(server, spec, progress.step_progress), config, name, index)
            stop = stop_reason(scenario, config.slo_p99_ms)
            if stop is None and index == config.max_steps - 1:
                stop = Stop(
                    StopReason.MAX_STEPS,
                    f"every step held, up to the last of --max-steps {config.max_steps}",
                )
            if stop is not None:
                scenario = _stopped(scenario, stop)
            state.scenarios.append(scenario)
            write_interval_logs([scenario], state.run_dir)
            progress.step_finished(name, [scenario], [])
            state.save()
            if stop is not None:
                return
    finally:
        server.stop()


def _named(scenario: Scenario, config: RampConfig, name: str, index: int) -> Scenario:
    params = {
        **scenario.params,
        "ramp_step": index,
        "ramp_axis": config.axis,
        "ramp_load": config.load(index),
    }
    if config.profile.reference:
        params["flavor"] = config.server.flavor
    if config.server.tls:  # plain TCP says nothing, as before
        params["tls"] = True
    return scenario.model_copy(update={"name": name, "params": params})


def _stopped(scenario: Scenario, stop: Stop) -> Scenario:
    params = {**scenario.params, "ramp_stop": stop.text, "ramp_stop_reason": str(stop.reason)}
    return scenario.model_copy(update={"params": params})
