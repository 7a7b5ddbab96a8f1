"""The gate as every command runs it: ``pushbench gate`` and the run commands' ``--baseline`` /
``--slo`` options (compare, sweep) print the same table and exit the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pushbench.cli.console import (
    EXIT_UNUSABLE,
    Unusable,
    load_document,
    print_error,
    stdout_console,
)
from pushbench.core.schema import ResultsDocument
from pushbench.gate.checks import (
    DEFAULT_MAX_REGRESSION_PCT,
    GateInputError,
    GateReport,
    Verdict,
    parse_slo,
    run_gate,
)
from pushbench.gate.config import GateConfig, find_pyproject, load_gate_config

__all__ = ["gate_table", "print_gate_report", "run_gate_command"]

_VERDICT_STYLES = {Verdict.PASS: "green", Verdict.FAIL: "bold red", Verdict.SKIP: "dim"}


def gate_table(report: GateReport, title: str) -> Table:
    """The gate's checks as a ``rich`` table: check, measured, limit, verdict."""
    table = Table(title=title, title_justify="left")
    table.add_column("check")
    table.add_column("measured", justify="right")
    table.add_column("limit", justify="right")
    table.add_column("verdict")
    for check in report.checks:
        style = _VERDICT_STYLES[check.verdict]
        table.add_row(
            escape(check.check),
            escape(check.measured),
            escape(check.limit),
            f"[{style}]{check.verdict.value.upper()}[/{style}]",
        )
    return table


def print_gate_report(report: GateReport, document: ResultsDocument, console: Console) -> None:
    """The table, the reasons of every failed or skipped check, the notes, the decision."""
    for warning in report.warnings:
        console.print(f"[yellow]warning[/yellow]: {escape(warning)}", soft_wrap=True)
    console.print(gate_table(report, f"pushbench gate: {document.run_id}"))
    for check in report.checks:
        if check.detail and check.verdict is not Verdict.PASS:
            mark = "✗" if check.verdict is Verdict.FAIL else "·"
            console.print(f"{mark} {escape(check.check)}: {escape(check.detail)}", soft_wrap=True)
    for note in report.notes:
        console.print(f"note: {escape(note)}", soft_wrap=True)
    failed, total = len(report.failed), len(report.checks)
    skipped = sum(1 for c in report.checks if c.verdict is Verdict.SKIP)
    if report.passed:
        extra = f" ({skipped} skipped)" if skipped else ""
        console.print(f"[bold green]PASS[/bold green]: {total - skipped} checks hold{extra}")
    else:
        console.print(f"[bold red]FAIL[/bold red]: {failed} of {total} checks failed")


def _config(path: Path | None) -> GateConfig:
    if path is not None:
        return load_gate_config(path)
    found = find_pyproject(Path.cwd())
    return load_gate_config(found) if found is not None else GateConfig()


def run_gate_command(
    document: ResultsDocument,
    *,
    baseline: Path | None = None,
    max_regression: float | None = None,
    slos: Sequence[str] = (),
    config: Path | None = None,
    console: Console | None = None,
) -> int:
    """Run the gate on a loaded document, print its table, return the exit code (0, 1 or 2).

    Settings come from ``config`` (a TOML file), else from ``[tool.pushbench.gate]`` of the
    nearest ``pyproject.toml``; ``slos`` are added to the configured ones, ``baseline`` and
    ``max_regression`` (percent) override them. For ``pushbench compare --baseline``.
    """
    try:
        settings = _config(config)
        prefix = f"{settings.source}: " if settings.source else ""
        parsed = []
        for text in settings.slo:
            try:
                parsed.append(parse_slo(text))
            except GateInputError as exc:
                raise GateInputError(prefix + str(exc)) from None
        parsed += [parse_slo(text) for text in slos]
        base_path = baseline or settings.baseline
        base = load_document(base_path, "baseline") if base_path is not None else None
        pct = max_regression if max_regression is not None else settings.max_regression_pct
        result = run_gate(
            document,
            slos=parsed,
            baseline=base,
            max_regression_pct=DEFAULT_MAX_REGRESSION_PCT if pct is None else pct,
            metrics=settings.regression_metrics,
        )
    except (GateInputError, Unusable) as exc:
        print_error(str(exc))
        return EXIT_UNUSABLE
    print_gate_report(result, document, console or stdout_console())
    return result.exit_code
