"""``plan.html``: the capacity plan as one self-contained page, and its chart (cores vs clients).

Same style and rules as ``report.html`` (:mod:`pushbench.report.html`): inline styles and SVG, no
script, every text from the inputs escaped. The chart is drawn with the report's matplotlib
helpers, so it looks like the report's charts.
"""

from __future__ import annotations

import io
import math
from html import escape

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from pushbench import __version__
from pushbench.core.units import format_duration_us, format_value
from pushbench.plan.figures import format_number
from pushbench.plan.model import ASSUMPTIONS, Plan
from pushbench.plan.text import (
    MODEL,
    PLAN_COLUMNS,
    PLAN_VERSION,
    POINT_COLUMNS,
    VALIDATION_COLUMNS,
    cost_rows,
    form_verdict,
    grouped_notes,
    plan_rows,
    plan_title,
    point_rows,
    validation_rows,
    validation_verdict,
)
from pushbench.report.charts import _TRANSPORT_COLORS, Chart, _figure, _svg
from pushbench.report.html import _CSS

__all__ = ["cores_chart", "cores_chart_png", "render_plan_html"]

_PLAN_CSS = """
td small, th small { color: var(--muted); display: block; font-size: 12px; font-weight: 400; }
table.plan td { vertical-align: top; }
details { margin: 10px 0; background: white; padding: 8px 12px; border-radius: 6px; }
summary { cursor: pointer; font-weight: 600; }
"""


def _colors(plan: Plan) -> dict[str, str]:
    used: dict[str, int] = {}
    colors = {}
    for transport in plan.transports:
        palette = _TRANSPORT_COLORS.get(transport.transport, ["#6b7280"])
        index = used.get(transport.transport, 0)
        colors[transport.name] = palette[index % len(palette)]
        used[transport.transport] = index + 1
    return colors


def _compact(count: float) -> str:
    """Axis labels that fit side by side: ``100``, ``10k``, ``1M``."""
    for suffix, size in (("M", 1e6), ("k", 1e3)):
        if count >= size:
            return f"{count / size:g}{suffix}"
    return f"{count:g}"


def _clients_axis(plan: Plan, measured: list[int]) -> list[float]:
    """Log-spaced client counts from the decade of the fewest measured to 100 × the plan's."""
    low = 10.0 ** math.floor(math.log10(min([*measured, 100])))
    high = max(plan.request.clients * 100.0, low * 1e3)
    steps = round(20 * math.log10(high / low))
    return [low * (high / low) ** (i / steps) for i in range(steps + 1)]


def _draw(figure: Figure, plan: Plan) -> None:
    (ax,) = figure.axes
    colors = _colors(plan)
    clients = plan.request.clients
    measured = [p.subscribers for t in plan.transports for p in t.fit.points]
    xs = _clients_axis(plan, measured)
    if measured:
        ax.axvspan(min(measured), max(measured), color="#e5e7eb", alpha=0.8, lw=0)
        ax.text(
            math.sqrt(min(measured) * max(measured)),
            0.98,
            "measured",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=8,
            color="#6b7280",
        )
    for transport in plan.transports:
        ys = [plan.cores_at(transport.name, x) for x in xs]
        if not any(ys):
            continue
        color = colors[transport.name]
        at = transport.cpu_cores.value or 0.0
        label = f"{transport.name}: {format_value(at)} cores"
        ax.plot(xs, ys, color=color, linewidth=2, label=label)
        ax.plot([clients], [at], "o", color=color)
    ax.axvline(clients, color="#111827", linestyle="--", linewidth=1)
    ax.axhline(1.0, color="#6b7280", linestyle=":", linewidth=1)
    ax.text(xs[-1], 1.0, "1 core ", ha="right", va="bottom", fontsize=8, color="#6b7280")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel(f"connected clients (dashed: {clients:,} planned)")
    ax.set_ylabel("busy server CPU cores (log scale)")
    ax.set_title(f"CPU cores vs clients: {plan_title(plan)}")
    if plan.transports:
        ax.legend(
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            frameon=False,
            title=f"at {clients:,} clients",
            alignment="left",
        )


def cores_chart(plan: Plan) -> Chart:
    """Busy server CPU cores against connected clients, one line per transport (log-log)."""
    with _figure("plan", 9.0, 4.8) as figure:
        _draw(figure, plan)
        svg = _svg(figure, "chart-plan")
    return Chart(
        "plan",
        "CPU cores vs clients",
        "Busy server CPU cores the model predicts, per transport, as clients grow at the same "
        "messages per client (divide by the headroom for cores to provision). Grey: the "
        "connection counts actually measured; everything right of it is extrapolation.",
        svg,
    )


def cores_chart_png(plan: Plan, dpi: int = 150) -> bytes:
    """The same chart as a PNG (for a README)."""
    with _figure("plan", 9.0, 4.8) as figure:
        _draw(figure, plan)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()


def _table(headings: tuple[str, ...], rows: list[list[str]], css: str = "") -> str:
    head = "".join(
        f'<th scope="col"{"" if i == 0 else " class=num"}>{escape(h)}</th>'
        for i, h in enumerate(headings)
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td{'' if i == 0 else ' class=num'}>{cell}</td>" for i, cell in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _plan_table(plan: Plan) -> str:
    rows = [
        [
            f"{escape(cell.text)}<small>{escape(cell.basis)}</small>"
            if cell.basis
            else escape(cell.text)
            for cell in row
        ]
        for row in plan_rows(plan)
    ]
    return _table(PLAN_COLUMNS, rows, "plan")


def _transport_details(plan: Plan) -> str:
    sections = []
    for transport in plan.transports:
        items = [
            ("CPU", transport.cpu_cores.derivation or transport.cpu_cores.basis),
            ("workers", transport.workers.derivation),
            ("memory", transport.memory_bytes.derivation or transport.memory_bytes.basis),
            ("HTTP requests", transport.requests_per_s.derivation),
            ("bytes on the wire", transport.wire_bytes_per_s.derivation),
            ("latency", transport.p50_us.derivation or transport.p50_us.basis),
        ]
        listing = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items if v)
        costs = _table(
            ("cost", "value", "unit, or why it is not in the fit"),
            [[escape(c) for c in row] for row in cost_rows(transport)],
        )
        points = _table(POINT_COLUMNS, [[escape(c) for c in r] for r in point_rows(transport)])
        notes = transport.notes + [f"beyond measured: {e}" for e in transport.extrapolation]
        warnings = "".join(f'<li class="warning">{escape(n)}</li>' for n in notes)
        sections.append(
            f'<details id="transport-{escape(transport.name)}"><summary>{escape(transport.name)}'
            f"</summary><dl>{listing}</dl><h2>Fitted costs</h2>{costs}"
            f"<h2>Measured scenarios</h2>{points}"
            f'<ul class="findings">{warnings}</ul></details>'
        )
    return "".join(sections)


def _validation(plan: Plan) -> str:
    """Per transport: the runs the fit did not use, measured vs predicted; a miss is flagged."""
    sections = []
    for transport in plan.transports:
        verdict = validation_verdict(transport)
        css = ' class="warning"' if transport.validation_missed else ""
        table = ""
        if transport.validation:
            rows = [[escape(c) for c in row] for row in validation_rows(transport)]
            table = _table(VALIDATION_COLUMNS, rows)
        form = f"<p>{escape(form_verdict(transport))}</p>"
        sections.append(
            f"<h3>{escape(transport.name)}</h3><p{css}>{escape(verdict)}</p>{table}{form}"
        )
    return "".join(sections)


def _summary(plan: Plan) -> str:
    """Cheapest and dearest transport by CPU, in one sentence."""
    priced = [t for t in plan.transports if t.cpu_cores.value]
    if not priced:
        return "No transport could be priced from these inputs."
    cheap = min(priced, key=lambda t: t.cpu_cores.value or 0.0)
    dear = max(priced, key=lambda t: t.cpu_cores.value or 0.0)
    text = (
        f"{cheap.name} is the cheapest: {format_value(cheap.cpu_cores.value or 0.0)} busy cores "
        f"({format_number(cheap.workers.value or 0)} workers), p50 "
        f"{format_duration_us(cheap.p50_us.value or 0.0)}."
    )
    if dear is not cheap:
        ratio = (dear.cpu_cores.value or 0.0) / (cheap.cpu_cores.value or 1.0)
        text += f" {dear.name} needs {format_value(ratio)}× its CPU."
    return text


def render_plan_html(plan: Plan, run_id: str, sources: list[str]) -> str:
    """The complete ``plan.html`` page."""
    chart = cores_chart(plan)
    svg = chart.svg.replace("<svg ", f'<svg role="img" aria-label="{escape(chart.title)}" ', 1)
    assumptions = "".join(f"<li>{escape(a)}</li>" for a in ASSUMPTIONS)
    warnings = "".join(
        f'<li class="warning"><strong>{escape(scope)}:</strong> {escape(note)}</li>'
        for scope, note in grouped_notes(plan)
    )
    files = "".join(f"<li><code>{escape(s)}</code></li>" for s in sources)
    title = f"pushbench plan: {run_id}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{_CSS}{_PLAN_CSS}</style>
</head>
<body>
<main>
<header>
<h1>Capacity plan: {escape(plan_title(plan))}</h1>
<p>Run <code>{escape(run_id)}</code>, CPU headroom {plan.request.cpu_headroom:.0%}, round trip
{escape(format_duration_us(plan.rtt_us))} ({escape(plan.rtt_source)}).</p>
</header>
<p class="verdict" id="verdict">{escape(_summary(plan))}</p>
<section id="plan"><h2>Prediction</h2>{_plan_table(plan)}</section>
<section id="validation"><h2>Validation: runs not used by the fit, measured vs predicted
CPU</h2>{_validation(plan)}</section>
<section id="charts"><figure class="chart" id="chart-{chart.id}">{svg}
<figcaption>{escape(chart.caption)}</figcaption></figure></section>
<section id="warnings"><h2>Where the model extrapolates, and what it could not fit</h2>
<ul class="findings">{warnings}</ul></section>
<section id="model"><h2>Model</h2><pre>{escape(MODEL)}</pre></section>
<section id="transports"><h2>Per transport: derivations, fits, measured inputs</h2>
{_transport_details(plan)}</section>
<section id="assumptions"><h2>Assumptions</h2><ul>{assumptions}</ul></section>
<section id="inputs"><h2>Inputs</h2><ul>{files}</ul></section>
<footer>Generated by pushbench {escape(__version__)}, plan format version {PLAN_VERSION}.</footer>
</main>
</body>
</html>
"""
