"""What a ``pushbench ramp`` report adds: what each transport held, and latency against load.

Importing this module registers the parts for ``ramp`` documents (:mod:`pushbench.report.kinds`):
``pushbench ramp`` imports it before it renders its run, :mod:`pushbench.cli.kinds` for
``pushbench report``. What was held is recomputed from the steps (:mod:`pushbench.ramp.stop`),
so the headline can not disagree with the table.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape
from typing import TYPE_CHECKING, Final

from pushbench.core.schema import ResultsDocument, Scenario
from pushbench.ramp.stop import Held, Stop, StopReason, held_load
from pushbench.report.kinds import ReportParts, register

if TYPE_CHECKING:  # charts imports matplotlib: drawn only when the report is rendered
    from pushbench.report.charts import Chart

__all__ = ["RAMP_PARTS", "held_by_transport", "held_line"]


def _steps(document: ResultsDocument) -> dict[str, list[Scenario]]:
    steps: dict[str, list[Scenario]] = defaultdict(list)
    for scenario in document.scenarios:
        steps[str(scenario.transport)].append(scenario)
    return steps


def held_by_transport(document: ResultsDocument) -> list[Held]:
    """Per transport: the highest step held and the stop (from the last step's params; a ramp
    cut short, by Ctrl-C, has none: then the last step counts and the stop says so)."""
    found = []
    for transport, steps in _steps(document).items():
        last = steps[-1].params
        text, reason = last.get("ramp_stop"), last.get("ramp_stop_reason")
        if isinstance(text, str) and isinstance(reason, str):
            stop = Stop(StopReason(reason), text)
        else:
            stop = Stop(StopReason.MAX_STEPS, "the ramp was cut short before a step broke")
        found.append(Held(transport, held_load(steps, stop), stop))
    return found


def _load(scenario: Scenario, document: ResultsDocument) -> str:
    axis = document.config.get("axis", "subscribers")
    load = scenario.params.get("ramp_load", 0)
    if axis == "rate":
        subscribers = scenario.params.get("subscribers")
        return f"{load:g} msgs/s to {subscribers} subscribers"
    rate = scenario.params.get("rate_per_s")
    return f"{load:g} subscribers at {rate:g} msgs/s"


def held_line(held: Held, document: ResultsDocument) -> str:
    """``ws held 200 subscribers at 200 msgs/s with p99 ≤ 50 ms (then: p99 73 ms over ...)``."""
    slo = document.config.get("slo_p99_ms")
    if held.held is None:
        return f"{held.transport} held no step: {held.stop.text}"
    p99 = held.held.latency_us.p99 / 1000
    return (
        f"{held.transport} held {_load(held.held, document)} with p99 {p99:.3g} ms "
        f"(SLO {slo:g} ms); stopped: {held.stop.text}"
    )


def _headline(document: ResultsDocument) -> str | None:
    lines = [held_line(h, document) for h in held_by_transport(document)]
    return "; ".join(lines) + "." if lines else None


_COLUMNS: Final = ("transport", "held", "p99 ms there", "stopped because")


def _rows(document: ResultsDocument) -> list[tuple[str, str, str, str]]:
    rows = []
    for held in held_by_transport(document):
        there = held.held
        rows.append(
            (
                held.transport,
                _load(there, document) if there is not None else "nothing",
                f"{there.latency_us.p99 / 1000:.3g}" if there is not None else "—",
                held.stop.text,
            )
        )
    return rows


def _html(document: ResultsDocument) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in _COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>"
        for row in _rows(document)
    )
    return (
        '<section id="ramp"><h2>What each transport held</h2>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></section>"
    )


def _markdown(document: ResultsDocument) -> list[str]:
    lines = ["", "### What each transport held", "", "| " + " | ".join(_COLUMNS) + " |"]
    lines.append("| " + " | ".join("---" for _ in _COLUMNS) + " |")
    lines += ["| " + " | ".join(row) + " |" for row in _rows(document)]
    return lines


def _chart(document: ResultsDocument) -> Chart | None:
    # Here, not at the top: matplotlib takes about a second to import, needed for the HTML only.
    from pushbench.ramp.chart import ramp_chart

    return ramp_chart(document)


#: What ``ramp`` documents change in the generic report. The last step may saturate the server
#: on purpose (that is a stop condition), so saturation is not a warning.
RAMP_PARTS: Final = ReportParts(
    headline=_headline,
    saturates_server=True,
    workers_chart=_chart,
    html_sections=_html,
    markdown_sections=_markdown,
)
register("ramp", RAMP_PARTS)
