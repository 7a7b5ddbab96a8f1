"""What a ``pushbench ramp`` report adds: what each transport held, and latency against load.

Importing this module registers the parts for ``ramp`` documents (:mod:`pushbench.report.kinds`):
``pushbench ramp`` imports it before it renders its run, :mod:`pushbench.cli.kinds` for
``pushbench report``. What was held is recomputed from the steps (:mod:`pushbench.core.ramp_stop`),
so the headline can not disagree with the table.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Final

from pushbench.core.ramp_stop import held_by_transport, held_line, load_text
from pushbench.core.schema import ResultsDocument
from pushbench.report.kinds import ReportParts, register

if TYPE_CHECKING:  # charts imports matplotlib: drawn only when the report is rendered
    from pushbench.report.charts import Chart

__all__ = ["RAMP_PARTS"]


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
                load_text(there, document) if there is not None else "nothing",
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
