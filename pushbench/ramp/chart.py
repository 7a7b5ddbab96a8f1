"""The chart a ``pushbench ramp`` report leads with: p50 and p99 against the load, per transport
(the hockey stick), with the SLO drawn across.

Drawn with the report's matplotlib helpers (:mod:`pushbench.report.charts`); imported only when
the HTML is drawn.
"""

from __future__ import annotations

from collections import defaultdict

from pushbench.core.schema import ResultsDocument, Scenario
from pushbench.report.charts import _GREY, _TRANSPORT_COLORS, Chart, _axes, _figure, _svg

__all__ = ["ramp_chart"]


def ramp_chart(document: ResultsDocument) -> Chart | None:
    """Latency against load per transport; None for a document without ramp steps."""
    steps: dict[str, list[tuple[float, Scenario]]] = defaultdict(list)
    for s in document.scenarios:
        load = s.params.get("ramp_load")
        if isinstance(load, int | float):
            steps[str(s.transport)].append((float(load), s))
    if not steps:
        return None
    axis = document.config.get("axis", "subscribers")
    slo = document.config.get("slo_p99_ms")
    with _figure("ramp", 9.0, 3.8) as figure:
        (ax,) = _axes(figure)
        for transport, points in steps.items():
            color = _TRANSPORT_COLORS.get(transport, [_GREY])[0]
            xs = [load for load, _ in points]
            ax.plot(xs, [s.latency_us.p99 / 1000 for _, s in points], marker="o", color=color,
                    linewidth=2, label=f"{transport} p99")  # fmt: skip
            ax.plot(xs, [s.latency_us.p50 / 1000 for _, s in points], marker=".", color=color,
                    linewidth=1, linestyle="--", label=f"{transport} p50")  # fmt: skip
        if isinstance(slo, int | float):
            ax.axhline(slo, color=_GREY, linewidth=1, linestyle=":", label=f"SLO {slo:g} ms")
        ax.set_yscale("log")
        ax.set_xlabel("subscribers" if axis == "subscribers" else "messages per second")
        ax.set_ylabel("latency (ms, log)")
        ax.set_title("Latency against load, step by step")
        ax.legend(loc="best", frameon=False, fontsize=7)
        svg = _svg(figure, "chart-ramp")
    return Chart(
        "ramp",
        "Latency against load",
        "Each point is one step of the ramp on the same server; where p99 turns up and crosses "
        "the dotted SLO, the transport has reached what it can hold.",
        svg,
    )
