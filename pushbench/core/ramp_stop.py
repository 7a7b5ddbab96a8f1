"""When a ramp stops, and what it says it found: pure, from the steps' measured scenarios.

Here, in the core, because two commands read it: ``pushbench ramp`` decides its stops and
headlines with it, ``pushbench plan --from-ramp`` takes the steps a ramp held as its inputs.

A ramp steps the load up on one server until a step breaks a condition. The conditions are
checked in an order that keeps the blame right: a saturated *generator* first (then the latencies
are the harness's own, and the limit found is not the server's), then anything that makes the
step's figures incomplete (errors, failed publishes), loss, the latency SLO, and a saturated
server last (a server at 100 % CPU that still meets the SLO has reached its ceiling: the ramp
stops, the step counts as held).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from pushbench.core.completeness import scenario_reasons
from pushbench.core.schema import GeneratorCost, ResultsDocument, Scenario
from pushbench.core.thresholds import SATURATED_CPU_PERCENT, SATURATED_LAG_NS

__all__ = [
    "Held",
    "Stop",
    "StopReason",
    "held_by_transport",
    "held_line",
    "held_load",
    "load_text",
    "ramp_steps",
    "stop_reason",
]


class StopReason(StrEnum):
    """Why a ramp ended (``ramp_stop`` in the transport's last step's params)."""

    GENERATOR = "generator-saturated"
    INCOMPLETE = "incomplete"
    LOSS = "loss"
    SLO = "slo"
    SERVER = "server-saturated"
    MAX_STEPS = "max-steps"


@dataclass(frozen=True, slots=True)
class Stop:
    """The condition a step broke, and the one line that says so."""

    reason: StopReason
    text: str

    @property
    def step_held(self) -> bool:
        """Whether the breaking step still counts as held: a server at its CPU ceiling that
        met the SLO, or the last step allowed."""
        return self.reason in (StopReason.SERVER, StopReason.MAX_STEPS)


def stop_reason(scenario: Scenario, slo_p99_ms: float) -> Stop | None:
    """The condition ``scenario`` (one step) breaks, or None: the ramp goes on."""
    generator = scenario.generator
    if generator is not None and generator.saturated:
        return Stop(
            StopReason.GENERATOR,
            f"the load generator saturated ({_generator_evidence(scenario, generator)}): the "
            "generator, not the server, was the limit (from here the latencies are the "
            "harness's own)",
        )
    reasons = scenario_reasons(scenario)
    if reasons:
        return Stop(StopReason.INCOMPLETE, f"the step did not complete: {reasons[0]}")
    if scenario.lost:
        return Stop(StopReason.LOSS, f"{scenario.lost:,} of {scenario.sent:,} deliveries lost")
    p99_ms = scenario.latency_us.p99 / 1000
    if p99_ms > slo_p99_ms:
        return Stop(StopReason.SLO, f"p99 {p99_ms:.3g} ms over the SLO of {slo_p99_ms:g} ms")
    server = scenario.server
    if server is not None and server.saturated:
        busiest = server.busiest_process_cpu_percent or 0.0
        return Stop(
            StopReason.SERVER,
            f"the server saturated (busiest process {busiest:.0f}% CPU) while meeting the SLO",
        )
    return None


def _generator_evidence(scenario: Scenario, generator: GeneratorCost) -> str:
    """What the harness measured about itself that makes it the limit (the checks of
    :func:`pushbench.workloads.push_scenario`), then the server's busiest process beside it."""
    params = scenario.params
    loop_lag_ms, publish_lag_ms = (
        params.get(name) for name in ("generator_max_loop_lag_ms", "publisher_max_schedule_lag_ms")
    )
    lag_ms = SATURATED_LAG_NS / 1e6
    found = []
    if generator.cpu_percent >= SATURATED_CPU_PERCENT:
        found.append(f"{generator.cpu_percent:.0f}% CPU")
    if isinstance(loop_lag_ms, int | float) and loop_lag_ms > lag_ms:
        found.append(f"its event loop up to {loop_lag_ms:.0f} ms late")
    if isinstance(publish_lag_ms, int | float) and publish_lag_ms > lag_ms:
        found.append(f"publishing up to {publish_lag_ms:.0f} ms behind its schedule")
    if not found:  # recorded before the lags were: the flag alone
        found.append(f"{generator.cpu_percent:.0f}% CPU or its event loop lagging")
    busiest = scenario.server.busiest_process_cpu_percent if scenario.server else None
    if busiest is not None:
        found.append(f"the server's busiest process at {busiest:.0f}% CPU")
    return ", ".join(found)


@dataclass(frozen=True, slots=True)
class Held:
    """What one transport's ramp found: the highest step held, and why the ramp ended."""

    transport: str
    held: Scenario | None
    stop: Stop


def held_load(steps: Sequence[Scenario], stop: Stop) -> Scenario | None:
    """The last step that held: the breaking step itself when it still counts
    (:attr:`Stop.step_held`), else the one before it (None: not even the first)."""
    if not steps:
        return None
    if stop.step_held:
        return steps[-1]
    return steps[-2] if len(steps) > 1 else None


def ramp_steps(document: ResultsDocument) -> dict[str, list[Scenario]]:
    """A ramp document's steps per transport, in the order they ran."""
    steps: dict[str, list[Scenario]] = defaultdict(list)
    for scenario in document.scenarios:
        steps[str(scenario.transport)].append(scenario)
    return steps


def held_by_transport(document: ResultsDocument) -> list[Held]:
    """Per transport: the highest step held and the stop (from the last step's params; a ramp
    cut short, by Ctrl-C, has none: then the last step counts and the stop says so)."""
    found = []
    for transport, steps in ramp_steps(document).items():
        last = steps[-1].params
        text, reason = last.get("ramp_stop"), last.get("ramp_stop_reason")
        if isinstance(text, str) and isinstance(reason, str):
            stop = Stop(StopReason(reason), text)
        else:
            stop = Stop(StopReason.MAX_STEPS, "the ramp was cut short before a step broke")
        found.append(Held(transport, held_load(steps, stop), stop))
    return found


def load_text(scenario: Scenario, document: ResultsDocument) -> str:
    """A step's load in words: ``200 subscribers at 200 msgs/s`` (or ``400 msgs/s to 50
    subscribers`` on a rate ramp)."""
    axis = document.config.get("axis", "subscribers")
    load = scenario.params.get("ramp_load", 0)
    if axis == "rate":
        subscribers = scenario.params.get("subscribers")
        return f"{load:g} msgs/s to {subscribers} subscribers"
    rate = scenario.params.get("rate_per_s")
    return f"{load:g} subscribers at {rate:g} msgs/s"


def held_line(held: Held, document: ResultsDocument) -> str:
    """``ws held 200 subscribers at 200 msgs/s with p99 9.7 ms (SLO 50 ms); stopped: ...``."""
    slo = document.config.get("slo_p99_ms")
    if held.held is None:
        return f"{held.transport} held no step: {held.stop.text}"
    p99 = held.held.latency_us.p99 / 1000
    return (
        f"{held.transport} held {load_text(held.held, document)} with p99 {p99:.3g} ms "
        f"(SLO {slo:g} ms); stopped: {held.stop.text}"
    )
