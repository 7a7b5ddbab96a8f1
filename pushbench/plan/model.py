"""``pushbench plan``: what N clients cost per transport, from costs measured by ``compare``.

The CPU and memory costs come from :mod:`pushbench.plan.fit` (costs fitted to measured
scenarios). The plan applies them to a steady state of N connected clients::

    cores   = idle × workers + c_conn × N + c_del × (deliveries/s + keep-alives/s)
            + c_req × requests/s + c_pub × publishes/s
    workers = ceil(cores / headroom)        memory = workers × base + N × bytes_per_conn

with these rates per second (r messages per client per second, fan-out F)::

    deliveries = N × r          publishes = deliveries / F
    short poll every T:  requests = N / T
    long poll, wait w:   requests = N / ((1 − e^(−r·w)) / r + rtt)    (≈ deliveries; ≥ N / w)
    keep-alives:         WebSocket N / 20 s (pings); SSE N · r · q / (1 − q), q = e^(−r · 15 s)

Every fitted term is in the cores, the idle server per worker included: the cores formula is
:meth:`~pushbench.plan.fit.CpuFit.cores`, the function the held-out runs check
(:func:`~pushbench.plan.fit.held_out`). A cost the runs could not separate from another widens
the figure to a range (low–high) and a note names the run that would separate it. Keep-alives
are assumed to cost what a delivery costs. Latency: WebSocket, SSE and long poll take the
measured percentiles of the scenario whose CPU utilisation is closest to the planned one per
worker; short poll uses the model p50 = T/2 + rtt, p99 = 0.99 T + rtt. Bytes on the wire are
estimates (:mod:`pushbench.core.wire_bytes`). Every figure carries the inputs it came from, and
every planned rate outside the measured range is noted with the factor. Pure: no I/O.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from pushbench.core.kinds import Transport
from pushbench.core.units import format_value
from pushbench.plan.figures import (
    LONG_POLL_WAIT_S,
    SSE_KEEPALIVE_S,
    WS_PING_INTERVAL_S,
    Figure,
    cpu_figure,
    format_number,
    latency_figures,
    memory_figure,
    requests_figure,
    term_rates,
    wire_figure,
)
from pushbench.plan.fit import (
    IDENTIFIED_BY,
    CpuFit,
    FormScore,
    HeldOut,
    MemoryFit,
    PlanError,
    Term,
    fit_memory,
    form_scores,
    span,
)
from pushbench.plan.inputs import PLANNED_TRANSPORTS, Inputs, Point

__all__ = [
    "ASSUMPTIONS",
    "LONG_POLL_WAIT_S",
    "SSE_KEEPALIVE_S",
    "WS_PING_INTERVAL_S",
    "CpuFit",
    "Figure",
    "HeldOut",
    "MemoryFit",
    "Plan",
    "PlanError",
    "PlanRequest",
    "Term",
    "TransportPlan",
    "make_plan",
]

#: A planned value outside the measured range by more than this factor is noted.
_BEYOND: Final = 1.1
#: What every plan assumes, in words.
ASSUMPTIONS: Final = (
    "Costs were measured on one uvicorn worker with the in-memory broker; several workers need a "
    "shared broker (Redis), whose cost per publish is not in this model.",
    "Clients stay connected: connection set-up, reconnects and TLS are not in the steady state "
    "(the measured runs sample the server from the first publish to the drain, connects "
    "excluded).",
    "The idle term is what one worker burns with nothing to do over a short measured run; "
    "each planned worker pays it.",
    f"Keep-alives (WebSocket pings every {WS_PING_INTERVAL_S:g} s, SSE comments after "
    f"{SSE_KEEPALIVE_S:g} s idle) are assumed to cost what a delivery costs; long polls wait "
    f"up to {LONG_POLL_WAIT_S:g} s.",
    "Bytes on the wire are estimated from the message formats, not captured.",
)


@dataclass(frozen=True, slots=True)
class PlanRequest:
    """What to plan for; ``payload_bytes`` and ``poll_intervals_s`` default to the measured."""

    clients: int
    msgs_per_client_per_s: float
    fanout: float = 1.0
    payload_bytes: int | None = None
    poll_intervals_s: tuple[float, ...] = ()
    cpu_headroom: float = 0.7

    def __post_init__(self) -> None:
        if self.clients < 1:
            raise PlanError(f"clients must be at least 1, not {self.clients}")
        if not self.msgs_per_client_per_s > 0 or math.isinf(self.msgs_per_client_per_s):
            raise PlanError("messages per client per second must be a number > 0")
        if not 1 <= self.fanout <= self.clients:
            raise PlanError(f"fan-out must be between 1 and the clients, not {self.fanout:g}")
        if self.payload_bytes is not None and self.payload_bytes < 0:
            raise PlanError("payload bytes must be ≥ 0")
        if any(not 0 < t < math.inf for t in self.poll_intervals_s):
            raise PlanError("poll intervals must be > 0")
        if not 0 < self.cpu_headroom <= 1:
            raise PlanError(f"CPU headroom must be in (0, 1], not {self.cpu_headroom:g}")


@dataclass(frozen=True, slots=True)
class TransportPlan:
    """The prediction for one transport (short poll: one per interval)."""

    name: str
    transport: Transport
    poll_interval_s: float | None
    rates: dict[str, float]
    """Per second, whole fleet: connections, deliveries, publishes, requests, keep-alives."""
    cpu_cores: Figure
    workers: Figure
    memory_bytes: Figure
    requests_per_s: Figure
    wire_bytes_per_s: Figure
    p50_us: Figure
    p99_us: Figure
    extrapolation: list[str]
    beyond: float
    """Largest factor by which a planned figure lies outside the measured range (1: none)."""
    notes: list[str]
    """What the fit could not separate, or did not know."""
    fit: CpuFit
    memory: MemoryFit
    validation: list[HeldOut] = field(default_factory=list)
    """Runs the fit did not use, predicted by the cores formula, with the error."""
    forms: list[FormScore] = field(default_factory=list)
    """Each model form's error on those runs; the chosen one's fit is :attr:`fit`."""

    @property
    def validation_missed(self) -> bool:
        """A held-out run was predicted more than 20 % off."""
        return any(row.missed for row in self.validation)


@dataclass(frozen=True, slots=True)
class Plan:
    """The whole plan: one :class:`TransportPlan` per transport, and what it assumed."""

    request: PlanRequest
    payload_bytes: int
    transports: list[TransportPlan]
    rtt_us: float
    rtt_source: str
    notes: list[str] = field(default_factory=list)
    flavor: str | None = None
    """The reference server flavor every input was measured under; None: not recorded."""
    ramp_runs: tuple[str, ...] = ()
    """Run ids of the ramps whose held steps are among the measured inputs."""

    def cores_at(self, name: str, clients: float) -> float:
        """Busy cores of transport ``name`` at another client count (every rate is ∝ N; the
        idle server per worker follows the workers)."""
        plan = next(t for t in self.transports if t.name == name)
        scale = clients / self.request.clients
        rates = {key: value * scale for key, value in plan.rates.items()}
        _, cores = _workers(plan.fit, rates, self.request.cpu_headroom)
        return cores


def _rtt(points: Sequence[Point]) -> tuple[float, str]:
    """A request's round trip in µs: short-poll latency beyond the wait for the next poll."""
    waits = [p.p50_us - p.poll_interval_s * 5e5 for p in points if p.poll_interval_s]
    if waits:
        return max(0.0, statistics.median(waits)), f"short-poll p50 − T/2, {len(waits)} scenarios"
    for transport in (Transport.LONG_POLL, Transport.WS, Transport.SSE):
        same = [p.p50_us for p in points if p.transport == transport]
        if same:
            return float(statistics.median(same)), f"{transport} p50 (no short poll measured)"
    return 1000.0, "assumed (nothing measured)"  # pragma: no cover - points are never empty


def _rates(
    transport: Transport, interval: float | None, request: PlanRequest, rtt_s: float
) -> dict[str, float]:
    n, r = float(request.clients), request.msgs_per_client_per_s
    requests = keepalives = 0.0
    if transport == Transport.SHORT_POLL and interval:
        requests = n / interval
    elif transport == Transport.LONG_POLL:
        requests = n / ((1 - math.exp(-r * LONG_POLL_WAIT_S)) / r + rtt_s)
    elif transport == Transport.WS:
        keepalives = n / WS_PING_INTERVAL_S
    elif transport == Transport.SSE:
        quiet = math.exp(-r * SSE_KEEPALIVE_S)  # chance of 15 s without a message
        keepalives = n * r * quiet / (1 - quiet)
    return {
        "connections": n,
        "deliveries": n * r,
        "publishes": n * r / request.fanout,
        "requests": requests,
        "keepalives": keepalives,
    }


def _beyond(
    label: str, planned: float, measured: Sequence[float], show: Callable[[float], str]
) -> tuple[float, str | None]:
    """(factor, note) when ``planned`` lies outside the measured range by more than 10 %."""
    low, high = min(measured), max(measured)
    if planned <= 0 or low <= 0:
        return 1.0, None  # nothing to scale from (e.g. an empty payload)
    if planned > high * _BEYOND:
        factor, side = planned / high, "above"
    elif planned * _BEYOND < low:
        factor, side = low / planned, "below"
    else:
        return 1.0, None
    shown = show(low) if low == high else f"{show(low)}–{show(high)}"
    return factor, (
        f"{label}: {show(planned)} planned, {shown} measured ({format_value(factor)}× {side})"
    )


def _percent(fraction: float) -> str:
    return f"{fraction:.0%}"


def _extrapolation(
    plan: _Planned, rates: dict[str, float], workers: int, utilisation: float
) -> tuple[float, list[str]]:
    points, request = plan.points, plan.request
    checks: list[tuple[str, float, list[float], Callable[[float], str]]] = [
        (
            "connections per worker",
            rates["connections"] / workers,
            [p.subscribers for p in points],
            format_number,
        ),
        (
            "deliveries/s per worker",
            rates["deliveries"] / workers,
            [p.deliveries_per_s for p in points],
            format_value,
        ),
        (
            "publishes/s per worker",
            rates["publishes"] / workers,
            [p.publishes_per_s for p in points],
            format_value,
        ),
        (
            "messages/s per client",
            request.msgs_per_client_per_s,
            [p.msgs_per_client_per_s for p in points],
            format_value,
        ),
        ("fan-out", request.fanout, [p.fanout for p in points], format_number),
        ("payload bytes", plan.payload, [p.payload_bytes for p in points], format_number),
    ]
    if rates["requests"]:
        checks.append(
            (
                "requests/s per worker",
                rates["requests"] / workers,
                [p.requests_per_s for p in points],
                format_value,
            )
        )
    if plan.interval:
        checks.append(
            (
                "poll interval s",
                plan.interval,
                [p.poll_interval_s or 0.0 for p in points],
                format_number,
            )
        )
    if plan.transport != Transport.SHORT_POLL:  # a measured latency holds at its own CPU load
        checks.append(
            (
                "server CPU per worker (latency)",
                utilisation,
                [p.utilisation for p in points],
                _percent,
            )
        )
    worst, notes = 1.0, []
    for label, planned, measured, show in checks:
        factor, note = _beyond(label, planned, measured, show)
        if note:
            worst = max(worst, factor)
            notes.append(note)
    return worst, notes


def _model_notes(fit: CpuFit, memory: MemoryFit, cpu: Figure) -> list[str]:
    notes = []
    if fit.proportional:
        notes.append(
            "one load level measured: proportional model (no idle term), so the idle server "
            "is spread over the per-event costs; add runs at other --rate/--subscribers"
        )
    ranged = cpu.low is not None and cpu.high is not None
    for term, why in fit.absent.items():
        if term is Term.IDLE and fit.proportional:
            continue
        note = f"cost per {term.value}: {why}"
        if term in fit.aliases:
            note += f"; {IDENTIFIED_BY[term]} would identify it"
            if ranged:
                note += (
                    f" (CPU cores given as the range {format_value(cpu.low or 0.0)}–"
                    f"{format_value(cpu.high or 0.0)})"
                )
        notes.append(note)
    if memory.bytes_per_connection is None:
        notes.append(f"memory: {memory.source}; add runs at other --subscribers")
    elif memory.bytes_per_connection == 0:
        notes.append(
            f"memory: no growth per connection measurable ({memory.source}): a lower bound"
        )
    return notes


@dataclass(frozen=True, slots=True)
class _Planned:
    """One transport (and poll interval) to plan, with its fits."""

    name: str
    transport: Transport
    interval: float | None
    points: Sequence[Point]
    fit: CpuFit
    memory: MemoryFit
    request: PlanRequest
    payload: int
    rtt_us: float
    validation: list[HeldOut]
    forms: list[FormScore]


def _workers(fit: CpuFit, rates: dict[str, float], headroom: float) -> tuple[int, float]:
    """(workers, busy cores): the fewest workers that keep each at ≤ ``headroom`` CPU, each
    paying the idle server's cost (when the idle server alone exceeds the headroom: one
    worker per core the load needs).

    Cores grow with the workers (the idle server each, and the falling form's per-worker
    term), so the count is iterated from one worker up to the first that carries its load.
    """
    idle = fit.cost(Term.IDLE)

    def needed(workers: int) -> tuple[int, float]:
        cores = fit.cores(term_rates(rates, float(workers)))
        variable = cores - idle * workers
        if idle < headroom:
            return max(1, math.ceil(variable / (headroom - idle) - 1e-9)), cores
        return max(1, math.ceil(variable + idle)), cores

    workers = 1
    for _ in range(64):
        wanted, cores = needed(workers)
        if wanted <= workers:
            return workers, cores
        workers = wanted
    return workers, fit.cores(term_rates(rates, float(workers)))  # pragma: no cover


def _plan_one(plan: _Planned) -> TransportPlan:
    request = plan.request
    rates = _rates(plan.transport, plan.interval, request, plan.rtt_us / 1e6)
    workers, _ = _workers(plan.fit, rates, request.cpu_headroom)
    cpu, bound = _connection_bound(
        plan, cpu_figure(plan.fit, term_rates(rates, float(workers))), rates
    )
    cores = cpu.value or 0.0
    utilisation = cores / workers
    p50, p99 = latency_figures(plan.transport, plan.interval, plan.points, utilisation, plan.rtt_us)
    beyond, extrapolation = _extrapolation(plan, rates, workers, utilisation)
    return TransportPlan(
        name=plan.name,
        transport=plan.transport,
        poll_interval_s=plan.interval,
        rates=rates,
        cpu_cores=cpu,
        workers=Figure(
            float(workers),
            "workers",
            f"÷ {request.cpu_headroom:g}",
            f"the fewest workers at ≤ {request.cpu_headroom:.0%} CPU each, each paying the idle "
            f"server: {format_value(cores)} cores over {workers} workers = "
            f"{utilisation:.0%} each (one core per uvicorn worker)"
            + _workers_range(cpu, request.cpu_headroom),
        ),
        memory_bytes=memory_figure(plan.memory, request.clients, workers),
        requests_per_s=requests_figure(plan.transport, plan.interval, rates),
        wire_bytes_per_s=wire_figure(plan.transport, plan.payload, rates),
        p50_us=p50,
        p99_us=p99,
        extrapolation=extrapolation,
        beyond=beyond,
        notes=_model_notes(plan.fit, plan.memory, cpu) + bound,
        fit=plan.fit,
        memory=plan.memory,
        validation=plan.validation,
        forms=plan.forms,
    )


def _connection_bound(
    plan: _Planned, cpu: Figure, rates: dict[str, float]
) -> tuple[Figure, list[str]]:
    """(figure, notes): the cost per connection as an upper bound when the plan's clients get
    far fewer messages than the measured ones did.

    The term is measured while every client receives messages (its column moves apart from
    deliveries only through fan-out and rooms); a client that receives one message every ten
    seconds is not shown to cost that much per second. The figure keeps the validated formula
    as its value and high end; the low end leaves the connection term out.
    """
    cost = plan.fit.cost(Term.CONNECTION)
    measured = [p.msgs_per_client_per_s for p in plan.points]
    planned = plan.request.msgs_per_client_per_s
    if not cost or planned * _BEYOND >= min(measured) or cpu.value is None:
        return cpu, []
    share = cost * rates["connections"]
    low = max(0.0, (cpu.low if cpu.low is not None else cpu.value) - share)
    high = cpu.high if cpu.high is not None else cpu.value
    shown = f"{format_value(low)}–{format_value(high)}"
    derivation = (
        f"{cpu.derivation}; the cost per connection was measured at "
        f"{span(measured)} messages/s per client, not at {format_value(planned)}: an upper "
        f"bound, so the low end leaves its {format_value(share)} cores out ({shown} cores)"
    )
    note = (
        f"cost per connection ({format_value(cost * 1e6)} µs per second per client, "
        f"{format_value(share)} of the cores): measured at {span(measured)} messages/s per "
        f"client, planned at {format_value(planned)}, so an upper bound (CPU cores given as the "
        f"range {shown}); a run at about {format_value(planned)} messages/s per client would "
        "identify it"
    )
    figure = Figure(cpu.value, cpu.unit, cpu.basis, derivation, low, high)
    return figure, [note]


def _workers_range(cpu: Figure, headroom: float) -> str:
    if cpu.high is None or cpu.low is None:
        return ""
    low = max(1, math.ceil(cpu.low / headroom - 1e-9))
    high = math.ceil(cpu.high / headroom - 1e-9)
    return f"; {low} at the low end of the CPU range, up to {high} at the high end"


def make_plan(inputs: Inputs, request: PlanRequest, holdout: Sequence[Point] = ()) -> Plan:
    """Fit every transport measured in ``inputs`` and plan ``request`` with it.

    ``holdout``: measured runs left out of the fit, each predicted with it (the plan's
    validation); without any, each fitted run is predicted from a fit on the others.

    Raises:
        PlanError: Nothing usable in the inputs (the message lists why each scenario was
            skipped), or no measured transport left to plan.
    """
    if not inputs.points:
        reasons = "; ".join(inputs.notes) or "no scenarios"
        raise PlanError(f"no usable compare scenario in the inputs ({reasons})")
    payloads = Counter(p.payload_bytes for p in inputs.points)
    payload = (
        request.payload_bytes
        if request.payload_bytes is not None
        else payloads.most_common(1)[0][0]
    )
    rtt_us, rtt_source = _rtt(inputs.points)
    notes = list(inputs.notes)
    plans: list[TransportPlan] = []
    for transport in PLANNED_TRANSPORTS:
        points = [p for p in inputs.points if p.transport == transport]
        if not points:
            notes.append(f"{transport}: not measured in the inputs, so not planned")
            continue
        fit, validation, forms = form_scores(
            points, [p for p in holdout if p.transport == transport]
        )
        idle = inputs.idle_ws_bytes_per_connection if transport == Transport.WS else None
        memory = fit_memory(points, idle, inputs.idle_ws_source or "")
        intervals: Sequence[float | None] = [None]
        if transport == Transport.SHORT_POLL:
            measured = sorted({p.poll_interval_s for p in points if p.poll_interval_s})
            intervals = request.poll_intervals_s or measured
        for interval in intervals:
            name = f"{Transport.SHORT_POLL}@{interval:g}" if interval else transport
            plans.append(
                _plan_one(
                    _Planned(
                        name,
                        transport,
                        interval,
                        points,
                        fit,
                        memory,
                        request,
                        payload,
                        rtt_us,
                        validation,
                        forms,
                    )
                )
            )
    if request.poll_intervals_s and not any(
        p.transport == Transport.SHORT_POLL for p in inputs.points
    ):
        notes.append("--poll-interval given, but no short-poll scenario was measured")
    return Plan(
        request, payload, plans, rtt_us, rtt_source, notes, inputs.flavor, tuple(inputs.ramp_runs)
    )
