"""What a ``pushbench sweep`` report adds: the recommendation as the verdict, the capacity chart,
the per-configuration table and the recommendation's sections.

Importing this module registers them for ``sweep`` documents (:mod:`pushbench.report.kinds`):
``pushbench sweep`` imports it before it renders its run, :mod:`pushbench.cli.kinds` for
``pushbench report``. Only documents whose scenarios carry a ``workload`` param (as ``pushbench
sweep`` writes them) get the recommendation and the table; older sweep documents render as
before. The recommendation is recomputed from the numbers (:mod:`pushbench.sweep.recommend`),
never stored, so it can not disagree with the table.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Final

from pushbench.core.kinds import Workload
from pushbench.core.schema import ResultsDocument, Scenario
from pushbench.core.units import NOT_APPLICABLE
from pushbench.report.kinds import ReportParts, register
from pushbench.sweep.recommend import recommend_document

if TYPE_CHECKING:  # charts imports matplotlib: drawn only when the report is rendered
    from pushbench.report.charts import Chart

__all__ = [
    "SWEEP_COLUMNS",
    "SWEEP_PARTS",
    "is_workload_sweep",
    "recommendation_sections",
    "sweep_html",
    "sweep_markdown",
    "sweep_rows",
]

SWEEP_COLUMNS: Final = (
    "configuration",
    "echo rt/s",
    "fan-out deliveries/s",
    "short-poll req/s",
    "push p99 ms",
    "push lost",
    "server CPU µs/msg",
    "server RSS MiB",
    "connections/worker",
    "throughput vs best",
)


def is_workload_sweep(document: ResultsDocument) -> bool:
    """Whether the sweep ``document`` is a ``pushbench sweep`` run (scenarios tagged by
    workload), not an older sweep document."""
    return any(scenario.typed_params.workload is not None for scenario in document.scenarios)


def _headline(document: ResultsDocument) -> str | None:
    """The recommendation's headline, the verdict of a sweep that can recommend."""
    recommendation = recommend_document(document) if is_workload_sweep(document) else None
    return recommendation.headline + "." if recommendation is not None else None


def _chart(document: ResultsDocument) -> Chart | None:
    """The capacity chart of a sweep tagged by workload; for an older sweep document, the
    generic throughput and p99 vs workers."""
    # Here, not at the top: both import matplotlib (about a second), needed for the HTML only.
    from pushbench.report.charts import sweep_chart
    from pushbench.sweep.chart import workload_sweep_chart

    return workload_sweep_chart(document) if is_workload_sweep(document) else sweep_chart(document)


def _label(scenario: Scenario) -> str:
    name = scenario.name
    return name.partition("/")[2].replace("/", " ") or name


def _push_lost(push: Scenario) -> str:
    """Lost deliveries, and the publishes that never left (counted in no delivery figure)."""
    text = f"{push.lost:,}"
    return text + (f", {push.publishes_failed:,} publishes failed" if push.publishes_failed else "")


def sweep_rows(document: ResultsDocument) -> tuple[tuple[str, ...], list[list[str]]]:
    """Headings and one row per configuration, in the order the sweep ran them."""
    grouped: dict[str, dict[Workload, Scenario]] = {}
    for scenario in document.scenarios:
        workload = scenario.typed_params.workload
        if workload is not None:
            grouped.setdefault(_label(scenario), {})[workload] = scenario
    recommendation = recommend_document(document)
    scores = recommendation.scores if recommendation else {}
    rows = []
    for label, by_workload in grouped.items():
        push = by_workload.get(Workload.PUSH)

        def rate(workload: Workload, group: dict[Workload, Scenario] = by_workload) -> str:
            found = group.get(workload)
            return f"{found.throughput_msgs_per_s:,.0f}" if found else NOT_APPLICABLE

        rss = max((s.server.rss_peak_bytes for s in by_workload.values() if s.server), default=None)
        cpu = push.server.cpu_us_per_delivered_msg if push and push.server else None
        spread = push.typed_params.connections_per_worker if push else None
        score = scores.get(label)
        rows.append(
            [
                label,
                rate(Workload.ECHO),
                rate(Workload.FANOUT),
                rate(Workload.POLL),
                f"{push.latency_us.p99 / 1000:.2f}" if push and push.latency_us.count else "—",
                _push_lost(push) if push else NOT_APPLICABLE,
                f"{cpu:.0f}" if cpu is not None else NOT_APPLICABLE,
                f"{rss / 2**20:.0f}" if rss else NOT_APPLICABLE,
                "/".join(str(n) for n in spread) if isinstance(spread, list) else NOT_APPLICABLE,
                f"{score:.0%}" if score else NOT_APPLICABLE,
            ]
        )
    return SWEEP_COLUMNS, rows


def recommendation_sections(document: ResultsDocument) -> list[tuple[str, list[str]]]:
    """(title, lines) of the recommendation; empty for documents that are not sweeps."""
    recommendation = recommend_document(document) if is_workload_sweep(document) else None
    if recommendation is None:
        return []
    sections = [
        ("Recommendation", [recommendation.headline, *recommendation.reasons[1:]]),
        ("Where adding workers stops helping", list(recommendation.knees)),
        ("Other options", list(recommendation.effects)),
        ("What this run could not conclude", list(recommendation.not_concluded)),
    ]
    return [(title, lines) for title, lines in sections if lines]


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def sweep_markdown(document: ResultsDocument) -> list[str]:
    """Markdown lines (a leading blank line included); none for other documents."""
    if not is_workload_sweep(document):
        return []
    headings, rows = sweep_rows(document)
    lines = ["", "### Configurations", ""]
    lines.append("| " + " | ".join(headings) + " |")
    rule = ["---" if i == 0 else "---:" for i in range(len(headings))]
    lines.append("| " + " | ".join(rule) + " |")
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    for title, items in recommendation_sections(document):
        lines += ["", f"### {title}", ""]
        lines += [f"- {_md_cell(item)}" for item in items]
    return lines


def sweep_html(document: ResultsDocument) -> str:
    """The recommendation and configuration table as HTML sections; ``""`` for others."""
    if not is_workload_sweep(document):
        return ""
    headings, rows = sweep_rows(document)
    head = "".join(
        f'<th scope="col">{escape(h)}</th>'
        if i == 0
        else f'<th class="num" scope="col">{escape(h)}</th>'
        for i, h in enumerate(headings)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{escape(c)}</td>" if i == 0 else f'<td class="num">{escape(c)}</td>'
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    parts = []
    for title, items in recommendation_sections(document):
        listing = "".join(f"<li>{escape(item)}</li>" for item in items)
        parts.append(f"<h2>{escape(title)}</h2><ul>{listing}</ul>")
    return (
        f'<section id="recommendation">{"".join(parts)}</section>'
        f'<section id="configurations"><h2>Configurations</h2>'
        f'<table id="sweep"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></section>'
    )


#: What ``sweep`` documents add to the generic report.
SWEEP_PARTS: Final = ReportParts(
    headline=_headline,
    compares_workers=True,
    workers_chart=_chart,
    html_sections=sweep_html,
    markdown_sections=sweep_markdown,
)
register("sweep", SWEEP_PARTS)
