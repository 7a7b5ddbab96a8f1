"""``pushbench report`` and ``pushbench gate``: the thin CLI edge over :mod:`pushbench.render`
and :mod:`pushbench.gate`.

Exit codes of ``gate``: 0 every check holds, 1 a check failed, 2 unusable input (a results or
baseline file missing or invalid, a bad SLO, a bad config). Results go to stdout, errors to
stderr as one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pushbench.cli_options import Out, err
from pushbench.gate import (
    DEFAULT_MAX_REGRESSION_PCT,
    GateInputError,
    GateReport,
    Verdict,
    parse_slo,
    run_gate,
)
from pushbench.gate_config import GateConfig, find_pyproject, load_gate_config
from pushbench.micro_convert import load_any_results

# Not pushbench.render itself: it imports matplotlib (~1 s), which only `report` needs.
from pushbench.render.table import (
    NUMERIC_COLUMNS,
    SUMMARY_COLUMNS,
    TAX_COLUMNS,
    cpu_clock_note,
    summary_table,
    tax_table,
)
from pushbench.render.verdict import verdict_lines
from pushbench.schema import ResultsDocument

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_UNUSABLE",
    "gate",
    "gate_table",
    "print_gate_report",
    "report",
    "run_gate_command",
    "summary_rich_table",
    "tax_rich_table",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNUSABLE = 2

_VERDICT_STYLES = {Verdict.PASS: "green", Verdict.FAIL: "bold red", Verdict.SKIP: "dim"}


class _Unusable(Exception):
    """Input the command cannot use; the message is the one-line reason."""


def _stdout() -> Console:
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 160)  # CI logs: do not squeeze tables to 80 columns
    return console


def _error(message: str) -> None:
    err.print(f"[red]error:[/red] {escape(' '.join(message.split()))}", soft_wrap=True)


def _load(path: Path, what: str) -> ResultsDocument:
    try:
        return load_any_results(path)  # a results document, or pytest-benchmark JSON
    except OSError as exc:
        raise _Unusable(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # SchemaError, or bytes that are not UTF-8
        raise _Unusable(f"unusable {what}: {exc}") from None


def summary_rich_table(document: ResultsDocument) -> Table:
    """The comparison table (:func:`pushbench.render.summary_table`) as a ``rich`` table."""
    table = Table(title=f"pushbench {document.kind}: {document.run_id}", title_justify="left")
    for i, column in enumerate(SUMMARY_COLUMNS):
        # no_wrap on the name: ``short-poll@0.1@fastapi`` cut to ``short-poll@0.1@…`` would hide
        # the flavor, the one thing that tells two rows apart.
        numeric = i in NUMERIC_COLUMNS
        table.add_column(column, justify="right" if numeric else "left", no_wrap=not numeric)
    for row in summary_table(document):
        table.add_row(*(escape(cell) for cell in row))
    table.caption = cpu_clock_note(document)
    table.caption_justify = "left"
    return table


def tax_rich_table(document: ResultsDocument) -> Table | None:
    """The framework-tax table (:func:`pushbench.render.table.tax_table`), or None when no
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


def report(
    results: Annotated[
        Path,
        typer.Argument(
            help="A results JSON file (any run kind), or pytest-benchmark JSON.", show_default=False
        ),
    ],
    out: Out = "",
) -> None:
    """Render report.html, summary.md and results.csv from a results file.

    Writes next to RESULTS unless --out is given (then into OUT/<run-id>/). Exit 2 when
    RESULTS is unusable, 1 when the report cannot be written.
    """
    try:
        document = _load(results, "results")
    except _Unusable as exc:
        _error(str(exc))
        raise typer.Exit(EXIT_UNUSABLE) from None
    from pushbench.render import write_report

    out_dir = Path(out) / document.run_id if out else results.parent
    try:
        written = write_report(document, out_dir)
    except OSError as exc:
        _error(f"cannot write the report to {out_dir}: {exc.strerror or exc}")
        raise typer.Exit(EXIT_FAILED) from None
    console = _stdout()
    console.print(summary_rich_table(document))
    tax = tax_rich_table(document)
    if tax is not None:
        console.print(tax)
    for line in verdict_lines(document):
        console.print(escape(line), soft_wrap=True)
    err.print(f"wrote {', '.join(escape(str(path)) for path in written)}", soft_wrap=True)


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
        base = _load(base_path, "baseline") if base_path is not None else None
        pct = max_regression if max_regression is not None else settings.max_regression_pct
        result = run_gate(
            document,
            slos=parsed,
            baseline=base,
            max_regression_pct=DEFAULT_MAX_REGRESSION_PCT if pct is None else pct,
            metrics=settings.regression_metrics,
        )
    except (GateInputError, _Unusable) as exc:
        _error(str(exc))
        return EXIT_UNUSABLE
    print_gate_report(result, document, console or _stdout())
    return result.exit_code


def _exit(code: int) -> NoReturn:
    raise typer.Exit(code)


def gate(
    results: Annotated[
        Path, typer.Argument(help="The results JSON file to judge.", show_default=False)
    ],
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline", help="A results file to compare with, by ratios.", show_default=False
        ),
    ] = None,
    max_regression: Annotated[
        float | None,
        typer.Option(
            "--max-regression",
            min=0,
            metavar="PCT",
            help="Allowed worsening against the baseline, in % (default: the config's, "
            f"else {DEFAULT_MAX_REGRESSION_PCT:g}).",
            show_default=False,
        ),
    ] = None,
    slo: Annotated[
        list[str] | None,
        typer.Option(
            "--slo",
            metavar="EXPR",
            help="An objective like 'ws.latency_us.p99<=5000' or 'short-poll@0.1.lost==0' "
            "(repeatable; '*.lost==0' checks every scenario; '@fastapi' after a scenario or "
            "'*' narrows it to that server flavor: 'ws@fastapi.lost==0').",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            # \\[: typer renders help as rich markup, where [...] would be a style tag.
            help="TOML file with gate settings (default: \\[tool.pushbench.gate] in the "
            "nearest pyproject.toml).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Decide pass/fail for CI: exit 0 if every check holds, 1 if one fails, 2 on bad input."""
    try:
        document = _load(results, "results")
    except _Unusable as exc:
        _error(str(exc))
        _exit(EXIT_UNUSABLE)
    code = run_gate_command(
        document, baseline=baseline, max_regression=max_regression, slos=slo or (), config=config
    )
    _exit(code)
