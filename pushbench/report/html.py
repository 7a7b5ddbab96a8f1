"""``report.html``: one self-contained page: verdict, warnings, table, charts, run metadata.

Self-contained means viewable offline and attachable anywhere: styles inline, charts as inline
SVG, no script, no font or image fetched from anywhere. Every piece of text from the document is
escaped, since scenario names and errors come from the run.
"""

from __future__ import annotations

import json
from html import escape

from pushbench import __version__
from pushbench.core.completeness import is_complete
from pushbench.core.schema import ResultsDocument
from pushbench.report.charts import Chart, charts
from pushbench.report.deflate_table import DEFLATE_COLUMNS, DEFLATE_NOTE, deflate_table
from pushbench.report.kinds import parts_for
from pushbench.report.table import (
    NUMERIC_COLUMNS,
    SUMMARY_COLUMNS,
    TAX_COLUMNS,
    cpu_clock_note,
    harness_floor_note,
    scenario_label,
    summary_row,
    tax_table,
)
from pushbench.report.tls_tables import (
    HANDSHAKE_COLUMNS,
    HANDSHAKE_NOTE,
    TLS_COLUMNS,
    TLS_NOTE,
    handshake_table,
    tls_table,
)
from pushbench.report.verdict import Finding, Severity, findings, verdict_lines

__all__ = ["render_html"]

_CSS = """
:root { color-scheme: light; --ink: #111827; --muted: #6b7280; --line: #e5e7eb;
  --error: #b91c1c; --error-bg: #fef2f2; --warn: #92400e; --warn-bg: #fffbeb; --ok: #166534; }
* { box-sizing: border-box; }
body { margin: 0; background: #f9fafb; color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 20px 48px; }
header h1 { font-size: 22px; margin: 0 0 4px; }
header p { margin: 0; color: var(--muted); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px;
  font-weight: 600; margin-left: 6px; vertical-align: middle; }
.badge.ok { background: #dcfce7; color: var(--ok); }
.badge.error { background: var(--error-bg); color: var(--error); }
.verdict + .verdict { margin-top: -12px; }
.verdict { font-size: 18px; line-height: 1.45; background: white; border-left: 5px solid #2563eb;
  padding: 14px 18px; margin: 20px 0; border-radius: 6px; box-shadow: 0 1px 2px #0000000f; }
section { margin: 28px 0; }
h2 { font-size: 17px; margin: 0 0 10px; }
.findings { list-style: none; padding: 0; margin: 0; }
.findings li { padding: 5px 12px; margin: 3px 0; border-radius: 6px; font-size: 14px; }
.findings li.error { background: var(--error-bg); color: var(--error); }
.findings li.warning { background: var(--warn-bg); color: var(--warn); }
table { border-collapse: collapse; width: 100%; background: white; font-size: 14px; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: left; }
th { background: #f3f4f6; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.bad { color: var(--error); font-weight: 600; }
td small { color: var(--muted); display: block; }
figure { margin: 0 0 24px; background: white; padding: 12px; border-radius: 6px;
  box-shadow: 0 1px 2px #0000000f; }
figure svg { display: block; width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
pre { background: white; padding: 10px; border-radius: 6px; overflow-x: auto; font-size: 13px; }
p.note { color: var(--muted); font-size: 13px; margin: 6px 0 0; }
footer { color: var(--muted); font-size: 13px; margin-top: 40px; }
"""

_NOTES = (
    "Latency is receive time minus the <em>scheduled</em> send time (open loop), on one host's "
    "monotonic clock, so a stalled server shows up instead of hiding (coordinated omission).",
    "Percentiles come from HdrHistogram (1 µs resolution); scenarios are never averaged.",
    "Server CPU covers the whole uvicorn process tree during the scenario, divided by the "
    "messages delivered. Short polling costs requests even when nothing is new.",
    "Short-poll latency should sit near half the poll interval plus a round trip: a quick "
    "sanity check of the measurement.",
)


def _finding(item: Finding) -> str:
    label = "Error" if item.severity is Severity.ERROR else "Warning"
    return f'<li class="{item.severity.value}"><strong>{label}:</strong> {escape(item.text)}</li>'


def _summary_table(document: ResultsDocument) -> str:
    head = "".join(
        f'<th class="num" scope="col">{escape(c)}</th>'
        if i in NUMERIC_COLUMNS
        else f'<th scope="col">{escape(c)}</th>'
        for i, c in enumerate(SUMMARY_COLUMNS)
    )
    lost_column = SUMMARY_COLUMNS.index("lost")
    published_column = SUMMARY_COLUMNS.index("published / attempted")
    rows = []
    for scenario in document.scenarios:
        cells = summary_row(scenario)
        tds = [f"<td>{escape(cells[0])}<small>{escape(scenario_label(scenario))}</small></td>"]
        for i, cell in enumerate(cells[1:], start=1):
            bad = (i == lost_column and scenario.lost > 0) or (
                i == published_column and scenario.publishes_failed > 0
            )
            classes = "num bad" if bad else "num"
            tds.append(f'<td class="{classes}">{escape(cell)}</td>')
        rows.append("<tr>" + "".join(tds) + "</tr>")
    return (
        f'<table id="summary"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _framework_tax(document: ResultsDocument) -> str:
    rows = tax_table(document)
    if not rows:
        return ""
    return (
        '<section id="framework-tax"><h2>Framework tax: the same transport under fastapi and '
        f"asgi</h2>{_plain_table('tax', TAX_COLUMNS, rows)}"
        "<p>Server CPU per delivered message and per HTTP request under each flavor of the "
        "reference server; the tax is <code>fastapi</code> minus <code>asgi</code> (the "
        "transport's lean-ASGI floor).</p></section>"
    )


def _plain_table(table_id: str, columns: tuple[str, ...], rows: list[list[str]]) -> str:
    head = "".join(
        f'<th class="num" scope="col">{escape(c)}</th>'
        if i
        else f'<th scope="col">{escape(c)}</th>'
        for i, c in enumerate(columns)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{escape(cell)}</td>' if i else f"<td>{escape(cell)}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _tls(document: ResultsDocument) -> str:
    costs, handshakes = tls_table(document), handshake_table(document)
    if not costs and not handshakes:
        return ""
    parts = ['<section id="tls"><h2>TLS: what it costs over plain TCP, in the same run</h2>']
    if costs:
        parts += [_plain_table("tls-cost", TLS_COLUMNS, costs), f"<p>{escape(TLS_NOTE)}</p>"]
    if handshakes:
        parts += [
            _plain_table("tls-handshake", HANDSHAKE_COLUMNS, handshakes),
            f"<p>{escape(HANDSHAKE_NOTE)}</p>",
        ]
    return "".join(parts) + "</section>"


def _deflate(document: ResultsDocument) -> str:
    rows = deflate_table(document)
    if not rows:
        return ""
    return (
        '<section id="deflate"><h2>WebSocket bytes on the wire, with the permessage-deflate '
        "setting of each</h2>"
        + _plain_table("deflate", DEFLATE_COLUMNS, rows)
        + f"<p>{escape(DEFLATE_NOTE)}</p></section>"
    )


def _verdicts(document: ResultsDocument) -> str:
    lines = verdict_lines(document)
    ids = ["verdict", *(f"verdict-{i}" for i in range(1, len(lines)))]
    return "\n".join(
        f'<p class="verdict" id="{id_}">{escape(line)}</p>'
        for id_, line in zip(ids, lines, strict=True)
    )


def _figure(chart: Chart) -> str:
    svg = chart.svg.replace("<svg ", f'<svg role="img" aria-label="{escape(chart.title)}" ', 1)
    return (
        f'<figure class="chart" id="chart-{chart.id}">{svg}'
        f"<figcaption>{escape(chart.caption)}</figcaption></figure>"
    )


def _metadata(document: ResultsDocument) -> str:
    env = document.environment
    duration = "—"
    if document.finished_at is not None:
        duration = f"{(document.finished_at - document.started_at).total_seconds():,.1f} s"
    items = [
        ("run id", document.run_id),
        ("kind", document.kind),
        ("started", document.started_at.isoformat()),
        ("duration", duration),
        ("python", env.python),
        ("platform", env.platform),
        ("CPUs", str(env.cpu_count) if env.cpu_count else "—"),
        ("git commit", env.git_commit or "—"),
        ("packages", ", ".join(f"{n} {v}" for n, v in env.packages.items()) or "—"),
    ]
    listing = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items)
    params = {s.name: s.params for s in document.scenarios}
    return (
        f"<dl>{listing}</dl>"
        f"<h2>Configuration</h2><pre>{escape(json.dumps(document.config, indent=2))}</pre>"
        f"<h2>Scenario parameters</h2><pre>{escape(json.dumps(params, indent=2))}</pre>"
    )


def render_html(document: ResultsDocument) -> str:
    """The complete HTML page for ``document``.

    Sections, top to bottom: title with a status badge, the verdict in plain words, the
    comparison table, the framework tax and the kind's own sections (if any), warnings (if
    any), the charts (throughput and p99 vs workers for sweeps, latency percentiles, cost per
    message, delivered vs lost), how to read the numbers, and the run's metadata.
    """
    found = findings(document)
    badge = '<span class="badge ok">complete</span>'
    if document.interrupted:
        badge = '<span class="badge error">interrupted: partial results</span>'
    elif not is_complete(document):
        badge = '<span class="badge error">incomplete: see the errors</span>'
    started = document.started_at.strftime("%Y-%m-%d %H:%M:%S %Z")
    warnings = ""
    if found:
        errors = sum(1 for f in found if f.severity is Severity.ERROR)
        title = f"Warnings ({len(found)}{f', {errors} errors' if errors else ''})"
        items = "".join(_finding(f) for f in found)
        warnings = (
            f'<section id="warnings"><h2>{title}</h2><ul class="findings">{items}</ul></section>'
        )
    figures = "".join(_figure(chart) for chart in charts(document))
    sections = parts_for(document).html_sections(document)
    clock = cpu_clock_note(document)
    notes = "".join(f"<li>{note}</li>" for note in _NOTES)
    clock_line = f'<p class="note" id="cpu-clock-note">{escape(clock)}</p>' if clock else ""
    floor = harness_floor_note(document)
    if floor:
        clock_line += f'<p class="note" id="harness-floor-note">{escape(floor)}</p>'
    title = f"pushbench {document.kind}: {document.run_id}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<header>
<h1>Push vs poll: pushbench {escape(document.kind)} {badge}</h1>
<p>Run <code>{escape(document.run_id)}</code>, started {escape(started)},
{len(document.scenarios)} scenarios, {escape(document.environment.python)}.</p>
</header>
{_verdicts(document)}
<section id="comparison"><h2>Comparison</h2>{_summary_table(document)}{clock_line}</section>
{_framework_tax(document)}{_tls(document)}{_deflate(document)}{sections}
{warnings}
<section id="charts"><h2>Charts</h2>{figures}</section>
<section id="notes"><h2>How to read these numbers</h2><ul>{notes}</ul></section>
<section id="run"><h2>Run</h2>{_metadata(document)}</section>
<footer>Generated by pushbench {escape(__version__)} from results schema version
{document.schema_version}.</footer>
</main>
</body>
</html>
"""
