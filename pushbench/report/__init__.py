"""Turn a results document into what people read: ``report.html``, ``summary.md``, ``results.csv``.

Rendering is pure — :func:`render_report` takes a document and returns file names and texts —
and :func:`write_report` is the one function that touches the file system. One module per
output (:mod:`.html`, :mod:`.markdown`, :mod:`.csv`, with :mod:`.charts` for the SVG charts);
:mod:`.table` holds the comparison table every output shares, :mod:`.verdict` the plain-words
verdict and the warnings. What a kind of document adds (a sweep's recommendation, a micro run's
time per call) comes from its :class:`~.kinds.ReportParts` in :mod:`.kinds`, registered by the
command that writes that kind.

Example:
    >>> document = load_results("reports/latest/results.json")
    >>> write_report(document, Path("reports/latest"))
    [PosixPath('reports/latest/report.html'), PosixPath('reports/latest/summary.md'), ...]
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from pushbench.core.atomic_write import write_atomic
from pushbench.core.schema import ResultsDocument
from pushbench.report.csv import render_csv
from pushbench.report.markdown import render_markdown
from pushbench.report.table import SUMMARY_COLUMNS, scenario_label, summary_table
from pushbench.report.verdict import Finding, Severity, findings, verdict

__all__ = [
    "CSV_NAME",
    "HTML_NAME",
    "MARKDOWN_NAME",
    "SUMMARY_COLUMNS",
    "Finding",
    "Severity",
    "findings",
    "render_csv",
    "render_markdown",
    "render_report",
    "scenario_label",
    "summary_table",
    "verdict",
    "write_report",
]

HTML_NAME: Final = "report.html"
MARKDOWN_NAME: Final = "summary.md"
CSV_NAME: Final = "results.csv"


def render_report(document: ResultsDocument) -> dict[str, str]:
    """Every report file's name and text, in the order :func:`write_report` writes them."""
    # Imported here: the HTML's charts need matplotlib (about a second to import), and the
    # CLI imports this package for the table alone.
    from pushbench.report.html import render_html

    return {
        HTML_NAME: render_html(document),
        MARKDOWN_NAME: render_markdown(document),
        CSV_NAME: render_csv(document),
    }


def write_report(document: ResultsDocument, out_dir: Path) -> list[Path]:
    """Write ``report.html``, ``summary.md`` and ``results.csv`` into ``out_dir``.

    Creates ``out_dir`` (and its parents) if needed and replaces existing report files; each
    file is written atomically. The results JSON itself is not written here.

    Returns:
        The paths written, in the order above.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_report(document).items():
        path = out_dir / name
        write_atomic(path, text)
        written.append(path)
    return written
