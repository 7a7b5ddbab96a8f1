"""Write a Locust run's results: ``results.json``, each scenario's intervals as an HdrHistogram
interval log (``intervals-<scenario>.hlog``, as ``compare`` writes them) and, when available,
the rendered report.

No Locust import here: the runner (``python -m pushbench.locust``) uses it outside Locust too.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pushbench.core.interval_log import write_interval_logs
from pushbench.core.schema import ResultsDocument, write_results_atomic

__all__ = ["write_report_if_available", "write_run"]

logger = logging.getLogger("pushbench")


def write_report_if_available(document: ResultsDocument, run_dir: Path) -> bool:
    """Render ``report.html``, ``summary.md`` and ``results.csv`` with ``pushbench.report``.

    Returns False when this pushbench has no renderer (the results file alone is complete).
    """
    try:
        from pushbench.report import write_report
    except ImportError:  # pragma: no cover - a pushbench without the renderer
        return False
    write_report(document, run_dir)
    return True


def write_run(document: ResultsDocument, run_dir: Path, report: bool = True) -> Path:
    """``run_dir/results.json`` (atomically) and the interval logs, then the report unless
    ``report`` is False."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "results.json"
    write_results_atomic(document, path)
    write_interval_logs(document.scenarios, run_dir)
    if report:
        write_report_if_available(document, run_dir)
    return path
