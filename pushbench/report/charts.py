"""Charts as self-contained SVG text, drawn with matplotlib's object API (no pyplot, no GUI).

``Figure`` objects are created directly, never through ``pyplot``: no global figure registry to
leak, no interactive backend to pick, so this runs headless and in any thread. Text stays text in
the SVG (``svg.fonttype: none``), which keeps files small and lets the browser's fonts draw it;
ids are salted per chart so several SVGs can live inline in one HTML page, and the output is
deterministic (no date, fixed salt), which keeps golden tests stable.
"""

from __future__ import annotations

import io
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from pushbench.core.framework_tax import FRAMEWORK, LEAN, framework_tax
from pushbench.core.kinds import Transport
from pushbench.core.schema import FrameworkTax, ResultsDocument, Scenario
from pushbench.core.units import format_count, format_value
from pushbench.report.kinds import parts_for
from pushbench.report.over_time import over_time, with_intervals
from pushbench.report.table import format_tax, sweep_workers
from pushbench.report.verdict import is_sweep

__all__ = [
    "Chart",
    "charts",
    "cost_chart",
    "delivery_chart",
    "framework_tax_chart",
    "latency_chart",
    "over_time_chart",
    "sweep_chart",
]

_TRANSPORT_COLORS: Final[dict[str, list[str]]] = {
    Transport.WS: ["#2563eb", "#60a5fa", "#1e3a8a"],
    Transport.SSE: ["#16a34a", "#4ade80", "#14532d"],
    Transport.LONG_POLL: ["#d97706", "#fbbf24", "#92400e"],
    Transport.SHORT_POLL: ["#dc2626", "#f87171", "#7f1d1d", "#fb923c"],
    Transport.ECHO: ["#7c3aed", "#a78bfa"],
}
_TRANSPORT_NAMES: Final[dict[str, str]] = {
    Transport.WS: "WebSocket",
    Transport.SSE: "SSE",
    Transport.LONG_POLL: "long poll",
    Transport.SHORT_POLL: "short poll",
}
_GREY: Final = "#6b7280"
#: One colour per server flavor in the framework-tax chart: the lean floor dark, FastAPI teal.
_FLAVOR_COLORS: Final = {LEAN: "#1e3a8a", FRAMEWORK: "#0d9488"}
_RC: Final = {
    "svg.fonttype": "none",
    "font.family": ["DejaVu Sans", "sans-serif"],
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e5e7eb",
    "grid.linewidth": 0.8,
}
#: Percentile ticks of the latency chart: x = 1 / (1 - p) on a log axis.
_PERCENTILE_TICKS: Final = (
    (0.0, "0%"),
    (50.0, "50%"),
    (90.0, "90%"),
    (99.0, "99%"),
    (99.9, "99.9%"),
    (99.99, "99.99%"),
    (99.999, "99.999%"),
)


@dataclass(frozen=True, slots=True)
class Chart:
    """One rendered chart."""

    id: str
    """Stable identifier, usable as an HTML id: ``latency``, ``cost``, ``delivery``, ``sweep``."""
    title: str
    caption: str
    """How to read it, in one or two sentences."""
    svg: str
    """A complete ``<svg>`` element (no XML prolog), ready to inline in HTML."""


def colors(scenarios: Sequence[Scenario]) -> dict[str, str]:
    """One colour per scenario name: a hue per transport, shades within it."""
    used: dict[str, int] = defaultdict(int)
    out: dict[str, str] = {}
    for s in scenarios:
        palette = _TRANSPORT_COLORS.get(s.transport, [_GREY])
        out[s.name] = palette[used[s.transport] % len(palette)]
        used[s.transport] += 1
    return out


@contextmanager
def _figure(
    salt: str, width: float, height: float, ncols: int = 1, nrows: int = 1
) -> Iterator[Figure]:
    # Any: rc_context wants matplotlib's Literal key type, which a plain dict cannot carry.
    rc: Any = {**_RC, "svg.hashsalt": f"pushbench-{salt}"}
    with mpl.rc_context(rc):
        figure = Figure(figsize=(width, height), layout="constrained")
        # Rows share their x axis: one set of time labels, at the bottom (a smaller SVG too).
        figure.subplots(nrows, ncols, sharex="col" if nrows > 1 else False)
        yield figure


_ID_REF: Final = re.compile(r'(\bid="|href="#|url\(#)([^")]+)')


def _svg(figure: Figure, scope: str) -> str:
    """The figure as an ``<svg>`` element whose ids all start with ``scope``.

    matplotlib names groups ``figure_1``, ``axes_1``... in every SVG: inlined side by side,
    those would repeat, so every id and every reference to one gets the chart's prefix.
    """
    # Called inside _figure's rc_context: the SVG backend reads fonttype and salt at save time.
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :].strip()
    return _ID_REF.sub(lambda m: f"{m[1]}{scope}-{m[2]}", text)


def _axes(figure: Figure) -> list[Axes]:
    return list(figure.axes)


def _ms(value: float, _position: float | None = None) -> str:
    return f"{value:g}"


def latency_chart(document: ResultsDocument) -> Chart:
    """Latency percentile distribution per scenario (HdrHistogram style): log-log, tail to the
    right."""
    palette = colors(document.scenarios)
    with _figure("latency", 9.0, 4.6) as figure:
        (ax,) = _axes(figure)
        x_max = 10.0
        for s in document.scenarios:
            points = s.latency_us.decode_histogram().percentile_distribution()
            xs: list[float] = []
            ys: list[float] = []
            for point in points:
                x = 1 / (1 - point.percentile / 100) if point.percentile < 100 else (xs or [1])[-1]
                xs.append(x)
                ys.append(max(point.value_us, 1) / 1000)
            if xs:
                x_max = max(x_max, xs[-1])
                ax.plot(xs, ys, color=palette[s.name], linewidth=2, label=s.name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ticks = [(1 / (1 - p / 100), label) for p, label in _PERCENTILE_TICKS]
        ticks = [(x, label) for x, label in ticks if x <= x_max * 1.01]
        ax.set_xticks([x for x, _ in ticks], [label for _, label in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(1, x_max * 1.2)
        ax.yaxis.set_major_formatter(FuncFormatter(_ms))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("percentile")
        ax.set_ylabel("latency (ms, log scale)")
        ax.set_title("Latency by percentile")
        if document.scenarios:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        svg = _svg(figure, "chart-latency")
    return Chart(
        "latency",
        "Latency percentiles",
        "Each line is one scenario's full latency distribution from its HdrHistogram. Lower is "
        "better; the right-hand side is the tail (p99, p99.9) users feel as stalls.",
        svg,
    )


def _bars(ax: Axes, scenarios: Sequence[Scenario], values: list[float | None], title: str) -> None:
    palette = colors(scenarios)
    names = [s.name for s in scenarios]
    heights = [v or 0.0 for v in values]
    ax.barh(names, heights, color=[palette[n] for n in names])
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    ax.set_title(title)
    top = max(heights, default=0.0) or 1.0
    ax.set_xlim(0, top * 1.25)
    for y, value in enumerate(values):
        label = "n/a" if value is None else format_value(value)
        ax.text(heights[y] + top * 0.02, y, label, va="center", fontsize=9, color="#111827")


def cost_chart(document: ResultsDocument) -> Chart:
    """Server CPU µs and HTTP requests per delivered message, side by side."""
    scenarios = document.scenarios
    height = 1.2 + 0.45 * max(len(scenarios), 2)
    with _figure("cost", 9.0, height, ncols=2) as figure:
        cpu_ax, http_ax = _axes(figure)
        cpu = [s.server.cpu_us_per_delivered_msg if s.server else None for s in scenarios]
        _bars(cpu_ax, scenarios, cpu, "Server CPU µs per delivered message")
        http = [s.http_requests_per_delivered_msg for s in scenarios]
        _bars(http_ax, scenarios, http, "HTTP requests per delivered message")
        http_ax.tick_params(axis="y", labelleft=False)
        svg = _svg(figure, "chart-cost")
    return Chart(
        "cost",
        "Cost per delivered message",
        "What the server spent to deliver one message: CPU time of the whole server process "
        "tree, and HTTP requests (n/a: the transport makes none per message). Shorter is cheaper.",
        svg,
    )


def _tax_panel(ax: Axes, rows: Sequence[FrameworkTax], per: str, title: str) -> None:
    """A bar per flavor for each scenario, the fastapi bar labelled with its tax."""
    lean = [getattr(r, f"{LEAN}_cpu_us_per_{per}") for r in rows]
    framework = [getattr(r, f"{FRAMEWORK}_cpu_us_per_{per}") for r in rows]
    taxes = [getattr(r, f"tax_cpu_us_per_{per}") for r in rows]
    ys = list(range(len(rows)))
    top = max((v or 0.0 for v in (*lean, *framework)), default=0.0) or 1.0
    for offset, values, flavor in ((-0.2, lean, LEAN), (0.2, framework, FRAMEWORK)):
        heights = [v or 0.0 for v in values]
        ax.barh([y + offset for y in ys], heights, height=0.38, color=_FLAVOR_COLORS[flavor],
                label=flavor)  # fmt: skip
        for y, value, tax, floor in zip(ys, values, taxes, lean, strict=True):
            text = "n/a" if value is None else format_value(value)
            if flavor == FRAMEWORK and tax is not None:
                text += f"  (tax {format_tax(tax, floor)})"
            ax.text((value or 0.0) + top * 0.02, y + offset, text, va="center", fontsize=8)
    ax.set_yticks(ys, [r.scenario for r in rows])
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    ax.set_xlim(0, top * 1.7)
    ax.set_title(title)


def framework_tax_chart(document: ResultsDocument) -> Chart | None:
    """Per scenario measured under both flavors: server CPU under ``asgi`` and ``fastapi``
    side by side, per delivered message and per HTTP request; ``None`` when there is none."""
    rows = framework_tax(document.scenarios)
    if not rows:
        return None
    height = 1.4 + 0.55 * max(len(rows), 2)
    with _figure("tax", 10.0, height, ncols=2) as figure:
        msg_ax, req_ax = _axes(figure)
        _tax_panel(msg_ax, rows, "delivered_msg", "Server CPU µs per delivered message")
        _tax_panel(req_ax, rows, "http_request", "Server CPU µs per HTTP request")
        req_ax.tick_params(axis="y", labelleft=False)
        msg_ax.legend(loc="lower right", frameon=False, fontsize=9)
        svg = _svg(figure, "chart-tax")
    return Chart(
        "tax",
        "Framework tax per transport",
        f"Each transport under the {LEAN} flavor (lean ASGI: the transport's floor) and the "
        f"{FRAMEWORK} flavor (idiomatic FastAPI); the label on the {FRAMEWORK} bar is the "
        "difference, the framework's share of the cost. n/a: no HTTP requests.",
        svg,
    )


def delivery_chart(document: ResultsDocument) -> Chart:
    """Delivered vs lost, as shares of the deliveries owed."""
    scenarios = document.scenarios
    palette = colors(scenarios)
    height = 1.0 + 0.45 * max(len(scenarios), 2)
    with _figure("delivery", 9.0, height) as figure:
        (ax,) = _axes(figure)
        names = [s.name for s in scenarios]
        delivered = [100 * s.delivered / s.sent if s.sent else 0.0 for s in scenarios]
        lost = [100 * s.lost / s.sent if s.sent else 0.0 for s in scenarios]
        ax.barh(names, delivered, color=[palette[n] for n in names], label="delivered")
        ax.barh(names, lost, left=delivered, color="#111827", hatch="//", label="lost")
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        ax.set_xlim(0, 100)
        ax.set_xlabel("% of messages owed to subscribers")
        for y, s in enumerate(scenarios):
            text = f"{format_count(s.delivered)} / {format_count(s.sent)}"
            text += f", {format_count(s.lost)} lost" if s.lost else ""
            ax.text(2, y, text, va="center", fontsize=9, color="white", fontweight="bold")
        ax.set_title("Delivered vs lost")
        if scenarios:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9)
        svg = _svg(figure, "chart-delivery")
    return Chart(
        "delivery",
        "Delivered vs lost",
        "Every message a subscriber was owed, split into delivered and lost (black, hatched). "
        "Anything but a full bar is a correctness problem, not a performance one.",
        svg,
    )


def sweep_chart(document: ResultsDocument) -> Chart | None:
    """Throughput and p99 latency against uvicorn workers, one line per transport; ``None``
    unless the document is a sweep."""
    if not is_sweep(document):
        return None
    groups: dict[str, list[tuple[int, Scenario]]] = defaultdict(list)
    for s in document.scenarios:
        workers = sweep_workers(s)
        if workers is not None:
            groups[s.transport].append((workers, s))
    if not groups:
        return None
    with _figure("sweep", 9.0, 3.8, ncols=2) as figure:
        tput_ax, p99_ax = _axes(figure)
        ringed = False  # one legend entry for the red rings
        for transport, points in groups.items():
            points.sort(key=lambda point: point[0])
            color = _TRANSPORT_COLORS.get(transport, [_GREY])[0]
            xs = [w for w, _ in points]
            for ax, values in (
                (tput_ax, [s.throughput_msgs_per_s for _, s in points]),
                (p99_ax, [s.latency_us.p99 / 1000 for _, s in points]),
            ):
                label = _TRANSPORT_NAMES.get(transport, transport)
                ax.plot(xs, values, marker="o", color=color, linewidth=2, label=label)
                saturated = [
                    (w, v)
                    for (w, s), v in zip(points, values, strict=True)
                    if s.generator and s.generator.saturated
                ]
                if saturated:
                    ax.scatter(
                        [w for w, _ in saturated],
                        [v for _, v in saturated],
                        s=160,
                        facecolors="none",
                        edgecolors="#dc2626",
                        linewidths=2,
                        zorder=3,
                        label="generator saturated" if not ringed else None,
                    )
                    ringed = True
        all_workers = sorted({w for points in groups.values() for w, _ in points})
        for ax, title in ((tput_ax, "Throughput (msgs/s)"), (p99_ax, "p99 latency (ms)")):
            ax.set_xscale("log", base=2)
            ax.set_xticks(all_workers, [str(w) for w in all_workers])
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel("uvicorn workers")
            ax.set_title(title)
            ax.set_ylim(bottom=0)
        tput_ax.legend(loc="best", frameon=False)
        svg = _svg(figure, "chart-sweep")
    return Chart(
        "sweep",
        "Throughput and p99 vs workers",
        "How each transport scales with uvicorn worker processes. A red ring marks a point "
        "where the load generator was saturated: it measured itself, not the server.",
        svg,
    )


def _over_time_row(
    axes: Sequence[Axes], scenario: Scenario, color: str, last: bool, span_s: float
) -> None:
    """One scenario's row: msgs/s, latency p50/p99/max, server CPU % with RSS on a twin axis."""
    series = over_time(scenario)
    tput_ax, latency_ax, server_ax = axes
    tput_ax.plot(series.t_s, series.msgs_per_s, color=color, linewidth=1.8)
    lossy = [
        (t, v) for t, v, n in zip(series.t_s, series.msgs_per_s, series.lost, strict=True) if n
    ]
    if lossy:
        tput_ax.scatter([t for t, _ in lossy], [v for _, v in lossy], color="#111827", marker="x",
                        zorder=3, label="loss")  # fmt: skip
    tput_ax.set_ylim(bottom=0)
    tput_ax.set_ylabel(scenario.name, fontweight="bold", fontsize=8)
    for ax in (tput_ax, server_ax):
        ax.yaxis.set_major_locator(MaxNLocator(nbins=3))
    for values, style, label in (
        (series.p50_ms, ":", "p50"),
        (series.p99_ms, "-", "p99"),
        (series.max_ms, "--", "max"),
    ):
        points = [
            (t, max(v, 0.001))
            for t, v, timed in zip(series.t_s, values, series.timed, strict=True)
            if timed
        ]
        latency_ax.plot([t for t, _ in points], [v for _, v in points], linestyle=style,
                        color=color, linewidth=1.6, label=label)  # fmt: skip
    if not any(series.timed):
        latency_ax.text(0.5, 0.5, "deliveries counted, not timed", ha="center", va="center",
                        transform=latency_ax.transAxes, color=_GREY)  # fmt: skip
    latency_ax.set_yscale("log")
    latency_ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 3.0), numticks=4))
    latency_ax.yaxis.set_major_formatter(FuncFormatter(_ms))
    latency_ax.yaxis.set_minor_formatter(NullFormatter())
    cpu = [(t, v) for t, v in zip(series.t_s, series.cpu_percent, strict=True) if v is not None]
    rss = [(t, v) for t, v in zip(series.t_s, series.rss_mb, strict=True) if v is not None]
    if cpu:
        server_ax.plot([t for t, _ in cpu], [v for _, v in cpu], color=color, linewidth=1.8,
                       label="CPU %")  # fmt: skip
        server_ax.set_ylim(bottom=0, top=max(100.0, *(v for _, v in cpu)) * 1.05)
        rss_ax = server_ax.twinx()
        rss_ax.plot([t for t, _ in rss], [v for _, v in rss], color=_GREY, linestyle="--",
                    linewidth=1.4, label="RSS MiB")  # fmt: skip
        rss_ax.set_ylim(bottom=0, top=max(v for _, v in rss) * 1.3)
        rss_ax.grid(visible=False)
        rss_ax.spines["right"].set_visible(True)
        rss_ax.tick_params(axis="y", labelsize=8, colors=_GREY)
        rss_ax.yaxis.set_major_locator(MaxNLocator(nbins=3))
    else:
        server_ax.text(0.5, 0.5, "server not sampled", ha="center", va="center",
                       transform=server_ax.transAxes, color=_GREY)  # fmt: skip
    for ax in axes:
        ax.set_xlim(0, span_s)
        if last:
            ax.set_xlabel("seconds into the measured window")


def over_time_chart(document: ResultsDocument) -> Chart | None:
    """Per scenario with intervals, a row: throughput, latency p50/p99/max and server CPU/RSS
    against time; ``None`` when no scenario has intervals (schema version 1 documents)."""
    scenarios = with_intervals(document)
    if not scenarios:
        return None
    palette = colors(document.scenarios)
    rows = len(scenarios)
    span = max(s.intervals[-1].start_s + s.intervals[-1].duration_s for s in scenarios)
    with _figure("overtime", 10.0, 0.6 + 1.7 * rows, ncols=3, nrows=rows) as figure:
        axes = _axes(figure)
        for row, scenario in enumerate(scenarios):
            cells = axes[3 * row : 3 * row + 3]
            _over_time_row(cells, scenario, palette[scenario.name], row == rows - 1, span)
        for ax, title in zip(
            axes[:3],
            (
                "Delivered msgs/s",
                "Latency p50 · p99 · max (ms, log)",
                "Server CPU % · RSS MiB (grey)",
            ),
            strict=True,
        ):
            ax.set_title(title)
        handles, labels = axes[1].get_legend_handles_labels()
        figure.legend(handles, labels, loc="outside lower center", frameon=False, ncols=3)
        svg = _svg(figure, "chart-overtime")
    width = next((s.interval_s for s in scenarios if s.interval_s), None)
    per = f"{width:g} s" if width else "interval"
    return Chart(
        "overtime",
        "Over time",
        f"Each row is one scenario's measured window in {per} intervals, every message in the "
        "interval it was scheduled in (a closed loop's round trip or request: sent in): "
        "delivered messages per second (x: an interval with "
        "loss), its latency p50 (dotted), p99 and max (dashed), and the server's CPU % of one "
        "core with its RSS (grey, right axis). Flat lines are a steady run; a rising line is "
        "warm-up, a leak or a queue building up.",
        svg,
    )


def charts(document: ResultsDocument) -> list[Chart]:
    """Every chart that applies to ``document``, in page order: the kind's
    (:class:`~pushbench.report.kinds.ReportParts`) or else the generic workers chart first."""
    parts = parts_for(document)
    if not parts.cost_charts:  # micro: no server cost, nothing to lose: time per call only
        return [latency_chart(document)]
    found = [latency_chart(document), cost_chart(document), delivery_chart(document)]
    tax = framework_tax_chart(document)
    found = [found[0], found[1], tax, found[2]] if tax is not None else found
    over = over_time_chart(document)
    if over is not None:
        found.append(over)
    sweep = (parts.workers_chart or sweep_chart)(document)
    return [sweep, *found] if sweep is not None else found
