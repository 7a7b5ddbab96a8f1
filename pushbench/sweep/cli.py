"""The ``pushbench sweep`` command: options, progress, the sweep table, recommendation, gate."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from pushbench.cli.console import EXIT_FAILED, EXIT_UNUSABLE
from pushbench.cli.options import (
    App,
    AppDir,
    Factory,
    Out,
    Profile,
    Tls,
    err,
    no_flavor_for_own_app,
)
from pushbench.cli.options import target as resolve_target
from pushbench.core.completeness import is_complete, scenario_reasons
from pushbench.core.kinds import WORKLOADS, Workload
from pushbench.core.schema import ResultsDocument, Scenario
from pushbench.core.server_config import (
    BROKER_SCHEMES,
    FLAVORS,
    HTTP_IMPLS,
    LOOPS,
    SERVERS,
    WS_IMPLS,
)
from pushbench.core.target_profile import TargetProfile
from pushbench.gate.config import find_pyproject, load_gate_config
from pushbench.harness.run_skeleton import RunProgress
from pushbench.sweep.matrix import (
    BROKER_MODES,
    Timing,
    expand,
    parse_deflate,
    parse_names,
    parse_workers,
    plan_sweep,
)
from pushbench.sweep.recommend import Recommendation, recommend_document
from pushbench.sweep.report import sweep_rows
from pushbench.sweep.run import SweepSettings, run_sweep, skipped_workloads

__all__ = [
    "CI_PRESET",
    "FULL_MATRIX",
    "SweepPreset",
    "default_p99_slo_ms",
    "sweep",
    "sweep_table",
]


@dataclass(frozen=True, slots=True)
class SweepPreset:
    """What a sweep measures when an option is not given: the matrix as the options spell it
    (comma-separated, parsed like them) and the timing."""

    workers: str
    loop: str
    ws_impl: str
    http_impl: str
    flavor: str = "asgi"
    duration_s: float = 3.0
    """Measured seconds per workload."""
    warmup_s: float = 1.0
    budget_s: float | None = None
    """Fit the sweep in this many seconds; None: no budget."""


#: The whole matrix the issue asks about (``--budget`` keeps it in time).
FULL_MATRIX: Final = SweepPreset(
    workers="1,2,4",
    loop="asyncio,uvloop",
    ws_impl="websockets-sansio,websockets,wsproto",
    http_impl="h11,httptools",
)
#: ``--ci``: four configurations, short intervals, a couple of minutes at most.
CI_PRESET: Final = SweepPreset(
    workers="1,2",
    loop="asyncio,uvloop",
    ws_impl="websockets-sansio",
    http_impl="httptools",
    duration_s=2.0,
    warmup_s=0.5,
    budget_s=150.0,
)
_P99_SLO = re.compile(r"\.latency_us\.p99\s*<=?\s*([0-9.]+)\s*$")


def default_p99_slo_ms(start: Path | None = None) -> float:
    """The tightest ``*.latency_us.p99 <= N`` of ``[tool.pushbench.gate]``, in ms; else 50."""
    try:
        found = find_pyproject(start or Path.cwd())
        slos = load_gate_config(found).slo if found is not None else ()
    except (OSError, ValueError):
        slos = ()
    limits = [float(m[1]) / 1000 for text in slos if (m := _P99_SLO.search(text))]
    return min(limits, default=50.0)


class _Bar(RunProgress):
    """A bar with ETA on a terminal; on a pipe (CI logs) a line per configuration."""

    def __init__(self, progress: Progress, total_steps: int) -> None:
        self.progress = progress
        self.console = progress.console
        self.task = progress.add_task("starting", total=total_steps)
        self.label = ""
        self.started = time.monotonic()

    def step_started(self, index: int, total: int, label: str, eta_s: float | None = None) -> None:
        self.label = label
        text = f"[{index + 1}/{total}] {label}"
        self.progress.update(self.task, description=text)
        if not self.console.is_terminal:
            elapsed = time.monotonic() - self.started
            left = "" if eta_s is None else f", ~{eta_s:.0f} s left"
            self.console.print(f"{text}: starting ({elapsed:.0f} s in{left})", soft_wrap=True)

    def phase_started(self, what: str) -> None:
        self.progress.update(self.task, description=f"{self.label}: {what}")

    def step_finished(
        self, label: str, scenarios: Sequence[Scenario], errors: Sequence[str]
    ) -> None:
        self.progress.advance(self.task, len(WORKLOADS))
        figures = "  ".join(
            f"{s.typed_params.workload} {s.throughput_msgs_per_s:,.0f}/s"
            for s in scenarios
            if s.typed_params.workload != Workload.PUSH
        )
        push = [s for s in scenarios if s.typed_params.workload == Workload.PUSH]
        if push and push[0].latency_us.count:
            figures += f"  push p99 {push[0].latency_us.p99 / 1000:.2f} ms"
        self.console.print(f"  {escape(label)}: {figures}", soft_wrap=True)
        for error in errors[:2]:
            self.console.print(f"  [red]error:[/red] {escape(error.splitlines()[0])}")

    def step_skipped(self, label: str, reason: str) -> None:
        self.progress.advance(self.task, len(WORKLOADS))
        self.console.print(f"  [yellow]skipped[/yellow] {escape(label)}: {escape(reason)}")


def sweep_table(document: ResultsDocument) -> Table:
    """One row per configuration: throughput per workload, push p99, CPU, connection spread."""
    table = Table(title=f"pushbench sweep: {document.run_id}", title_justify="left")
    headings, rows = sweep_rows(document)
    for i, heading in enumerate(headings):
        table.add_column(heading, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    return table


def _print_recommendation(recommendation: Recommendation, console: Console) -> None:
    console.print(escape(recommendation.headline), soft_wrap=True)
    for reason in recommendation.reasons[1:]:
        console.print(f"  - {escape(reason)}", soft_wrap=True)
    for text in (*recommendation.knees, *recommendation.effects):
        console.print(f"  · {escape(text)}", soft_wrap=True)
    if recommendation.not_concluded:
        console.print("Could not be concluded on this machine:")
        for text in recommendation.not_concluded:
            console.print(f"  ! {escape(text)}", soft_wrap=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(EXIT_UNUSABLE)


def sweep(
    server_names: Annotated[
        str,
        typer.Option(
            "--server",
            help=f"ASGI servers, comma-separated: {', '.join(SERVERS)} (granian and hypercorn "
            "run their own WebSocket and HTTP implementations: --ws-impl/--http-impl are "
            "uvicorn's).",
        ),
    ] = "uvicorn",
    workers: Annotated[
        str | None, typer.Option("--workers", help="Worker counts, e.g. 1,2,4.")
    ] = None,
    loop: Annotated[
        str | None, typer.Option("--loop", help=f"Event loops: {', '.join(LOOPS[1:])}.")
    ] = None,
    ws_impl: Annotated[
        str | None,
        typer.Option("--ws-impl", help=f"WebSocket implementations: {', '.join(WS_IMPLS[1:])}."),
    ] = None,
    http_impl: Annotated[
        str | None,
        typer.Option("--http-impl", help=f"HTTP implementations: {', '.join(HTTP_IMPLS[1:])}."),
    ] = None,
    flavor: Annotated[
        str | None,
        typer.Option(
            "--flavor",
            help=f"Reference server flavors: {', '.join(FLAVORS)} (default asgi; "
            "asgi,fastapi measures the framework's cost too).",
        ),
    ] = None,
    ws_per_message_deflate: Annotated[
        str,
        typer.Option(
            "--ws-per-message-deflate",
            help="permessage-deflate on server and clients: off, on, or off,on (an axis; "
            "docs/deflate.md).",
        ),
    ] = "off",
    brokers: Annotated[
        str,
        typer.Option(
            "--brokers",
            help=f"{', '.join(BROKER_MODES)} or a list; auto: memory for 1 worker, Redis for more.",
        ),
    ] = "auto",
    broker: Annotated[
        str | None,
        typer.Option(
            "--broker",
            help="Redis URL for several workers (default: redis://127.0.0.1:6379/0 when it "
            "answers, else a private redis-server for the sweep's duration).",
        ),
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", min=0.1, help="Measured seconds per workload.")
    ] = None,
    warmup: Annotated[
        float | None, typer.Option("--warmup", min=0.0, help="Unmeasured seconds first.")
    ] = None,
    budget: Annotated[
        float | None,
        typer.Option("--budget", min=1.0, metavar="SECONDS", help="Fit the sweep in this time."),
    ] = None,
    ci: Annotated[
        bool,
        typer.Option(
            "--ci",
            help="Small matrix (workers 1,2 x asyncio,uvloop), ~2 min, then gate the results.",
        ),
    ] = False,
    p99_slo_ms: Annotated[
        float | None,
        typer.Option(
            "--p99-slo-ms",
            min=0.001,
            help="Push latency SLO for the recommendation (default: the gate config's "
            "latency_us.p99 limit, else 50).",
        ),
    ] = None,
    push_rate: Annotated[
        float, typer.Option("--push-rate", min=1.0, help="Open-loop messages/s, push workload.")
    ] = 500.0,
    no_pin: Annotated[
        bool, typer.Option("--no-pin", help="Do not pin server and generator to separate CPUs.")
    ] = False,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="Gate against this earlier sweep.")
    ] = None,
    slo: Annotated[
        list[str] | None, typer.Option("--slo", help="Extra gate SLO (repeatable).")
    ] = None,
    gate_config: Annotated[
        Path | None,
        typer.Option("--gate-config", help="Gate settings file (default: pyproject.toml's)."),
    ] = None,
    out: Out = "reports",
    app: App = None,
    app_dir: AppDir = None,
    factory: Factory = False,
    profile: Profile = None,
    tls: Tls = False,
) -> None:
    """Tune the server: workers x loop x WebSocket x HTTP implementation (x ASGI server x server
    flavor), with a recommendation.

    Each configuration gets a fresh server and the same workloads: echo and room fan-out at
    saturation, short-poll requests/s, and push latency at a fixed open-loop rate (with the
    connections' spread over workers from /metrics). Generator and server are pinned to
    separate CPUs; the report says what this machine's CPU count lets it conclude.

    The generator must run on the server's host (latency uses one monotonic clock). To load a
    server on another machine, run `pushbench serve` there with each configuration and point
    `pushbench compare --target` at it: only round trips are comparable across hosts.

    With --app and --profile, your app takes the reference server's place: each workload runs
    as the profile offers it, and one it does not offer is skipped with the reason.
    """
    chosen = resolve_target(app, app_dir, factory, profile, check=True)
    if not isinstance(chosen.profile, TargetProfile):
        err.print(
            "[red]error:[/red] sweep drives a TOML or built-in profile; a Python adapter "
            "(--profile MODULE:CLASS) is driven by compare, ramp and the Locust users",
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_UNUSABLE)
    own_profile = chosen.profile
    no_flavor_for_own_app(chosen, flavor)
    if not chosen.reference and (brokers != "auto" or broker is not None):
        raise _fail(
            "--brokers and --broker choose how the reference server's workers share rooms; "
            "your app (--app/--profile) keeps its own state"
        )
    preset = CI_PRESET if ci else FULL_MATRIX
    try:
        worker_counts = parse_workers(workers or preset.workers)
        loops = parse_names(loop or preset.loop, "--loop", LOOPS)
        ws_impls = parse_names(ws_impl or preset.ws_impl, "--ws-impl", WS_IMPLS)
        http_impls = parse_names(http_impl or preset.http_impl, "--http-impl", HTTP_IMPLS)
        flavors = parse_names(flavor or preset.flavor, "--flavor", FLAVORS)
        servers = parse_names(server_names, "--server", SERVERS)
        deflates = parse_deflate(ws_per_message_deflate)
        broker_modes = tuple(part.strip() for part in brokers.split(",") if part.strip())
        configs, invalid = expand(
            worker_counts,
            loops,
            ws_impls,
            http_impls,
            broker_modes,
            flavors,
            own_app=not chosen.reference,
            servers=servers,
            deflates=deflates,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if broker is not None and not broker.startswith(BROKER_SCHEMES):
        raise _fail(f"--broker takes a Redis URL such as redis://127.0.0.1:6379/0, not {broker!r}")
    if not configs:
        raise _fail(
            "no valid configuration: " + "; ".join(dict.fromkeys(s.reason for s in invalid))
        )
    budget_s = budget if budget is not None else preset.budget_s
    timing = Timing(
        duration_s=duration if duration is not None else preset.duration_s,
        warmup_s=warmup if warmup is not None else preset.warmup_s,
    )
    plan = plan_sweep(configs, timing, budget_s, min_duration_s=1.0)
    if not plan.configs:
        raise _fail(f"--budget {budget_s}: not even one configuration fits")
    settings = SweepSettings(
        plan=plan,
        matrix={
            "servers": list(servers),
            "ws_per_message_deflate": list(deflates),
            "workers": list(worker_counts),
            "loops": list(loops),
            "ws_impls": list(ws_impls),
            "http_impls": list(http_impls),
            "brokers": list(broker_modes),
            "flavors": list(flavors),
        },
        skipped=tuple(invalid),
        broker_url=broker,
        p99_slo_ms=p99_slo_ms if p99_slo_ms is not None else default_p99_slo_ms(),
        budget_s=budget_s,
        push_rate_per_s=push_rate,
        pin=not no_pin,
        app=chosen.app,
        app_dir=chosen.app_dir,
        factory=chosen.factory,
        profile=own_profile,
        tls=tls,
    )
    err.print(
        f"pushbench sweep: {len(plan.configs)} configurations x {len(WORKLOADS)} workloads, "
        f"~{plan.estimate_s:.0f} s"
        + (f" (skipped {len(invalid) + len(plan.skipped)})" if invalid or plan.skipped else ""),
        soft_wrap=True,
    )
    for workload, reason in skipped_workloads(own_profile).items():
        err.print(f"{workload}: not measured ({escape(reason)})", soft_wrap=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        outcome = run_sweep(settings, Path(out), _Bar(bar, len(plan.configs) * len(WORKLOADS)))
    document, run_dir = outcome.document, outcome.run_dir
    console = Console() if sys.stdout.isatty() else Console(width=200)
    console.print(sweep_table(document))
    recommendation = recommend_document(document)
    if recommendation is not None:
        _print_recommendation(recommendation, console)
    for error in document.errors:
        err.print(f"[red]error:[/red] {escape(error)}")
    from pushbench.report import write_report

    written = write_report(document, run_dir)
    err.print(f"results: {run_dir / 'results.json'}", soft_wrap=True)
    err.print("report:  " + ", ".join(str(path) for path in written), soft_wrap=True)
    if document.interrupted:
        err.print("[yellow]interrupted:[/yellow] the results above are partial")
        raise typer.Exit(130)
    for scenario in document.scenarios:  # the run's own errors are printed above, in full
        for reason in scenario_reasons(scenario):
            err.print(f"[red]error:[/red] {escape(reason)}", soft_wrap=True)
    if not document.scenarios or not is_complete(document):
        raise typer.Exit(EXIT_FAILED)
    if ci or baseline is not None or slo:
        _gate(document, settings.p99_slo_ms, baseline, slo or [], gate_config)


def _gate(
    document: ResultsDocument,
    p99_slo_ms: float,
    baseline: Path | None,
    slos: list[str],
    config: Path | None,
) -> None:
    from pushbench.cli.gating import run_gate_command

    limit = round(p99_slo_ms * 1000)
    own = ["*.lost==0"] + [
        f"{s.name}.latency_us.p99<={limit}"
        for s in document.scenarios
        if s.typed_params.workload == Workload.PUSH
    ]
    code = run_gate_command(document, baseline=baseline, slos=[*own, *slos], config=config)
    raise typer.Exit(code)
