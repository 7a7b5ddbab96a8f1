"""The ``pushbench ramp`` command: step the load until each transport breaks its SLO."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from pushbench.cli.console import EXIT_FAILED, EXIT_UNUSABLE, summary_rich_table
from pushbench.cli.options import (
    App,
    AppDir,
    Broker,
    Factory,
    HttpImpl,
    Loop,
    Out,
    PayloadKind,
    Profile,
    ReferenceFlavor,
    Server,
    SslCertfile,
    SslKeyfile,
    Tls,
    Workers,
    WsImpl,
    WsPerMessageDeflate,
    err,
    no_flavor_for_own_app,
    parse_transports,
    server_config,
    tls_files,
)
from pushbench.cli.options import target as resolve_target
from pushbench.core.kinds import PUSH_TRANSPORTS
from pushbench.core.ramp_stop import held_by_transport, held_line
from pushbench.core.schema import Scenario
from pushbench.harness.run_skeleton import RunProgress
from pushbench.ramp import report as _report  # noqa: F401  (registers the ramp's report parts)
from pushbench.ramp.run import Axis, RampConfig, run_ramp
from pushbench.report import write_report

__all__ = ["ramp"]


class _Lines(RunProgress):
    """One line on stderr per step: its load, then what it measured."""

    def step_started(self, index: int, total: int, label: str, eta_s: float | None = None) -> None:
        err.print(f"step {index + 1} (of at most {total}): {escape(label)}")

    def step_finished(
        self, label: str, scenarios: Sequence[Scenario], errors: Sequence[str]
    ) -> None:
        for s in scenarios:
            stop = s.params.get("ramp_stop")
            said = f"  → stop: {stop}" if isinstance(stop, str) else ""
            err.print(
                f"  {escape(label)}: p50 {s.latency_us.p50 / 1000:.3g} ms, p99 "
                f"{s.latency_us.p99 / 1000:.3g} ms, delivered {s.delivered:,}/{s.sent:,}"
                f"{escape(said)}",
                soft_wrap=True,
            )
        for error in errors:
            err.print(f"  [red]{escape(label)}:[/red] {escape(error)}", soft_wrap=True)

    def step_skipped(self, label: str, reason: str) -> None:
        err.print(f"{escape(label)}: not ramped ({escape(reason)})")


def ramp(
    transports: Annotated[
        str, typer.Option("--transports", help=f"Comma-separated: {','.join(PUSH_TRANSPORTS)}.")
    ] = "ws",
    axis: Annotated[
        str, typer.Option("--axis", help="What grows each step: subscribers or rate (msgs/s).")
    ] = "subscribers",
    start: Annotated[float, typer.Option("--start", min=0.001, help="The first step's load.")] = 50,
    step: Annotated[float, typer.Option("--step", min=0.001, help="Load added per step.")] = 50,
    max_steps: Annotated[int, typer.Option("--max-steps", min=1)] = 10,
    step_duration: Annotated[
        float, typer.Option("--step-duration", min=0.1, help="Measured seconds per step.")
    ] = 5.0,
    warmup: Annotated[
        float, typer.Option("--warmup", min=0.0, help="Unmeasured seconds before each step.")
    ] = 1.0,
    slo_p99_ms: Annotated[
        float, typer.Option("--slo-p99-ms", min=0.001, help="Stop when a step's p99 exceeds it.")
    ] = 50.0,
    rate: Annotated[
        float, typer.Option("--rate", min=0.001, help="Msgs/s when ramping subscribers.")
    ] = 200.0,
    subscribers: Annotated[
        int, typer.Option("--subscribers", min=1, help="Subscribers when ramping the rate.")
    ] = 50,
    publishers: Annotated[int, typer.Option("--publishers", min=1)] = 2,
    payload_bytes: Annotated[int, typer.Option("--payload-bytes", min=0)] = 64,
    poll_interval: Annotated[
        float, typer.Option("--poll-interval", min=0.001, help="Short-poll interval, seconds.")
    ] = 1.0,
    no_pin: Annotated[
        bool, typer.Option("--no-pin", help="Do not pin server and generator to separate CPUs.")
    ] = False,
    out: Out = "reports",
    server_name: Server = "uvicorn",
    workers: Workers = 1,
    loop: Loop = "auto",
    ws_impl: WsImpl = "auto",
    http_impl: HttpImpl = "auto",
    broker: Broker = "memory",
    flavor: ReferenceFlavor = None,
    app: App = None,
    app_dir: AppDir = None,
    factory: Factory = False,
    profile: Profile = None,
    tls: Tls = False,
    ssl_keyfile: SslKeyfile = None,
    ssl_certfile: SslCertfile = None,
    ws_per_message_deflate: WsPerMessageDeflate = False,
    payload_kind: PayloadKind = "text",
) -> None:
    """Per transport, on one fresh server, step the load up until a step breaks the p99 SLO,
    loses a message, or saturates the server or the generator; say what each transport held."""
    if axis not in ("subscribers", "rate"):
        raise typer.BadParameter("--axis takes subscribers or rate", param_hint="--axis")
    chosen = resolve_target(app, app_dir, factory, profile, check=True)
    no_flavor_for_own_app(chosen, flavor)
    keyfile, certfile = tls_files(ssl_keyfile, ssl_certfile, tls=tls)
    server = server_config(
        host="127.0.0.1",
        port=0,
        workers=workers,
        loop=loop,
        ws_impl=ws_impl,
        http_impl=http_impl,
        broker=broker,
        flavor=flavor or "asgi",
        app=chosen,
        ssl_keyfile=keyfile,
        ssl_certfile=certfile,
        server=server_name,
        ws_per_message_deflate=ws_per_message_deflate,
    )
    axis_name: Axis = "rate" if axis == "rate" else "subscribers"
    try:
        config = RampConfig(
            transports=parse_transports(transports),
            axis=axis_name,
            start=start,
            step=step,
            max_steps=max_steps,
            step_duration_s=step_duration,
            warmup_s=warmup,
            slo_p99_ms=slo_p99_ms,
            rate_per_s=rate,
            subscribers=subscribers,
            publishers=publishers,
            payload_bytes=payload_bytes,
            payload_kind=payload_kind,
            poll_interval_s=poll_interval,
            server=server,
            profile=chosen.profile,
            pin=not no_pin,
            tls=tls,
        )
    except ValueError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_UNUSABLE) from None
    outcome = run_ramp(config, Path(out), _Lines())
    document = outcome.document
    console = Console() if sys.stdout.isatty() else Console(width=200)
    console.print(summary_rich_table(document))
    for held in held_by_transport(document):
        console.print(escape(held_line(held, document)), soft_wrap=True)
    for warning in document.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", soft_wrap=True)
    written = write_report(document, outcome.run_dir)
    err.print(f"results: {outcome.results_path}")
    err.print("report:  " + ", ".join(str(path) for path in written))
    if document.interrupted:
        raise typer.Exit(130)
    if document.errors or not document.scenarios:
        raise typer.Exit(EXIT_FAILED)
