"""``--pushbench-slo EXPR``: the gate's SLOs decide the exit code of ``locust`` itself.

A CI job that runs ``locust --headless ... --pushbench-slo 'ws.latency_us.p99<=5000'`` fails by
itself when the run misses an SLO, without a ``pushbench gate`` step after it. The expressions
are the gate's (:func:`pushbench.gate.checks.parse_slo`), checked against the same results
document the master writes, with the gate's completeness check in front of them (a run that lost
workers or was interrupted cannot vouch for its SLOs).

No Locust import here: the plugin hands the document and sets ``environment.process_exit_code``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from pushbench.core.schema import ResultsDocument
from pushbench.gate.checks import GateReport, Slo, Verdict, parse_slo, run_gate

__all__ = ["EXIT_SLO_FAILED", "check_slos", "parse_slos", "report_lines"]

#: Locust's exit code when an SLO fails: 1, as ``pushbench gate`` and as Locust's own
#: ``--exit-code-on-error`` default, so that CI treats both alike.
EXIT_SLO_FAILED: Final = 1


def parse_slos(texts: Iterable[str] | None) -> list[Slo]:
    """Every ``--pushbench-slo`` given (none: an empty list).

    Raises:
        GateInputError: A malformed expression; the message shows the expected form.
    """
    return [parse_slo(text) for text in texts or ()]


def check_slos(document: ResultsDocument, slos: Sequence[Slo]) -> GateReport:
    """The gate's verdict on ``document``: its completeness, then each SLO."""
    return run_gate(document, slos=slos)


def report_lines(report: GateReport) -> list[str]:
    """One log line per check and the decision, as plain text for Locust's log."""
    lines = []
    for check in report.checks:
        line = (
            f"{check.verdict.value.upper()} {check.check}: {check.measured} (limit {check.limit})"
        )
        if check.detail and check.verdict is not Verdict.PASS:
            line += f" - {check.detail}"
        lines.append(line)
    failed, total = len(report.failed), len(report.checks)
    if report.passed:
        lines.append(f"SLOs hold ({total} checks)")
    else:
        lines.append(f"SLOs failed: {failed} of {total} checks (exit code {EXIT_SLO_FAILED})")
    return lines
