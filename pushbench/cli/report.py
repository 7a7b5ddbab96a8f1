"""``pushbench report`` and ``pushbench gate``: the thin CLI edge over :mod:`pushbench.report`
and :mod:`pushbench.gate.checks`.

Exit codes of ``gate``: 0 every check holds, 1 a check failed, 2 unusable input (a results or
baseline file missing or invalid, a bad SLO, a bad config). Results go to stdout, errors to
stderr as one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape

from pushbench.cli import kinds as _kinds  # noqa: F401  (every kind's report parts, registered)
from pushbench.cli.console import (
    EXIT_FAILED,
    EXIT_UNUSABLE,
    Unusable,
    load_document,
    print_error,
    stdout_console,
    summary_rich_table,
    tax_rich_table,
    tls_rich_tables,
)
from pushbench.cli.gating import run_gate_command
from pushbench.cli.options import Out, err
from pushbench.gate.checks import DEFAULT_MAX_REGRESSION_PCT
from pushbench.report.verdict import verdict_lines

__all__ = ["gate", "report"]


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
        document = load_document(results, "results")
    except Unusable as exc:
        print_error(str(exc))
        raise typer.Exit(EXIT_UNUSABLE) from None
    from pushbench.report import write_report

    out_dir = Path(out) / document.run_id if out else results.parent
    try:
        written = write_report(document, out_dir)
    except OSError as exc:
        print_error(f"cannot write the report to {out_dir}: {exc.strerror or exc}")
        raise typer.Exit(EXIT_FAILED) from None
    console = stdout_console()
    console.print(summary_rich_table(document))
    tax = tax_rich_table(document)
    if tax is not None:
        console.print(tax)
    for table in tls_rich_tables(document):
        console.print(table)
    for line in verdict_lines(document):
        console.print(escape(line), soft_wrap=True)
    err.print(f"wrote {', '.join(escape(str(path)) for path in written)}", soft_wrap=True)


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
        document = load_document(results, "results")
    except Unusable as exc:
        print_error(str(exc))
        _exit(EXIT_UNUSABLE)
    code = run_gate_command(
        document, baseline=baseline, max_regression=max_regression, slos=slo or (), config=config
    )
    _exit(code)
