"""The chart a ``pushbench sweep`` report leads with: capacity per workload and push p99 against
uvicorn workers, one line per loop / WebSocket / HTTP implementation.

Drawn with the report's matplotlib helpers (:mod:`pushbench.report.charts`), so it looks like
every other chart; imported only when a sweep's charts are drawn (matplotlib takes about a second
to import, and the CLI imports :mod:`pushbench.sweep.report` for its table alone).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Final

from matplotlib.ticker import NullFormatter

from pushbench.core.kinds import Transport, Workload
from pushbench.core.schema import ResultsDocument, Scenario
from pushbench.report.charts import _GREY, _TRANSPORT_COLORS, Chart, _axes, _figure, _svg
from pushbench.report.table import sweep_workers

__all__ = ["workload_sweep_chart"]

_WORKLOAD_COLORS: Final = {
    Workload.ECHO: _TRANSPORT_COLORS[Transport.ECHO],
    Workload.FANOUT: _TRANSPORT_COLORS[Transport.WS],
    Workload.POLL: _TRANSPORT_COLORS[Transport.SHORT_POLL],
    Workload.PUSH: _TRANSPORT_COLORS[Transport.SSE],
}


def workload_sweep_chart(document: ResultsDocument) -> Chart | None:
    """``pushbench sweep``: capacity per workload (log scale) and push p99 against workers, one
    line per (workload, loop / WebSocket / HTTP implementation)."""
    groups: dict[tuple[Workload, str], list[tuple[int, Scenario]]] = defaultdict(list)
    for s in document.scenarios:
        params = s.typed_params
        workers, workload = sweep_workers(s), params.workload
        if workers is None or workload is None:
            continue
        series = " ".join(v or "?" for v in (params.loop, params.ws_impl, params.http_impl))
        flavor = params.flavor
        series += f" {flavor}" if flavor is not None and flavor != "asgi" else ""
        groups[(workload, series)].append((workers, s))
    if not groups:
        return None
    used: dict[Workload, int] = defaultdict(int)
    with _figure("sweep", 10.0, 4.2, ncols=2) as figure:
        tput_ax, p99_ax = _axes(figure)
        for (workload, series), points in groups.items():
            points.sort(key=lambda point: point[0])
            palette = _WORKLOAD_COLORS.get(workload, [_GREY])
            color = palette[used[workload] % len(palette)]
            used[workload] += 1
            xs = [w for w, _ in points]
            if workload == Workload.PUSH:
                ys = [s.latency_us.p99 / 1000 for _, s in points]
                p99_ax.plot(xs, ys, marker="o", color=color, linewidth=2, label=series)
            else:
                ys = [max(s.throughput_msgs_per_s, 1.0) for _, s in points]
                label = f"{workload} {series}"
                tput_ax.plot(xs, ys, marker="o", color=color, linewidth=2, label=label)
        all_workers = sorted({w for points in groups.values() for w, _ in points})
        for ax, title in (
            (tput_ax, "Throughput at saturation (ops/s, log)"),
            (p99_ax, "Push p99 latency at a fixed rate (ms)"),
        ):
            ax.set_xscale("log", base=2)
            ax.set_xticks(all_workers, [str(w) for w in all_workers])
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel("uvicorn workers")
            ax.set_title(title)
            if ax.lines:
                ax.legend(loc="best", frameon=False, fontsize=7)
        tput_ax.set_yscale("log")
        p99_ax.set_ylim(bottom=0)
        svg = _svg(figure, "chart-sweep")
    return Chart(
        "sweep",
        "Throughput and p99 vs workers",
        "Left: echo round trips, fan-out deliveries and short-poll requests per second at "
        "saturation; right: push p99 at the same open-loop rate. One line per loop / WebSocket "
        "/ HTTP implementation; where a line flattens, more workers stop helping.",
        svg,
    )
