"""The figures of a plan, each with the inputs it came from: CPU, memory, requests, bytes, latency.

One function per figure; each returns a :class:`Figure` whose ``basis`` is short enough to print
beside the number and whose ``derivation`` spells out the whole computation with its inputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from pushbench.core import wire_bytes
from pushbench.core.kinds import Transport
from pushbench.core.units import format_value
from pushbench.plan.fit import CpuFit, MemoryFit, Term, cores_range
from pushbench.plan.inputs import Point

__all__ = [
    "LONG_POLL_WAIT_S",
    "SSE_KEEPALIVE_S",
    "WS_PING_INTERVAL_S",
    "Figure",
    "cpu_figure",
    "format_bytes",
    "format_number",
    "latency_figures",
    "memory_figure",
    "requests_figure",
    "term_rates",
    "wire_figure",
]

#: How long the harness's long polls wait (``pushbench.drivers.subscribers.long_poll``).
LONG_POLL_WAIT_S: Final = 30.0
#: uvicorn's default ``--ws-ping-interval``.
WS_PING_INTERVAL_S: Final = 20.0
#: The reference server's default ``PUSHBENCH_SSE_KEEPALIVE_S``.
SSE_KEEPALIVE_S: Final = 15.0


def format_bytes(count: float) -> str:
    """``57.0 MB``, ``32.1 kB``, ``512 B`` (decimal units)."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(count) >= size:
            return f"{format_value(count / size)} {unit}"
    return f"{count:.0f} B"


def format_number(value: float) -> str:
    """A count without decimals when it is whole (``1``, ``50,000``), else :func:`format_value`."""
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return format_value(value)


def _us(seconds: float) -> str:
    return f"{format_value(seconds * 1e6)} µs"


def _ms(us: float) -> str:
    return f"{format_value(us / 1000)} ms"


@dataclass(frozen=True, slots=True)
class Figure:
    """One predicted number, with the inputs it came from."""

    value: float | None
    unit: str
    basis: str
    """The inputs, short enough to print beside the figure."""
    derivation: str = ""
    """The whole computation with its numbers."""
    low: float | None = None
    """The lowest value the inputs allow, when they do not pin one down (else None)."""
    high: float | None = None
    """The highest value the inputs allow (None with ``low``)."""


_RATE_NAMES: Final = {
    "deliveries": "deliveries/s",
    "keepalives": "keep-alives/s",
    "requests": "requests/s",
    "publishes": "publishes/s",
}
#: Short names of what a cost or a size is per, for the table.
_PER: Final = {
    "deliveries": "deliv",
    "keepalives": "keep-alive",
    "requests": "req",
    "publishes": "pub",
    Term.DELIVERY: "deliv",
    Term.REQUEST: "req",
    Term.PUBLISH: "pub",
    Term.CONNECTION: "conn",
    Term.IDLE: "worker",
    Term.FALLING: "√(deliv/s)/worker",
}
#: What each term's steady-state rate is called in a derivation.
_TERM_RATES: Final = {
    Term.IDLE: "workers",
    Term.CONNECTION: "connections",
    Term.DELIVERY: "deliveries/s (keep-alives included, assumed = delivery)",
    Term.PUBLISH: "publishes/s",
    Term.REQUEST: "requests/s",
    Term.FALLING: "workers × √(deliveries/s per worker)",
}


def term_rates(rates: dict[str, float], workers: float) -> dict[Term, float]:
    """The plan's steady-state rates as the CPU model's terms: keep-alives cost a delivery.

    The falling form's term is per worker (each worker's cost per delivery falls with its own
    load): ``workers × √(deliveries/s / workers)`` = ``√(deliveries/s × workers)``.
    """
    deliveries = rates["deliveries"] + rates["keepalives"]
    return {
        Term.IDLE: workers,
        Term.CONNECTION: rates["connections"],
        Term.DELIVERY: deliveries,
        Term.PUBLISH: rates["publishes"],
        Term.REQUEST: rates["requests"],
        Term.FALLING: math.sqrt(deliveries * workers),
    }


def _cost_text(term: Term, cost: float) -> str:
    if term is Term.IDLE:
        return f"{format_value(cost * 1e3)} ms/s"
    return _us(cost)


def cpu_figure(fit: CpuFit, rates: Mapping[Term, float]) -> Figure:
    """Busy CPU cores: every fitted term times its steady-state rate, the idle server per worker
    included; a range when a cost the runs did not separate would change them."""
    terms = [
        f"{format_value(rates[t])} {_TERM_RATES[t]} × {_cost_text(t, c)} "
        f"({format_value(c * rates[t])})"
        for t, c in fit.costs.items()
        if rates.get(t)
    ]
    cores = fit.cores(rates)
    low, high, widening = cores_range(fit, rates)
    basis = ", ".join(f"{_cost_text(t, c)}/{_PER[t]}" for t, c in fit.costs.items()) or (
        "no cost fitted"
    )
    if fit.proportional:
        basis += " (1 level)"
    model = "proportional fit (one load level)" if fit.proportional else "least-squares fit"
    derivation = f"{' + '.join(terms) or '0'} = {format_value(cores)} cores"
    if widening:
        derivation += (
            f"; {format_value(low)}–{format_value(high)} cores with the cost of "
            f"{', '.join(t.value for t in widening)} anywhere the runs allow"
        )
        return Figure(
            cores, "cores", basis, f"{derivation} ({model}, {len(fit.points)} runs)", low, high
        )
    return Figure(cores, "cores", basis, f"{derivation} ({model}, {len(fit.points)} runs)")


def memory_figure(memory: MemoryFit, clients: int, workers: int) -> Figure:
    """Memory: each worker's base plus every connection's bytes."""
    base = f"{workers} workers × {format_bytes(memory.base_bytes)}"
    if memory.bytes_per_connection is None:
        return Figure(None, "bytes", "per conn unknown", f"{base} + unknown ({memory.source})")
    total = workers * memory.base_bytes + clients * memory.bytes_per_connection
    per = f"{format_bytes(memory.bytes_per_connection)}/conn"
    derivation = f"{base} + {clients:,} connections × {per} ({memory.source})"
    return Figure(total, "bytes", per, derivation)


def requests_figure(
    transport: Transport, interval: float | None, rates: dict[str, float]
) -> Figure:
    """HTTP requests per second, from the transport's own rule."""
    requests = rates["requests"]
    if transport == Transport.SHORT_POLL:
        rule = "one poll per client per interval, new messages or not"
        return Figure(requests, "requests/s", f"N / {interval:g} s", rule)
    if transport == Transport.LONG_POLL:
        rule = (
            f"N / ((1 − e^(−r·{LONG_POLL_WAIT_S:g} s)) / r + rtt): a poll per message, or per "
            f"{LONG_POLL_WAIT_S:g} s wait"
        )
        return Figure(requests, "requests/s", "≈ deliveries", rule)
    if transport == Transport.SSE:
        return Figure(0.0, "requests/s", "1 per connect", "one long response per client")
    return Figure(0.0, "requests/s", "", "WebSocket frames only")


def wire_figure(transport: Transport, payload: int, rates: dict[str, float]) -> Figure:
    """Bytes per second on the wire, both directions, estimated (:mod:`.wire_bytes`)."""
    sizes = {
        "deliveries": wire_bytes.delivery_bytes(transport, payload),
        "requests": wire_bytes.request_bytes(transport),
        "publishes": wire_bytes.publish_bytes(payload),
        "keepalives": wire_bytes.keepalive_bytes(transport),
    }
    used = {name: size for name, size in sizes.items() if size and rates[name]}
    total = sum(rates[name] * size for name, size in used.items())
    # The dearest item is the one to show beside the figure.
    top = max(used, key=lambda n: rates[n] * used[n])
    terms = " + ".join(
        f"{format_value(rates[n])} {_RATE_NAMES[n]} × {s} B" for n, s in used.items()
    )
    formulas = f"{wire_bytes.FORMULAS[transport]}; {wire_bytes.FORMULAS['publish']}"
    return Figure(total, "bytes/s", f"est. {used[top]} B/{_PER[top]}", f"{terms} ({formulas})")


def _closest(points: Sequence[Point], utilisation: float) -> Point:
    """The measured scenario whose server CPU utilisation is closest to ``utilisation``."""
    trusted = [p for p in points if not p.saturated] or list(points)
    return min(trusted, key=lambda p: abs(math.log(max(p.utilisation, 1e-6) / utilisation)))


def latency_figures(
    transport: Transport,
    interval: float | None,
    points: Sequence[Point],
    utilisation: float,
    rtt_us: float,
) -> tuple[Figure, Figure]:
    """p50 and p99: short poll from the model, the others measured at the closest CPU load."""
    if transport == Transport.SHORT_POLL and interval:
        why = f"model: the wait for the next poll is uniform over T = {interval:g} s, plus rtt"
        return (
            Figure(interval * 5e5 + rtt_us, "µs", f"T/2 + {_ms(rtt_us)}", why),
            Figure(interval * 0.99e6 + rtt_us, "µs", f"0.99T + {_ms(rtt_us)}", why),
        )
    point = _closest(points, max(utilisation, 1e-6))
    at = f"meas. @{point.utilisation:.0%} CPU"
    where = (
        f"measured: {point.source}, {point.subscribers} subscribers at "
        f"{point.utilisation:.0%} server CPU (planned {utilisation:.0%} per worker)"
    )
    return (
        Figure(float(point.p50_us), "µs", at, where),
        Figure(float(point.p99_us), "µs", at, where),
    )
