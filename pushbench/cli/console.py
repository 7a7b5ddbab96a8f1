"""What every ``pushbench`` command prints the same way: the stdout console, one-line errors,
exit codes, loading a results file, and the summary and framework-tax tables.

Exit codes: 0 done (every check holds), 1 a check failed or the run could not finish, 2 unusable
input (a file missing or invalid, a bad option value).
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pushbench.cli.options import err
from pushbench.core.micro_convert import load_any_results
from pushbench.core.schema import ResultsDocument

# Not pushbench.report itself: it imports matplotlib (~1 s), which only `report` needs.
from pushbench.report.deflate_table import DEFLATE_COLUMNS, deflate_table
from pushbench.report.table import (
    NUMERIC_COLUMNS,
    SUMMARY_COLUMNS,
    TAX_COLUMNS,
    cpu_clock_note,
    harness_floor_note,
    summary_table,
    tax_table,
)
from pushbench.report.tls_tables import HANDSHAKE_COLUMNS, TLS_COLUMNS, handshake_table, tls_table

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_UNUSABLE",
    "Unusable",
    "load_document",
    "print_error",
    "stdout_console",
    "summary_rich_table",
    "tax_rich_table",
    "tls_rich_tables",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNUSABLE = 2


class Unusable(Exception):
    """Input a command cannot use; the message is the one-line reason."""


def stdout_console() -> Console:
    """The console results go to; on a pipe (CI logs) at least 160 columns wide."""
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 160)  # CI logs: do not squeeze tables to 80 columns
    return console


def print_error(message: str) -> None:
    """``error: <message>`` on stderr, as one line."""
    err.print(f"[red]error:[/red] {escape(' '.join(message.split()))}", soft_wrap=True)


def load_document(path: Path, what: str) -> ResultsDocument:
    """A results document, or pytest-benchmark JSON converted; :class:`Unusable` says why not."""
    try:
        return load_any_results(path)
    except OSError as exc:
        raise Unusable(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # SchemaError, or bytes that are not UTF-8
        raise Unusable(f"unusable {what}: {exc}") from None


def summary_rich_table(document: ResultsDocument) -> Table:
    """The comparison table (:func:`pushbench.report.summary_table`) as a ``rich`` table."""
    table = Table(title=f"pushbench {document.kind}: {document.run_id}", title_justify="left")
    for i, column in enumerate(SUMMARY_COLUMNS):
        # no_wrap on the name: ``short-poll@0.1@fastapi`` cut to ``short-poll@0.1@…`` would hide
        # the flavor, the one thing that tells two rows apart.
        numeric = i in NUMERIC_COLUMNS
        table.add_column(column, justify="right" if numeric else "left", no_wrap=not numeric)
    for row in summary_table(document):
        table.add_row(*(escape(cell) for cell in row))
    notes = [note for note in (cpu_clock_note(document), harness_floor_note(document)) if note]
    table.caption = "\n".join(notes) or None
    table.caption_justify = "left"
    return table


def tls_rich_tables(document: ResultsDocument) -> list[Table]:
    """The TLS cost and handshake tables (:mod:`pushbench.report.tls_tables`) a ``compare
    --tls`` document has, and the WebSocket bytes table (:mod:`pushbench.report.deflate_table`)
    of a document whose ws scenarios measured them; none for other documents."""
    tables = []
    for title, columns, rows in (
        ("TLS: server CPU over TLS and over plain TCP", TLS_COLUMNS, tls_table(document)),
        ("TLS handshake: a connection's setup", HANDSHAKE_COLUMNS, handshake_table(document)),
        ("WebSocket bytes on the wire (measured)", DEFLATE_COLUMNS, deflate_table(document)),
    ):
        if not rows:
            continue
        table = Table(title=title, title_justify="left")
        for i, column in enumerate(columns):
            table.add_column(column, justify="right" if i else "left")
        for row in rows:
            table.add_row(*(escape(cell) for cell in row))
        tables.append(table)
    return tables


def tax_rich_table(document: ResultsDocument) -> Table | None:
    """The framework-tax table (:func:`pushbench.report.table.tax_table`), or None when no
    scenario ran under both flavors."""
    rows = tax_table(document)
    if not rows:
        return None
    table = Table(title="framework tax: fastapi minus asgi server CPU", title_justify="left")
    for i, column in enumerate(TAX_COLUMNS):
        table.add_column(column, justify="right" if i else "left")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    return table
