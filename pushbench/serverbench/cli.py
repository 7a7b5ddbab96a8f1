"""The ``pushbench serverbench`` command: server capacity per uvicorn WebSocket implementation,
or under another ASGI server (``--server``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pushbench.cli.console import EXIT_UNUSABLE
from pushbench.cli.options import (
    App,
    AppDir,
    Factory,
    HttpImpl,
    IntervalWidth,
    Loop,
    Out,
    Profile,
    ReferenceFlavor,
    Server,
    SslCertfile,
    SslKeyfile,
    Tls,
    WsPerMessageDeflate,
    err,
    no_flavor_for_own_app,
    server_config,
    tls_files,
)
from pushbench.cli.options import target as resolve_target
from pushbench.core.schema import ResultsDocument, Scenario
from pushbench.core.server_config import UVICORN_PROTOCOL_SERVERS, WS_IMPLS, server_label
from pushbench.core.target_profile import TargetProfile
from pushbench.harness.processes import raise_open_files
from pushbench.harness.run_skeleton import RunProgress
from pushbench.report import write_report
from pushbench.serverbench import report as _report  # noqa: F401  (registers its report parts)
from pushbench.serverbench.run import ServerBenchConfig, run_serverbench, skipped_phases

__all__ = ["serverbench", "serverbench_poll_table", "serverbench_table"]


class _Lines(RunProgress):
    """A line on stderr per measurement round."""

    def phase_started(self, what: str) -> None:
        err.print(what)


def _by_name(document: ResultsDocument) -> dict[str, Scenario]:
    return {s.name: s for s in document.scenarios}


def _server_name(document: ResultsDocument) -> str:
    """The ASGI server a serverbench document measured (uvicorn before ``--server`` existed)."""
    record = document.config.get("asgi_server")
    name = record.get("name") if isinstance(record, dict) else None
    return name if isinstance(name, str) else "uvicorn"


def serverbench_table(document: ResultsDocument) -> Table:
    """One row per WebSocket implementation, ratios against the bare ASGI app included."""
    flavor = document.config.get("flavor")
    said = f" (reference server: {flavor} flavor)" if isinstance(flavor, str) else ""
    profile = document.config.get("profile")
    main = "reference" if profile in (None, "reference") else "app"
    if main == "app":
        said = f" ({document.config.get('app')}, profile {profile})"
    table = Table(title=f"pushbench serverbench: {document.run_id}{said}", title_justify="left")
    for column in (
        "server / ws impl",
        "echo rt/s",
        "bare ASGI rt/s",
        f"{main} / bare",
        "echo p50 µs",
        "echo p99 µs",
        "fan-out deliveries/s",
        "server CPU µs/delivery",
        "idle RSS/conn",
        "bare idle RSS/conn",
    ):
        impl_column = column == "server / ws impl"
        table.add_column(column, justify="left" if impl_column else "right", no_wrap=impl_column)
    scenarios = _by_name(document)
    for impl in document.config.get("ws_impls", []):
        echo = scenarios.get(f"echo/{impl}/{main}")
        bare = scenarios.get(f"echo/{impl}/bare")
        fanout = scenarios.get(f"fanout/{impl}")
        if echo is None and bare is None:
            continue
        ratio = (
            f"{echo.throughput_msgs_per_s / bare.throughput_msgs_per_s:.2f}"
            if echo and bare and bare.throughput_msgs_per_s
            else "—"
        )
        # The measured app's idle figure: with its fan-out, else (no fan-out offered) its echo.
        held = fanout or echo
        idle = held.typed_params.idle_rss_bytes_per_connection if held else None
        bare_idle = bare.typed_params.idle_rss_bytes_per_connection if bare else None
        cpu = fanout.server.cpu_us_per_delivered_msg if fanout and fanout.server else None
        table.add_row(
            server_label(_server_name(document), impl),
            f"{echo.throughput_msgs_per_s:,.0f}" if echo else "not offered",
            f"{bare.throughput_msgs_per_s:,.0f}" if bare else "—",
            ratio,
            f"{echo.latency_us.p50:,}" if echo else "—",
            f"{echo.latency_us.p99:,}" if echo else "—",
            f"{fanout.throughput_msgs_per_s:,.0f}" if fanout else "not offered",
            "—" if cpu is None else f"{cpu:.1f}",
            "—" if idle is None else f"{idle / 1024:.1f} KiB",
            "—" if bare_idle is None else f"{bare_idle / 1024:.1f} KiB",
        )
    return table


def serverbench_poll_table(document: ResultsDocument) -> Table | None:
    """Short polls per second on the measured app and on the bare ASGI poll app."""
    scenarios = _by_name(document)
    reference = scenarios.get("poll/reference") or scenarios.get("poll/app")
    bare = scenarios.get("poll/bare")
    if reference is None:
        return None
    table = Table(title="short polls of a room's head", title_justify="left")
    main = str(reference.params.get("app", "reference"))
    for column in ("app", "requests/s", f"{main} / bare", "server CPU µs/request"):
        table.add_column(column, justify="left" if column == "app" else "right")
    for name, scenario in ((main, reference), ("bare ASGI", bare)):
        if scenario is None:
            continue
        ratio = (
            f"{reference.throughput_msgs_per_s / bare.throughput_msgs_per_s:.2f}"
            if scenario is reference and bare and bare.throughput_msgs_per_s
            else ""
        )
        cpu = scenario.server.cpu_us_per_delivered_msg if scenario.server else None
        table.add_row(
            name,
            f"{scenario.throughput_msgs_per_s:,.0f}",
            ratio,
            "—" if cpu is None else f"{cpu:.1f}",
        )
    return table


def serverbench(
    ws_impl: Annotated[
        str | None,
        typer.Option(
            "--ws-impl",
            help="Comma-separated uvicorn WebSocket implementations (default "
            "websockets-sansio,websockets,wsproto; another --server: its own).",
            show_default=False,
        ),
    ] = None,
    connections: Annotated[int, typer.Option("--connections", min=1, help="Echo sockets.")] = 50,
    subscribers: Annotated[
        int, typer.Option("--subscribers", min=1, help="Fan-out sockets.")
    ] = 100,
    payload_bytes: Annotated[int, typer.Option("--payload-bytes", min=0)] = 64,
    duration: Annotated[
        float, typer.Option("--duration", min=0.1, help="Seconds measured per round.")
    ] = 3.0,
    repeat: Annotated[
        int,
        typer.Option(
            "--repeat", min=1, help="Rounds per throughput figure, apps alternating; best kept."
        ),
    ] = 3,
    warmup: Annotated[float, typer.Option("--warmup", min=0.0)] = 1.0,
    idle: Annotated[
        int, typer.Option("--idle", min=0, help="Idle sockets for the RSS/connection figures.")
    ] = 10_000,
    pollers: Annotated[
        int,
        typer.Option(
            "--pollers", min=0, help="Keep-alive connections short-polling (0: no poll figure)."
        ),
    ] = 50,
    no_pin: Annotated[bool, typer.Option("--no-pin", help="Do not pin server and client.")] = False,
    interval: IntervalWidth = 1.0,
    out: Out = "reports",
    server_name: Server = "uvicorn",
    loop: Loop = "auto",
    http_impl: HttpImpl = "auto",
    flavor: ReferenceFlavor = None,
    app: App = None,
    app_dir: AppDir = None,
    factory: Factory = False,
    profile: Profile = None,
    tls: Tls = False,
    ssl_keyfile: SslKeyfile = None,
    ssl_certfile: SslCertfile = None,
    ws_per_message_deflate: WsPerMessageDeflate = False,
) -> None:
    """Echo round trips/s, fan-out deliveries/s and idle memory, per WebSocket implementation;
    then short polls/s, each against a bare ASGI app (--flavor: the reference app's), or on
    your app (--app, --profile: the phases its profile offers)."""
    chosen = resolve_target(app, app_dir, factory, profile, check=True)
    if not isinstance(chosen.profile, TargetProfile):
        err.print(
            "[red]error:[/red] serverbench drives a TOML or built-in profile; a Python adapter "
            "(--profile MODULE:CLASS) is driven by compare, ramp and the Locust users",
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_UNUSABLE)
    own_profile = chosen.profile
    no_flavor_for_own_app(chosen, flavor)
    keyfile, certfile = tls_files(ssl_keyfile, ssl_certfile, tls=tls)
    uvicorn_impls = server_name in UVICORN_PROTOCOL_SERVERS
    if ws_impl is None:
        # Another server has one WebSocket implementation of its own: measured as "auto".
        ws_impl = "websockets-sansio,websockets,wsproto" if uvicorn_impls else "auto"
    impls = tuple(part.strip() for part in ws_impl.split(",") if part.strip())
    auto_ok = not uvicorn_impls
    unknown = [impl for impl in impls if impl not in WS_IMPLS or (impl == "auto" and not auto_ok)]
    if unknown or not impls:
        err.print(f"[red]error:[/red] unknown --ws-impl {', '.join(unknown) or '(none)'}")
        raise typer.Exit(EXIT_UNUSABLE)
    try:
        # The harness holds one socket per connection, the server another: both need the room.
        raise_open_files(max(idle, subscribers, connections) + 256)
    except OSError as exc:
        err.print(f"[red]error:[/red] --idle {idle}: {exc}")
        raise typer.Exit(EXIT_UNUSABLE) from None
    for impl in impls:  # each implementation must run under the server: refused here if not
        server_config(
            host="127.0.0.1",
            port=0,
            workers=1,
            loop=loop,
            ws_impl=impl,
            http_impl=http_impl,
            broker="memory",
            server=server_name,
            ws_per_message_deflate=ws_per_message_deflate,
        )
    server = server_config(
        host="127.0.0.1",
        port=0,
        workers=1,
        loop=loop,
        ws_impl="auto",
        http_impl=http_impl,
        broker="memory",
        flavor=flavor or "asgi",
        app=chosen,
        ssl_keyfile=keyfile,
        ssl_certfile=certfile,
        server=server_name,
        ws_per_message_deflate=ws_per_message_deflate,
    )
    config = ServerBenchConfig(
        ws_impls=impls,
        connections=connections,
        subscribers=subscribers,
        payload_bytes=payload_bytes,
        duration_s=duration,
        repeat=repeat,
        warmup_s=warmup,
        idle_connections=idle,
        pollers=pollers,
        server=server,
        pin=not no_pin,
        profile=own_profile,
        tls=tls,
        interval_s=interval,
    )
    for phase, reason in skipped_phases(own_profile).items():
        err.print(f"{phase}: not measured ({escape(reason)})", soft_wrap=True)
    outcome = run_serverbench(config, Path(out), _Lines())
    document, run_dir = outcome.document, outcome.run_dir
    console = Console() if sys.stdout.isatty() else Console(width=200)
    console.print(serverbench_table(document))
    polls = serverbench_poll_table(document)
    if polls is not None:
        console.print(polls)
    write_report(document, run_dir)
    err.print(f"results: {run_dir / 'results.json'}")
    if document.interrupted:
        raise typer.Exit(130)
