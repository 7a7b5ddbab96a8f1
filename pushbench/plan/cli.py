"""The ``pushbench plan`` command: read results files, fit, predict, print and write the plan.

Exit codes: 0 the plan was written, 2 unusable input (a ``--from`` or ``--from-ramp`` file
missing or invalid, no usable scenario in it, a ramp that held nothing, a bad option). Results
go to stdout, file paths and errors to stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pushbench.cli.console import EXIT_UNUSABLE
from pushbench.cli.options import Out, err
from pushbench.core.atomic_write import write_atomic
from pushbench.core.kinds import Transport
from pushbench.core.schema import ResultsDocument, load_results
from pushbench.core.server_config import FLAVORS
from pushbench.harness.run_dir import new_run_dir, new_run_id
from pushbench.plan.inputs import PLANNED_TRANSPORTS, MixedFlavors, read_inputs
from pushbench.plan.model import Plan, PlanError, PlanRequest, make_plan
from pushbench.plan.ramp_inputs import RampSteps, RampUnusable, held_limit_notes, ramp_inputs
from pushbench.plan.text import (
    PLAN_COLUMNS,
    form_verdict,
    grouped_notes,
    plan_document,
    plan_rows,
    plan_title,
    render_plan_markdown,
)

__all__ = ["plan", "plan_rich_table"]


class _Unusable(Exception):
    """Input the command cannot use; the message is the one-line reason."""


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(' '.join(message.split()))}", soft_wrap=True)
    return typer.Exit(EXIT_UNUSABLE)


def _intervals(text: str | None) -> tuple[float, ...]:
    if not text:
        return ()
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise _Unusable(
            f"--poll-interval takes seconds separated by commas, not {text!r}"
        ) from None
    if not values or any(not v > 0 for v in values):
        raise _Unusable("--poll-interval needs values > 0")
    return values


def _load(paths: list[Path], option: str = "--from") -> list[tuple[str, ResultsDocument]]:
    documents = []
    for path in paths:
        try:
            documents.append((str(path), load_results(path)))
        except OSError as exc:
            raise _Unusable(f"cannot read {option} {path}: {exc.strerror or exc}") from None
        except ValueError as exc:  # SchemaError, or bytes that are not UTF-8
            raise _Unusable(f"unusable {option} file: {exc}") from None
    return documents


def _transports(text: str) -> list[Transport]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in names if t not in PLANNED_TRANSPORTS]
    if not names or unknown:
        raise _Unusable(
            f"--transports takes {', '.join(PLANNED_TRANSPORTS)} separated by commas, not {text!r}"
        )
    return [Transport(n) for n in names]


def _ramps(paths: list[Path], transports: str | None) -> list[RampSteps]:
    """The held steps of each ``--from-ramp`` run (of ``--transports``, when given)."""
    chosen = _transports(transports) if transports is not None else []
    try:
        return [
            ramp_inputs(name, document, chosen) for name, document in _load(paths, "--from-ramp")
        ]
    except RampUnusable as exc:
        raise _Unusable(str(exc)) from None


def plan_rich_table(plan: Plan) -> Table:
    """The plan table for a terminal: each figure over the inputs it came from (dimmed)."""
    table = Table(title=f"pushbench plan: {plan_title(plan)}", title_justify="left")
    for index, heading in enumerate(PLAN_COLUMNS):
        table.add_column(heading, justify="left" if index == 0 else "right")
    for row in plan_rows(plan):
        name, *figures = row
        table.add_row(
            escape(name.text),
            *(
                f"{escape(cell.text)}\n[dim]{escape(cell.basis)}[/dim]"
                if cell.basis
                else escape(cell.text)
                for cell in figures
            ),
        )
    return table


def _measure(
    transports: str,
    request: PlanRequest,
    duration_s: float,
    run_dir: Path,
    run_id: str,
    flavor: str | None,
) -> tuple[list[tuple[str, ResultsDocument]], list[tuple[str, ResultsDocument]]]:
    """Run the design (:mod:`pushbench.plan.measure`); (fitted documents, held-out ones)."""
    from pushbench.core.server_config import ServerConfig
    from pushbench.plan.measure import design, measure_grid, one_worker

    names = _transports(transports)
    if not duration_s > 0:
        raise _Unusable("--measure-duration must be > 0")
    interval = request.poll_intervals_s[0] if request.poll_intervals_s else 1.0
    scenarios = design(names, interval, duration_s, min(0.5, duration_s / 4))
    server = one_worker(ServerConfig(flavor=flavor or "asgi"))

    def progress(index: int, total: int, name: str) -> None:
        err.print(f"measure: [{index + 1}/{total}] {escape(name)}", soft_wrap=True)

    grid, held, errors = measure_grid(scenarios, run_dir, run_id, server, progress)
    for error in errors:
        err.print(f"[yellow]measure:[/yellow] {escape(error)}", soft_wrap=True)
    return _load([grid]), _load([held])


def plan(
    clients: Annotated[int, typer.Option("--clients", min=1, help="Connected clients, N.")],
    msgs_per_client_per_s: Annotated[
        float,
        typer.Option("--msgs-per-client-per-s", help="Messages each client receives per second."),
    ],
    sources: Annotated[
        list[Path] | None,
        typer.Option(
            "--from",
            help="A compare results.json to fit (repeat for more load levels); a serverbench "
            "results.json adds the memory of an idle WebSocket.",
        ),
    ] = None,
    from_ramp: Annotated[
        list[Path] | None,
        typer.Option(
            "--from-ramp",
            help="A ramp results.json: the steps each transport held (up to its limit) are "
            "fitted like compare scenarios, and the plan says where it asks more of one worker "
            "than the ramp held within its SLO.",
        ),
    ] = None,
    fanout: Annotated[
        float, typer.Option("--fanout", help="Clients each published message goes to.")
    ] = 1.0,
    payload_bytes: Annotated[
        int | None, typer.Option("--payload-bytes", help="Default: the measured payload size.")
    ] = None,
    poll_interval: Annotated[
        str | None,
        typer.Option(
            "--poll-interval", help="Short-poll intervals in s, e.g. 1,5 (default: measured)."
        ),
    ] = None,
    cpu_headroom: Annotated[
        float, typer.Option("--cpu-headroom", help="Target CPU utilisation per worker core.")
    ] = 0.7,
    flavor: Annotated[
        str | None,
        typer.Option(
            "--flavor",
            help=f"Plan for this reference server flavor ({', '.join(FLAVORS)}): its scenarios "
            "only (default: the one flavor the inputs hold).",
            show_default=False,
        ),
    ] = None,
    measure: Annotated[
        bool,
        typer.Option(
            "--measure",
            help="Run the design the model needs first (per transport: publish rate × "
            "subscribers × rooms corners, so fan-out varies apart; short poll × 2 intervals; a "
            "centre and 3 beyond points held out), on fresh servers; the runs go beside the "
            "plan.",
        ),
    ] = False,
    transports: Annotated[
        str | None,
        typer.Option(
            "--transports",
            help="With --measure: the transports to measure (default ws,short-poll); with "
            "--from-ramp: the ramp's transports to plan from (default: every one that held a "
            "step).",
            show_default=False,
        ),
    ] = None,
    measure_duration: Annotated[
        float,
        typer.Option("--measure-duration", help="With --measure: seconds each scenario runs."),
    ] = 3.0,
    out: Out = "reports",
) -> None:
    """Capacity plan: what N clients cost per transport, from measured compare or ramp runs."""
    run_id = run_dir = None
    try:
        intervals = _intervals(poll_interval)
        measured = transports or "ws,short-poll"
        if measure and not intervals and Transport.SHORT_POLL in measured.split(","):
            intervals = (1.0,)  # measured at 1 s and 0.25 s; priced at 1 s
        request = PlanRequest(
            clients=clients,
            msgs_per_client_per_s=msgs_per_client_per_s,
            fanout=fanout,
            payload_bytes=payload_bytes,
            poll_intervals_s=intervals,
            cpu_headroom=cpu_headroom,
        )
        if flavor is not None and flavor not in FLAVORS:
            raise _Unusable(f"unknown --flavor {flavor!r}; choose from {', '.join(FLAVORS)}")
        if not sources and not measure and not from_ramp:
            raise _Unusable(
                "give --from results files or --from-ramp a ramp run to fit, or --measure to "
                "measure them"
            )
        documents = _load(sources or [])
        ramps = _ramps(from_ramp or [], transports)
        held: list[tuple[str, ResultsDocument]] = []
        if measure:
            run_id = new_run_id("plan")
            run_dir = new_run_dir(Path(out), run_id)
            grid, held = _measure(measured, request, measure_duration, run_dir, run_id, flavor)
            documents = grid + documents
        holdout = read_inputs(held, flavor).points if held else []
        result = make_plan(read_inputs(documents, flavor, ramps), request, holdout)
        result.notes.extend(held_limit_notes(result, ramps))
    except (_Unusable, PlanError, MixedFlavors) as exc:
        raise _fail(str(exc)) from None
    if run_id is None or run_dir is None:
        run_id = new_run_id("plan")
        run_dir = new_run_dir(Path(out), run_id)
    names = [name for name, _ in documents + held]
    names += [f"{ramp.path} (ramp run {ramp.run_id})" for ramp in ramps]
    # Imported here: the chart needs matplotlib (about a second), the table does not.
    from pushbench.plan.html import cores_chart_png, render_plan_html

    files: dict[str, str | bytes] = {
        "plan.json": json.dumps(plan_document(result, run_id, names), indent=2) + "\n",
        "plan.html": render_plan_html(result, run_id, names),
        "plan.md": render_plan_markdown(result, run_id),
        # The chart alone, for a README, a ticket or a slide.
        "plan.png": cores_chart_png(result),
    }
    for name, text in files.items():
        write_atomic(run_dir / name, text)
    console = Console() if sys.stdout.isatty() else Console(width=200)
    console.print(plan_rich_table(result))
    for transport in result.transports:
        console.print(f"{escape(transport.name)}: {escape(form_verdict(transport))}")
    for scope, note in grouped_notes(result):
        console.print(f"[yellow]{escape(scope)}:[/yellow] {escape(note)}")
    err.print("plan:    " + ", ".join(str(run_dir / name) for name in files))
