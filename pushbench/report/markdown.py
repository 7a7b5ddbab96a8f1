"""``summary.md``: a compact Markdown summary that reads well as a GitHub Actions job summary.

GitHub renders tables, blockquotes and ``<details>`` in ``$GITHUB_STEP_SUMMARY``; the summary
uses nothing else, so it also reads fine as plain text.
"""

from __future__ import annotations

import json

from pushbench.core.schema import ResultsDocument
from pushbench.report.deflate_table import DEFLATE_COLUMNS, DEFLATE_NOTE, deflate_table
from pushbench.report.kinds import parts_for
from pushbench.report.over_time import over_time_line, with_intervals
from pushbench.report.table import (
    NUMERIC_COLUMNS,
    SUMMARY_COLUMNS,
    TAX_COLUMNS,
    cpu_clock_note,
    harness_floor_note,
    summary_table,
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
from pushbench.report.verdict import Severity, findings, verdict_lines

__all__ = ["render_markdown"]

_ICONS = {Severity.ERROR: "❌", Severity.WARNING: "⚠️"}


def _cell(text: str) -> str:
    # A pipe would end the cell; a newline would end the table.
    return text.replace("|", "\\|").replace("\n", " ")


def _table(
    headings: tuple[str, ...], rows: list[list[str]], numeric: frozenset[int] = frozenset()
) -> list[str]:
    rule = ["---:" if i in numeric else "---" for i in range(len(headings))]
    return [
        "| " + " | ".join(_cell(h) for h in headings) + " |",
        "| " + " | ".join(rule) + " |",
        *("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows),
    ]


def _verdict(document: ResultsDocument) -> list[str]:
    said = verdict_lines(document)
    if len(said) == 1:
        return [f"**Verdict:** {said[0]}"]
    return ["**Verdict:**", "", *(f"- {_cell(line)}" for line in said)]


def _framework_tax(document: ResultsDocument) -> list[str]:
    rows = tax_table(document)
    if not rows:
        return []
    numeric = frozenset(range(1, len(TAX_COLUMNS)))
    return [
        "",
        "### Framework tax: the same transport under `fastapi` and `asgi`",
        "",
        *_table(TAX_COLUMNS, rows, numeric),
        "",
        "Server CPU per delivered message and per HTTP request under each flavor of the "
        "reference server; the tax is `fastapi` minus `asgi` (the transport's lean-ASGI floor).",
    ]


def _tls(document: ResultsDocument) -> list[str]:
    lines: list[str] = []
    for title, columns, rows, note in (
        (
            "TLS: each scenario over plain TCP and over TLS",
            TLS_COLUMNS,
            tls_table(document),
            TLS_NOTE,
        ),
        (
            "TLS handshake: a connection's setup over each",
            HANDSHAKE_COLUMNS,
            handshake_table(document),
            HANDSHAKE_NOTE,
        ),
    ):
        if rows:
            numeric = frozenset(range(1, len(columns)))
            lines += ["", f"### {title}", "", *_table(columns, rows, numeric), "", note]
    return lines


def _deflate(document: ResultsDocument) -> list[str]:
    rows = deflate_table(document)
    if not rows:
        return []
    numeric = frozenset(range(3, len(DEFLATE_COLUMNS)))
    title = "### WebSocket bytes on the wire, with the permessage-deflate setting of each"
    return ["", title, "", *_table(DEFLATE_COLUMNS, rows, numeric), "", DEFLATE_NOTE]


def _over_time(document: ResultsDocument) -> list[str]:
    """A line per scenario with intervals: the range its figures moved in over the run."""
    scenarios = with_intervals(document)
    if not scenarios:
        return []
    lines = ["", "### Over time", ""]
    lines += [f"- `{s.name}`: {_cell(over_time_line(s))}" for s in scenarios]
    return lines


def servers_note(document: ResultsDocument) -> str | None:
    """``Served by granian 2.8.9.``: the ASGI server(s) the figures belong to, from the config
    (``asgi_server``, or a sweep's ``asgi_servers``); None for runs that do not say."""
    config = document.config
    records = config.get("asgi_servers") or [config.get("asgi_server")]
    names = [
        f"{r['name']} {r.get('version') or '(version unknown)'}"
        for r in records
        if isinstance(r, dict) and isinstance(r.get("name"), str)
    ]
    return f"Served by {', '.join(names)}." if names else None


def render_markdown(document: ResultsDocument) -> str:
    """The Markdown summary of ``document``: verdict, comparison table, framework tax, the
    kind's own sections, warnings, run details."""
    clock = cpu_clock_note(document)
    floor = harness_floor_note(document)
    served = servers_note(document)
    lines = [
        f"## pushbench {document.kind}: `{document.run_id}`",
        "",
        *_verdict(document),
        "",
        *_table(SUMMARY_COLUMNS, summary_table(document), NUMERIC_COLUMNS),
        "",
        "Latency in ms from the *scheduled* send time (open loop); percentiles from HdrHistogram.",
        *([clock] if clock else []),
        *([served] if served else []),
        *(["", floor] if floor else []),
        *_framework_tax(document),
        *_tls(document),
        *_deflate(document),
        *parts_for(document).markdown_sections(document),
        *_over_time(document),
    ]
    found = findings(document)
    if found:
        lines += ["", f"### Warnings ({len(found)})", ""]
        lines += [f"- {_ICONS[f.severity]} {_cell(f.text)}" for f in found]
    env = document.environment
    details = [
        ("run id", f"`{document.run_id}`"),
        ("started", document.started_at.isoformat()),
        ("finished", document.finished_at.isoformat() if document.finished_at else "—"),
        ("python", env.python),
        ("platform", env.platform),
        ("CPUs", str(env.cpu_count) if env.cpu_count else "—"),
        ("git commit", f"`{env.git_commit[:12]}`" if env.git_commit else "—"),
        ("packages", ", ".join(f"{name} {version}" for name, version in env.packages.items())),
        ("config", f"`{json.dumps(document.config, separators=(',', ':'))}`"),
    ]
    lines += ["", "<details><summary>Run details</summary>", ""]
    lines += _table(("", ""), [[name, value] for name, value in details])
    lines += ["", "</details>", ""]
    return "\n".join(lines)
