"""The capacity model's fits: CPU costs per event and memory per connection, per transport.

The model is a steady state: a server that runs a load costs, in busy cores,

    cores = idle + c_conn × connections + c_del × deliveries/s + c_pub × publishes/s
          + c_req × requests/s

and every measured scenario (one uvicorn worker, a fresh server, sampled from the first publish
to the end of the drain: connect and close are not in it) is that equation times its sampled
seconds::

    server CPU s = idle × wall s + c_conn × subscribers × wall s + c_del × deliveries
                 + c_pub × publishes + c_req × HTTP requests
    peak RSS     = base + bytes_per_conn × connections

solved by least squares with every cost ≥ 0 (:mod:`pushbench.core.least_squares`), each run
weighed by its relative error. The figure a plan prints and the figure a held-out run validates
are the same function, :meth:`CpuFit.cores`. A term is fitted only when the runs vary it
independently of the terms before it; otherwise its cost stays inside the terms it moved with
(:attr:`CpuFit.absent` says so, :attr:`CpuFit.aliases` says how), and a plan gives the range
the unidentified cost allows (:func:`cores_range`) and names the run that would identify it.
With one load level there is no ``idle`` term (the proportional model).

**Two forms.** ``linear`` is the equation above: a constant cost per delivery. ``falling`` lets
the cost per delivery fall with load, ``c_del + c_√ / √(deliveries/s per worker)`` — one more
term, ``c_√ × √(deliveries/s)`` per worker, whose column in a run is ``√(deliveries × sampled
s)`` — the shape of the front page's ~25 µs per delivery at low load vs ~12 µs at high (fixed
costs per event-loop wake-up shared by more deliveries the busier the loop). A plan fits both
and keeps ``falling`` only when it predicts the held-out runs better (:func:`form_scores`).
"""

from __future__ import annotations

import enum
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from pushbench.core.kinds import Transport
from pushbench.core.least_squares import independent_columns, lstsq, nnls
from pushbench.core.units import format_value
from pushbench.plan.inputs import Point

__all__ = [
    "HELD_OUT_TOLERANCE",
    "IDENTIFIED_BY",
    "UNITS",
    "CpuFit",
    "Form",
    "FormScore",
    "HeldOut",
    "MemoryFit",
    "PlanError",
    "Term",
    "cores_range",
    "fit_cpu",
    "fit_memory",
    "form_scores",
    "held_out",
    "measured_rates",
    "missing_term",
    "span",
]


class PlanError(ValueError):
    """Inputs the model cannot use: the message says which and why."""


class Term(enum.StrEnum):
    """One cost of the CPU model; each is busy CPU per unit of a steady-state rate."""

    IDLE = "idle"
    REQUEST = "request"
    DELIVERY = "delivery"
    PUBLISH = "publish"
    CONNECTION = "connection"
    FALLING = "√delivery"
    """The ``falling`` form's term: CPU per second per √(deliveries/s) of one worker."""


class Form(enum.StrEnum):
    """The shape of the cost per delivery."""

    LINEAR = "linear"
    """Constant: ``c_del`` per delivery, whatever the load."""
    FALLING = "falling"
    """``c_del + c_√ / √(deliveries/s per worker)``: dearer at low load."""


#: What each term counts in a scenario (its column: CPU s = cost × count).
_COUNTS: Final[dict[Term, Callable[[Point], float]]] = {
    Term.IDLE: lambda p: p.sampled_s,
    Term.REQUEST: lambda p: float(p.requests),
    Term.DELIVERY: lambda p: float(p.delivered),
    Term.PUBLISH: lambda p: p.published,
    Term.CONNECTION: lambda p: p.subscribers * p.sampled_s,
    Term.FALLING: lambda p: math.sqrt(p.delivered * p.sampled_s),
}
#: Candidate terms per transport, most important first: a term that moves with earlier ones in
#: the runs is not fitted, and its cost stays in them.
_TERMS: Final = {
    Transport.WS: (Term.DELIVERY, Term.PUBLISH, Term.CONNECTION),
    Transport.SSE: (Term.DELIVERY, Term.PUBLISH, Term.CONNECTION),
    Transport.LONG_POLL: (Term.REQUEST, Term.DELIVERY, Term.PUBLISH, Term.CONNECTION),
    Transport.SHORT_POLL: (Term.REQUEST, Term.DELIVERY, Term.PUBLISH, Term.CONNECTION),
}
#: The unit each cost is shown in (costs are stored as CPU s per unit).
UNITS: Final = {
    Term.IDLE: "CPU ms per second: the idle server (one worker)",
    Term.REQUEST: "CPU µs per HTTP request",
    Term.DELIVERY: "CPU µs per delivered message",
    Term.PUBLISH: "CPU µs per published message",
    Term.CONNECTION: "CPU µs per second per connected client",
    Term.FALLING: "CPU µs per second per √(deliveries/s) of one worker (falling form)",
}
#: The run that would separate a term from the ones it moved with.
IDENTIFIED_BY: Final = {
    Term.IDLE: "runs at two or more load levels (--subscribers or --rate)",
    Term.REQUEST: "a run at another --poll-interval",
    Term.DELIVERY: "a run at other --subscribers at the same --rate",
    Term.PUBLISH: "a run at another --rate with the same --subscribers",
    Term.CONNECTION: "a run at other --subscribers and another --rate (deliveries/s and "
    "connections varied apart)",
    Term.FALLING: "runs at three or more deliveries/s levels",
}


def span(values: Sequence[float], unit: str = "") -> str:
    """``20–60`` (or ``20`` when all are equal), with ``unit`` appended."""

    def show(value: float) -> str:
        return f"{value:,.0f}" if value == int(value) else format_value(value)

    low, high = min(values), max(values)
    text = show(low) if low == high else f"{show(low)}–{show(high)}"
    return f"{text}{unit}"


def measured_rates(point: Point) -> dict[Term, float]:
    """The steady-state rates a measured scenario ran at: its counts over its sampled seconds
    (one worker, so ``idle`` is 1)."""
    return {term: count(point) / point.sampled_s for term, count in _COUNTS.items()}


@dataclass(frozen=True, slots=True)
class CpuFit:
    """The fitted CPU costs of one transport, and how well they reproduce the runs."""

    transport: Transport
    costs: dict[Term, float]
    """CPU seconds per unit of each fitted term; absent terms cost 0."""
    proportional: bool
    """One load level only: no ``idle`` term."""
    points: tuple[Point, ...]
    absent: dict[Term, str]
    """Candidate terms that were not fitted, and why."""
    errors_pct: tuple[float, ...]
    """(fitted − measured) / measured CPU, per point."""
    holdout_errors_pct: tuple[float, ...] = ()
    """Each point predicted by a fit on the others (three points or more)."""
    aliases: dict[Term, dict[Term, float]] = field(default_factory=dict)
    """For each term that moved with fitted ones: its column as a combination of theirs
    (``count_a ≈ Σ α_k count_k`` over these runs), which :func:`cores_range` needs."""
    form: Form = Form.LINEAR

    def cpu_s(self, point: Point) -> float:
        """The CPU seconds the fit predicts for a scenario like ``point``."""
        return self.cores(measured_rates(point)) * point.sampled_s

    def cores(self, rates: Mapping[Term, float]) -> float:
        """Busy cores at steady-state ``rates`` (per second; ``idle``: workers): the figure a
        plan prints, and the one a held-out run checks."""
        return sum(cost * rates.get(term, 0.0) for term, cost in self.costs.items())

    def cost(self, term: Term) -> float:
        """CPU seconds per unit of ``term`` (0 when it was not fitted)."""
        return self.costs.get(term, 0.0)


def cores_range(fit: CpuFit, rates: Mapping[Term, float]) -> tuple[float, float, list[Term]]:
    """(low, high, terms) of the busy cores at ``rates`` that the runs allow.

    A term the runs did not separate (``count_a = Σ α_k count_k``) may cost anything from 0 to
    the most its partners' fitted costs leave room for (every cost stays ≥ 0); it changes the
    planned cores by ``c_a × (rate_a − Σ α_k rate_k)``, which is 0 when the plan's rates keep
    the measured proportions. ``terms``: those that widen the range. Each term is bounded on
    its own, so with several the range is a little wider than the exact one.
    """
    central = fit.cores(rates)
    low = high = central
    widening: list[Term] = []
    for term, alpha in fit.aliases.items():
        room = [fit.cost(k) / a for k, a in alpha.items() if a > 0]
        if not room:
            continue
        most = min(room)
        delta = rates.get(term, 0.0) - sum(a * rates.get(k, 0.0) for k, a in alpha.items())
        change = most * delta
        if abs(change) > 1e-3 * max(central, 1e-12):
            widening.append(term)
        low, high = low + min(0.0, change), high + max(0.0, change)
    return max(low, 0.0), high, widening


def _why_absent(term: Term, column: list[float], kept: list[Term], candidates: list[Term]) -> str:
    if Term.IDLE in kept and max(column) == min(column):
        return "did not vary between these runs: its cost is in the idle term"
    before = [k.value for k in kept if candidates.index(k) < candidates.index(term)]
    return f"moved with {', '.join(before)} in these runs: its cost is counted there"


def _alias(
    column: list[float], kept: list[Term], columns: dict[Term, list[float]]
) -> dict[Term, float]:
    """``column`` as a least-squares combination of the kept columns."""
    alpha = lstsq([columns[k] for k in kept], column)
    return {k: a for k, a in zip(kept, alpha, strict=True) if abs(a) > 0}


def fit_cpu(points: Sequence[Point], holdout: bool = True, form: Form = Form.LINEAR) -> CpuFit:
    """Fit one transport's CPU costs to its measured scenarios.

    Args:
        points: Scenarios of one transport.
        holdout: Also predict each point from a fit on the others (three points or more).
        form: ``falling`` adds the √delivery term after the cost per delivery.

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
    terms = list(_TERMS[transport])
    if form is Form.FALLING:
        terms.insert(terms.index(Term.DELIVERY) + 1, Term.FALLING)
    candidates = ([] if proportional else [Term.IDLE]) + terms
    columns = {term: [_COUNTS[term](p) for p in points] for term in candidates}
    kept = [candidates[i] for i in independent_columns(list(columns.values()))]
    absent = {
        term: _why_absent(term, column, kept, candidates)
        for term, column in columns.items()
        if term not in kept
    }
    aliases = {term: _alias(columns[term], kept, columns) for term in absent}
    if proportional and kept:
        # One load level: the idle server moved with every per-event cost.
        idle = [_COUNTS[Term.IDLE](p) for p in points]
        absent[Term.IDLE] = (
            "one load level measured: the idle server cannot be told from the per-event "
            "costs, so it is spread over them"
        )
        aliases[Term.IDLE] = _alias(idle, kept, columns)
    measured = [p.cpu_s for p in points]
    # Each run weighs by its relative error: a run at 5 % of a core counts as much as one at
    # 50 %, which is how the held-out runs judge the fit.
    weights = [1 / m if m > 0 else 1.0 for m in measured]
    solution = nnls(
        [[c * w for c, w in zip(columns[term], weights, strict=True)] for term in kept],
        [m * w for m, w in zip(measured, weights, strict=True)],
    )
    costs: dict[Term, float] = {}
    for term, cost in zip(kept, solution, strict=True):
        if cost > 0:
            costs[term] = cost
        else:
            absent[term] = "fitted as 0: below the noise of these runs (the best fit is < 0)"
    fit = CpuFit(
        transport, costs, proportional, tuple(points), absent, (), aliases=aliases, form=form
    )
    errors = tuple(100 * (fit.cpu_s(p) - p.cpu_s) / p.cpu_s for p in points)
    held: tuple[float, ...] = ()
    if holdout and len(points) >= 3:
        held = tuple(
            100
            * (fit_cpu([*points[:i], *points[i + 1 :]], False, form).cpu_s(p) - p.cpu_s)
            / p.cpu_s
            for i, p in enumerate(points)
        )
    return CpuFit(
        transport, costs, proportional, tuple(points), absent, errors, held, aliases, form
    )


#: A held-out run predicted worse than this (relative CPU error) is flagged.
HELD_OUT_TOLERANCE: Final = 0.20


@dataclass(frozen=True, slots=True)
class HeldOut:
    """One run the fit did not use, measured against what the plan's formula predicts for it."""

    point: Point
    measured_cores: float
    """Server CPU s over its sampled seconds."""
    predicted_cores: float
    """:meth:`CpuFit.cores` at the run's measured rates: the formula the plan prints."""
    how: str
    """``held out`` (never in the fit) or ``leave-one-out`` (fitted on the other runs)."""

    @property
    def error_pct(self) -> float:
        return 100 * (self.predicted_cores - self.measured_cores) / self.measured_cores

    @property
    def missed(self) -> bool:
        return abs(self.error_pct) > 100 * HELD_OUT_TOLERANCE


def held_out(fit: CpuFit, points: Sequence[Point]) -> list[HeldOut]:
    """Predict runs the fit did not use; without any, each fitted run from a fit on the others
    (when three runs or more leave a fit with an idle term)."""
    if points:
        return [HeldOut(p, p.utilisation, fit.cores(measured_rates(p)), "held out") for p in points]
    rows = []
    if len(fit.points) >= 3:
        for i, p in enumerate(fit.points):
            rest = fit_cpu([*fit.points[:i], *fit.points[i + 1 :]], False, fit.form)
            rows.append(HeldOut(p, p.utilisation, rest.cores(measured_rates(p)), "leave-one-out"))
    return rows


def missing_term(fit: CpuFit, rows: Sequence[HeldOut]) -> tuple[Term, float, float] | None:
    """The term that misses: refit with the missed held-out runs added, and name the cost whose
    share of the worst run's predicted cores moves most (cost before, cost after); None when no
    run missed.
    """
    missed = [row for row in rows if row.missed]
    if not missed:
        return None
    worst = max(missed, key=lambda row: abs(row.error_pct))
    refit = fit_cpu([*fit.points, *(row.point for row in missed)], False, fit.form)
    rates = measured_rates(worst.point)
    terms = set(fit.costs) | set(refit.costs)
    term = max(terms, key=lambda t: abs(refit.cost(t) - fit.cost(t)) * rates.get(t, 0.0))
    return term, fit.cost(term), refit.cost(term)


@dataclass(frozen=True, slots=True)
class FormScore:
    """How well one form of the model predicted the runs it did not use."""

    form: Form
    mean_abs_pct: float
    """Mean |error| over the held-out (or leave-one-out) runs."""
    worst_pct: float
    """The error of largest magnitude, signed."""
    runs: int
    chosen: bool
    note: str = ""
    """Why the form was not kept (or an empty string)."""


def _score(rows: Sequence[HeldOut]) -> tuple[float, float]:
    errors = [row.error_pct for row in rows]
    return statistics.fmean(abs(e) for e in errors), max(errors, key=abs)


def form_scores(
    points: Sequence[Point], holdout: Sequence[Point]
) -> tuple[CpuFit, list[HeldOut], list[FormScore]]:
    """Fit each form, predict the runs it did not use; keep ``falling`` only when its mean
    |error| is lower than ``linear``'s (and its √delivery term was fitted, not 0).

    Returns (the chosen fit, its held-out rows, one score per form, linear first).
    """
    fits = {form: fit_cpu(points, form=form) for form in Form}
    rows = {form: held_out(fit, holdout) for form, fit in fits.items()}
    if not rows[Form.LINEAR]:
        return fits[Form.LINEAR], [], []
    scores = {form: _score(rows[form]) for form in Form if rows[form]}
    chosen = Form.LINEAR
    falling = fits[Form.FALLING]
    if Term.FALLING in falling.costs and scores[Form.FALLING][0] < scores[Form.LINEAR][0]:
        chosen = Form.FALLING
    why = {form: "" for form in Form}
    if chosen is Form.LINEAR and Form.FALLING in scores:
        why[Form.FALLING] = (
            "its √delivery term fitted as 0: these runs show no cost per delivery falling with "
            "load beyond what the cost per publish spreads over the fan-out"
            if Term.FALLING not in falling.costs
            else "no lower error than linear"
        )
    table = [
        FormScore(form, *score, len(rows[form]), form is chosen, why[form])
        for form, score in scores.items()
    ]
    return fits[chosen], rows[chosen], table


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
