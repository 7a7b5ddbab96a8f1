"""The capacity model's fits: CPU costs per event and memory per connection, per transport.

Every measured scenario (one uvicorn worker, a fresh server) is one equation::

    server CPU s = fixed + c_req × HTTP requests + c_del × deliveries + c_pub × publishes
                 + c_conn × connections
    peak RSS     = base + bytes_per_conn × connections

solved by least squares with every cost ≥ 0 (:mod:`pushbench.core.least_squares`). A term is fitted
only when the runs vary it independently of the terms before it; otherwise its cost stays inside
the terms it moved with, and :attr:`CpuFit.absent` says so. With one load level there is no
``fixed`` term (the proportional model): one-off costs are then spread over the per-event costs,
which over-estimates them.
"""

from __future__ import annotations

import enum
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from pushbench.core.kinds import Transport
from pushbench.core.least_squares import independent_columns, nnls
from pushbench.core.units import format_value
from pushbench.plan.inputs import Point

__all__ = ["UNITS", "CpuFit", "MemoryFit", "PlanError", "Term", "fit_cpu", "fit_memory", "span"]


class PlanError(ValueError):
    """Inputs the model cannot use: the message says which and why."""


class Term(enum.StrEnum):
    """One cost of the CPU model."""

    FIXED = "fixed"
    REQUEST = "request"
    DELIVERY = "delivery"
    PUBLISH = "publish"
    CONNECTION = "connection"


#: What each term counts in a scenario.
_COUNTS: Final[dict[Term, Callable[[Point], float]]] = {
    Term.FIXED: lambda p: 1.0,
    Term.REQUEST: lambda p: float(p.requests),
    Term.DELIVERY: lambda p: float(p.delivered),
    Term.PUBLISH: lambda p: p.published,
    Term.CONNECTION: lambda p: float(p.subscribers),
}
#: Candidate terms per transport, most important first: a term that moves with earlier ones in
#: the runs is not fitted, and its cost stays in them.
_TERMS: Final = {
    Transport.WS: (Term.DELIVERY, Term.PUBLISH, Term.CONNECTION),
    Transport.SSE: (Term.DELIVERY, Term.PUBLISH, Term.CONNECTION),
    Transport.LONG_POLL: (Term.REQUEST, Term.DELIVERY, Term.PUBLISH, Term.CONNECTION),
    Transport.SHORT_POLL: (Term.REQUEST, Term.DELIVERY, Term.PUBLISH, Term.CONNECTION),
}
#: The unit each cost is shown in.
UNITS: Final = {
    Term.FIXED: "CPU ms per scenario (start-up, connect, drain)",
    Term.REQUEST: "CPU µs per HTTP request",
    Term.DELIVERY: "CPU µs per delivered message",
    Term.PUBLISH: "CPU µs per published message",
    Term.CONNECTION: "CPU µs per connection (connect + close)",
}


def span(values: Sequence[float], unit: str = "") -> str:
    """``20–60`` (or ``20`` when all are equal), with ``unit`` appended."""

    def show(value: float) -> str:
        return f"{value:,.0f}" if value == int(value) else format_value(value)

    low, high = min(values), max(values)
    text = show(low) if low == high else f"{show(low)}–{show(high)}"
    return f"{text}{unit}"


@dataclass(frozen=True, slots=True)
class CpuFit:
    """The fitted CPU costs of one transport, and how well they reproduce the runs."""

    transport: Transport
    costs: dict[Term, float]
    """CPU seconds per unit of each fitted term; absent terms cost 0."""
    proportional: bool
    """One load level only: no ``fixed`` term."""
    points: tuple[Point, ...]
    absent: dict[Term, str]
    """Candidate terms that were not fitted, and why."""
    errors_pct: tuple[float, ...]
    """(fitted − measured) / measured CPU, per point."""
    holdout_errors_pct: tuple[float, ...] = ()
    """Each point predicted by a fit on the others (three points or more)."""

    def cpu_s(self, point: Point) -> float:
        """The CPU seconds the fit predicts for a scenario like ``point``."""
        return sum(cost * _COUNTS[term](point) for term, cost in self.costs.items())

    def cost(self, term: Term) -> float:
        """CPU seconds per unit of ``term`` (0 when it was not fitted)."""
        return self.costs.get(term, 0.0)


def _why_absent(term: Term, column: list[float], kept: list[Term], candidates: list[Term]) -> str:
    if Term.FIXED in kept and max(column) == min(column):
        return "did not vary between these runs: its cost is in the fixed term"
    before = [k.value for k in kept if candidates.index(k) < candidates.index(term)]
    return f"moved with {', '.join(before)} in these runs: its cost is counted there"


def fit_cpu(points: Sequence[Point], holdout: bool = True) -> CpuFit:
    """Fit one transport's CPU costs to its measured scenarios.

    Args:
        points: Scenarios of one transport.
        holdout: Also predict each point from a fit on the others (three points or more).

    Raises:
        PlanError: No points, or points of several transports.
    """
    if not points:
        raise PlanError("no measured scenario to fit")
    transports = sorted({p.transport for p in points})
    if len(transports) != 1:
        raise PlanError(f"one transport per fit, not {', '.join(transports)}")
    transport = transports[0]
    proportional = len({p.level for p in points}) < 2
    candidates = ([] if proportional else [Term.FIXED]) + list(_TERMS[transport])
    columns = [[_COUNTS[term](p) for p in points] for term in candidates]
    kept = [candidates[i] for i in independent_columns(columns)]
    absent = {
        term: _why_absent(term, column, kept, candidates)
        for term, column in zip(candidates, columns, strict=True)
        if term not in kept
    }
    measured = [p.cpu_s for p in points]
    solution = nnls([[_COUNTS[term](p) for p in points] for term in kept], measured)
    costs: dict[Term, float] = {}
    for term, cost in zip(kept, solution, strict=True):
        if cost > 0:
            costs[term] = cost
        else:
            absent[term] = "fitted as 0: below the noise of these runs (the best fit is < 0)"
    fit = CpuFit(transport, costs, proportional, tuple(points), absent, ())
    errors = tuple(100 * (fit.cpu_s(p) - p.cpu_s) / p.cpu_s for p in points)
    held: tuple[float, ...] = ()
    if holdout and len(points) >= 3:
        held = tuple(
            100
            * (fit_cpu([*points[:i], *points[i + 1 :]], holdout=False).cpu_s(p) - p.cpu_s)
            / p.cpu_s
            for i, p in enumerate(points)
        )
    return CpuFit(transport, costs, proportional, tuple(points), absent, errors, held)


@dataclass(frozen=True, slots=True)
class MemoryFit:
    """Server RSS of one worker: a base and a cost per connection."""

    base_bytes: float
    bytes_per_connection: float | None
    """``None`` when the runs cannot tell (one subscriber count, no serverbench run)."""
    source: str


def fit_memory(
    points: Sequence[Point], idle_bytes: float | None = None, idle_source: str = ""
) -> MemoryFit:
    """Fit peak RSS against connections; a measured ``idle_bytes`` (serverbench) wins.

    Raises:
        PlanError: No points.
    """
    if not points:
        raise PlanError("no measured scenario to fit")
    counts = [float(p.subscribers) for p in points]
    rss = [float(p.rss_peak_bytes) for p in points]
    if idle_bytes is not None:
        base = statistics.fmean(r - idle_bytes * c for r, c in zip(rss, counts, strict=True))
        return MemoryFit(max(base, 0.0), idle_bytes, f"measured idle ({idle_source})")
    if len(set(counts)) < 2:
        return MemoryFit(
            min(rss), None, f"one subscriber count ({counts[0]:.0f}): per connection unknown"
        )
    base, per_connection = nnls([[1.0] * len(points), counts], rss)
    return MemoryFit(
        base, per_connection, f"fit: peak RSS at {span(counts)} subscribers ({len(points)} runs)"
    )
