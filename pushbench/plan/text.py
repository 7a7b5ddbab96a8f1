"""A capacity plan as text: the table every output shares, ``plan.md``, and ``plan.json``'s data.

Each cell of the table is a figure and, beside it, the inputs it came from, so the terminal,
Markdown and HTML show the same numbers with the same provenance.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from pushbench.core.kinds import Transport
from pushbench.core.units import NOT_APPLICABLE, format_duration_us, format_ratio, format_value
from pushbench.plan.figures import format_bytes, format_number
from pushbench.plan.fit import HELD_OUT_TOLERANCE, UNITS, Term, missing_term
from pushbench.plan.model import ASSUMPTIONS, Figure, Plan, TransportPlan

__all__ = [
    "MODEL",
    "PLAN_COLUMNS",
    "PLAN_VERSION",
    "POINT_COLUMNS",
    "VALIDATION_COLUMNS",
    "Cell",
    "cost_rows",
    "form_verdict",
    "grouped_notes",
    "plan_document",
    "plan_rows",
    "plan_title",
    "point_rows",
    "render_plan_markdown",
    "validation_rows",
    "validation_verdict",
]

#: Version of ``plan.json``'s layout.
PLAN_VERSION: Final = 2

#: Column headings of :func:`plan_rows`.
PLAN_COLUMNS: Final = (
    "transport",
    "CPU cores",
    "workers",
    "memory",
    "HTTP requests/s",
    "bytes/s on the wire",
    "p50 latency",
    "p99 latency",
    "beyond measured",
    "held-out CPU error",
)

#: The model in a few lines, for reports.
MODEL: Final = """\
steady state, per transport: busy cores of a server running a load
  cores = idle x workers + c_conn x conns + c_del x deliveries/s + c_pub x publishes/s
        + c_req x requests/s
fit: one equation per measured scenario, the cores formula times its sampled seconds (least
squares on relative errors, every cost >= 0); held-out runs check the same formula:
  server CPU s = (idle + c_conn x conns) x sampled s + c_del x deliveries + c_pub x publishes
               + c_req x requests
  peak RSS     = base + bytes_per_conn x connections
plan, steady state of N connected clients (r msgs/client/s, fan-out F):
  deliveries/s = N r      publishes/s = N r / F
  requests/s   = short poll: N / T;  long poll: N / ((1 - e^(-r w)) / r + rtt), w = 30 s
  keep-alives  = WebSocket: N / 20 s pings;  SSE: comments after 15 s idle
  CPU cores    = c_del x (deliveries/s + keep-alives/s) + c_req x requests/s
                 + c_pub x publishes/s + c_conn x N + idle x workers
  workers      = fewest with cores / workers <= headroom
  memory       = workers x base + N x bytes_per_conn
forms: linear (above), or falling: + c_sqrt x sqrt(deliveries/s per worker) per worker (the cost
per delivery falling with load); falling is kept only when it predicts the held-out runs better.
a cost per connection measured at more messages per client than planned is an upper bound: the
CPU range's low end leaves it out
a cost the runs did not separate from another gives a range (low-high), and the run to add.
latency: short poll p50 = T/2 + rtt, p99 = 0.99 T + rtt (model); others measured at the closest
CPU load."""


@dataclasses.dataclass(frozen=True, slots=True)
class Cell:
    """A figure as text, and the inputs behind it."""

    text: str
    basis: str


def _figure(figure: Figure, show: str) -> Cell:
    return Cell(show if figure.value is not None else NOT_APPLICABLE, figure.basis)


def _row(plan: TransportPlan) -> list[Cell]:
    cores, memory, requests = plan.cpu_cores, plan.memory_bytes, plan.requests_per_s
    wire = plan.wire_bytes_per_s
    rate = requests.value or 0.0
    beyond = format_ratio(plan.beyond) if plan.beyond > 1 else NOT_APPLICABLE
    return [
        Cell(plan.name, _label(plan)),
        _figure(cores, _ranged(cores)),
        _figure(plan.workers, format_number(plan.workers.value or 0.0)),
        _figure(memory, format_bytes(memory.value or 0.0)),
        _figure(requests, format_value(rate) if rate else NOT_APPLICABLE),
        _figure(wire, format_bytes(wire.value or 0.0) + "/s"),
        _figure(plan.p50_us, format_duration_us(plan.p50_us.value or 0.0)),
        _figure(plan.p99_us, format_duration_us(plan.p99_us.value or 0.0)),
        Cell(beyond, f"in {len(plan.extrapolation)} figures" if plan.extrapolation else ""),
        _validation_cell(plan),
    ]


def _validation_cell(plan: TransportPlan) -> Cell:
    """The worst held-out error, flagged beyond 20 %, over how many runs."""
    if not plan.validation:
        return Cell(NOT_APPLICABLE, "no held-out run")
    worst = max(plan.validation, key=lambda row: abs(row.error_pct))
    flag = "⚠ " if plan.validation_missed else ""
    how = "held out" if worst.how == "held out" else "leave-one-out"
    return Cell(f"{flag}{worst.error_pct:+.0f} %", f"worst of {len(plan.validation)} {how}")


def _ranged(figure: Figure) -> str:
    """``0.036``, or ``0.031–0.040`` when the inputs allow a range."""
    if figure.low is not None and figure.high is not None:
        return f"{format_value(figure.low)}–{format_value(figure.high)}"
    return format_value(figure.value or 0.0)


def _label(plan: TransportPlan) -> str:
    labels = {
        Transport.WS: "WebSocket push",
        Transport.SSE: "Server-Sent Events",
        Transport.LONG_POLL: "long polling",
    }
    if plan.poll_interval_s:
        return f"short polling every {plan.poll_interval_s:g} s"
    return labels.get(plan.transport, plan.transport)


def plan_rows(plan: Plan) -> list[list[Cell]]:
    """One row per planned transport, cells in :data:`PLAN_COLUMNS` order."""
    return [_row(t) for t in plan.transports]


def grouped_notes(plan: Plan) -> list[tuple[str, str]]:
    """(scope, note) for every transport note; one every transport shares is listed once."""
    per_transport = [t.notes + t.extrapolation for t in plan.transports]
    shared: list[str] = []
    if len(per_transport) > 1:
        shared = [n for n in per_transport[0] if all(n in notes for notes in per_transport)]
    grouped = [("all transports", note) for note in shared]
    for transport, notes in zip(plan.transports, per_transport, strict=True):
        grouped += [(transport.name, note) for note in notes if note not in shared]
    return grouped + [("inputs", note) for note in plan.notes]


def plan_title(plan: Plan) -> str:
    """``100,000 clients, 0.1 messages/s each, fan-out 1, 64 B payloads`` (``, asgi flavor``
    when the inputs record one; ``, measured by ramp <run id>`` when a ramp's steps are in)."""
    request = plan.request
    flavor = f", {plan.flavor} flavor" if plan.flavor else ""
    ramps = f", measured by ramp {', '.join(plan.ramp_runs)}" if plan.ramp_runs else ""
    return (
        f"{request.clients:,} clients, {format_value(request.msgs_per_client_per_s)} messages/s "
        f"each, fan-out {format_number(request.fanout)}, {plan.payload_bytes} B payloads{flavor}"
        f"{ramps}"
    )


def cost_rows(plan: TransportPlan) -> list[tuple[str, str, str]]:
    """The fitted costs of a transport: (term, value, unit), absent terms with the reason."""
    rows = []
    for term in Term:
        unit = UNITS[term]
        if term in plan.fit.costs:
            cost = plan.fit.costs[term]
            value = cost * 1e3 if term is Term.IDLE else cost * 1e6
            rows.append((term.value, format_value(value), unit))
        elif term in plan.fit.absent:
            rows.append((term.value, NOT_APPLICABLE, plan.fit.absent[term]))
    memory = plan.memory
    per_connection = memory.bytes_per_connection
    rows.append(("memory base", format_bytes(memory.base_bytes), f"peak RSS ({memory.source})"))
    rows.append(
        (
            "memory per connection",
            NOT_APPLICABLE if per_connection is None else format_bytes(per_connection),
            memory.source,
        )
    )
    return rows


def point_rows(plan: TransportPlan) -> list[list[str]]:
    """The measured scenarios a transport was fitted to, with how well the fit reproduces them."""
    fit = plan.fit
    held = fit.holdout_errors_pct or (None,) * len(fit.points)
    rows = []
    for point, error, holdout in zip(fit.points, fit.errors_pct, held, strict=True):
        rows.append(
            [
                point.source,
                format_number(point.subscribers),
                format_value(point.publishes_per_s),
                format_number(point.delivered),
                format_number(point.requests),
                f"{point.cpu_s:.2f}",
                f"{error:+.0f} %",
                NOT_APPLICABLE if holdout is None else f"{holdout:+.0f} %",
                format_bytes(point.rss_peak_bytes),
                format_duration_us(point.p50_us),
                format_duration_us(point.p99_us),
            ]
        )
    return rows


#: Column headings of :func:`validation_rows`.
VALIDATION_COLUMNS: Final = (
    "run",
    "how",
    "subscribers",
    "publishes/s",
    "deliveries/s",
    "requests/s",
    "measured cores",
    "predicted cores",
    "error",
)


def validation_rows(plan: TransportPlan) -> list[list[str]]:
    """Each run the fit did not use: measured vs predicted busy cores, ``⚠`` beyond 20 %."""
    return [
        [
            row.point.source,
            row.how,
            format_number(row.point.subscribers),
            format_value(row.point.publishes_per_s),
            format_value(row.point.deliveries_per_s),
            format_value(row.point.requests_per_s) if row.point.requests else NOT_APPLICABLE,
            format_value(row.measured_cores),
            format_value(row.predicted_cores),
            f"{row.error_pct:+.0f} %" + (" ⚠" if row.missed else ""),
        ]
        for row in plan.validation
    ]


def validation_verdict(plan: TransportPlan) -> str:
    """One line: how far the held-out runs were off, and whether that is beyond 20 %."""
    if not plan.validation:
        return "no run left out of the fit: not validated (measure with --measure, or give 3+ runs)"
    worst = max(plan.validation, key=lambda row: abs(row.error_pct))
    kind = "held-out" if worst.how == "held out" else "leave-one-out"
    text = (
        f"{len(plan.validation)} {kind} runs, worst {worst.error_pct:+.0f} % ({worst.point.source})"
    )
    if plan.validation_missed:
        text = f"⚠ {text}: beyond {HELD_OUT_TOLERANCE:.0%}, the CPU figure is not validated"
        missing = missing_term(plan.fit, plan.validation)
        if missing is not None:
            term, before, after = missing
            scale, unit = (1e3, "ms/s") if term is Term.IDLE else (1e6, "µs")
            what = "the idle server" if term is Term.IDLE else f"the cost per {term.value}"
            text += (
                f"; the term that misses: {what}, {format_value(before * scale)} {unit} fitted, "
                f"{format_value(after * scale)} {unit} with the missed runs added"
            )
        return text
    return f"{text}: within {HELD_OUT_TOLERANCE:.0%}"


def form_verdict(plan: TransportPlan) -> str:
    """One line: each model form's error on the runs it did not use, and which was kept."""
    if not plan.forms:
        return "model form: linear (no run left out to compare forms on)"
    chosen = next(f for f in plan.forms if f.chosen)
    scored = "; ".join(
        f"{f.form} mean |error| {f.mean_abs_pct:.1f} %, worst {f.worst_pct:+.0f} %"
        + (" (kept)" if f.chosen else f" ({f.note})" if f.note else "")
        for f in plan.forms
    )
    return f"model form: {chosen.form}, compared on {chosen.runs} runs: {scored}"


#: Column headings of :func:`point_rows`.
POINT_COLUMNS: Final = (
    "scenario",
    "subscribers",
    "publishes/s",
    "delivered",
    "HTTP requests",
    "server CPU s",
    "fit error",
    "held-out error",
    "peak RSS",
    "p50",
    "p99",
)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(
    headings: tuple[str, ...], rows: list[list[str]], text_columns: tuple[int, ...] = (0,)
) -> list[str]:
    rule = ["---" if i in text_columns else "---:" for i in range(len(headings))]
    return [
        "| " + " | ".join(_md(h) for h in headings) + " |",
        "| " + " | ".join(rule) + " |",
        *("| " + " | ".join(_md(c) for c in row) + " |" for row in rows),
    ]


def render_plan_markdown(plan: Plan, run_id: str) -> str:
    """``plan.md``: the table with each figure's inputs, the model, the fits and every note."""
    rows = [
        [f"{c.text}<br><sub>{c.basis}</sub>" if c.basis else c.text for c in row]
        for row in plan_rows(plan)
    ]
    lines = [
        f"## pushbench plan: `{run_id}`",
        "",
        f"**{plan_title(plan)}**, CPU headroom {plan.request.cpu_headroom:.0%}.",
        "",
        *_md_table(PLAN_COLUMNS, rows),
        "",
        f"Round trip used by the latency model: {format_duration_us(plan.rtt_us)} "
        f"({plan.rtt_source}).",
        "",
        "### Model",
        "",
        "```",
        MODEL,
        "```",
    ]
    for transport in plan.transports:
        lines += ["", f"### {transport.name}", ""]
        lines += [f"- CPU: {transport.cpu_cores.derivation or transport.cpu_cores.basis}"]
        lines += [f"- memory: {transport.memory_bytes.derivation or transport.memory_bytes.basis}"]
        lines += [f"- bytes on the wire: {transport.wire_bytes_per_s.derivation}"]
        lines += [f"- latency: {transport.p50_us.derivation or transport.p50_us.basis}"]
        costs = [list(row) for row in cost_rows(transport)]
        headings = ("cost", "value", "unit, or why it is not in the fit")
        lines += ["", *_md_table(headings, costs, text_columns=(0, 2))]
        lines += ["", *_md_table(POINT_COLUMNS, point_rows(transport))]
        lines += ["", f"Validation: {validation_verdict(transport)}."]
        lines += ["", f"{form_verdict(transport).capitalize()}."]
        if transport.validation:
            lines += ["", *_md_table(VALIDATION_COLUMNS, validation_rows(transport), (0, 1))]
        notes = transport.notes + [f"beyond measured: {e}" for e in transport.extrapolation]
        if notes:
            lines += ["", *(f"- ⚠️ {_md(n)}" for n in notes)]
    lines += ["", "### Assumptions", "", *(f"- {a}" for a in ASSUMPTIONS)]
    if plan.notes:
        lines += ["", "### Inputs", "", *(f"- {_md(n)}" for n in plan.notes)]
    return "\n".join(lines) + "\n"


def _figure_dict(figure: Figure) -> dict[str, Any]:
    return dataclasses.asdict(figure)


def _transport_dict(plan: TransportPlan) -> dict[str, Any]:
    fit = plan.fit
    return {
        "name": plan.name,
        "transport": plan.transport,
        "poll_interval_s": plan.poll_interval_s,
        "rates_per_s": plan.rates,
        "cpu_cores": _figure_dict(plan.cpu_cores),
        "workers": _figure_dict(plan.workers),
        "memory_bytes": _figure_dict(plan.memory_bytes),
        "http_requests_per_s": _figure_dict(plan.requests_per_s),
        "wire_bytes_per_s": _figure_dict(plan.wire_bytes_per_s),
        "latency_p50_us": _figure_dict(plan.p50_us),
        "latency_p99_us": _figure_dict(plan.p99_us),
        "beyond_measured_factor": plan.beyond,
        "extrapolation": plan.extrapolation,
        "notes": plan.notes,
        "validation": {
            "missed": plan.validation_missed,
            "tolerance_pct": 100 * HELD_OUT_TOLERANCE,
            "runs": [
                {
                    "source": row.point.source,
                    "how": row.how,
                    "measured_cores": row.measured_cores,
                    "predicted_cores": row.predicted_cores,
                    "error_pct": row.error_pct,
                }
                for row in plan.validation
            ],
        },
        "forms": [dataclasses.asdict(f) for f in plan.forms],
        "cpu_model": {
            "form": fit.form,
            "proportional": fit.proportional,
            "cpu_s_per_unit": {term.value: cost for term, cost in fit.costs.items()},
            "absent": {term.value: why for term, why in fit.absent.items()},
            "aliases": {
                term.value: {k.value: a for k, a in alpha.items()}
                for term, alpha in fit.aliases.items()
            },
            "fit_errors_pct": list(fit.errors_pct),
            "holdout_errors_pct": list(fit.holdout_errors_pct),
            "points": [dataclasses.asdict(p) for p in fit.points],
        },
        "memory_model": dataclasses.asdict(plan.memory),
    }


def plan_document(plan: Plan, run_id: str, sources: list[str]) -> dict[str, Any]:
    """``plan.json``'s content: the request, every figure with its basis, the fits, the notes.

    Units are in the names (``_s`` seconds, ``_us`` µs, ``_bytes``, ``_per_s``); the fitted
    costs are CPU seconds per unit (``cpu_s_per_unit``).
    """
    return {
        "plan_version": PLAN_VERSION,
        "run_id": run_id,
        "sources": sources,
        "ramp_runs": list(plan.ramp_runs),
        "flavor": plan.flavor,
        "request": dataclasses.asdict(plan.request) | {"payload_bytes": plan.payload_bytes},
        "rtt_us": plan.rtt_us,
        "rtt_source": plan.rtt_source,
        "model": MODEL,
        "assumptions": list(ASSUMPTIONS),
        "transports": [_transport_dict(t) for t in plan.transports],
        "notes": plan.notes,
    }
