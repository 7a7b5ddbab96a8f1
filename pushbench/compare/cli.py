"""The ``pushbench compare`` command: options, progress bar, summary table, exit code."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from pushbench.cli.console import (
    EXIT_FAILED,
    EXIT_UNUSABLE,
    summary_rich_table,
    tax_rich_table,
    tls_rich_tables,
)
from pushbench.cli.gating import run_gate_command
from pushbench.cli.options import (
    App,
    AppDir,
    Broker,
    Factory,
    Flavors,
    HttpImpl,
    IntervalWidth,
    Loop,
    Out,
    PayloadKind,
    Profile,
    Server,
    SslCertfile,
    SslKeyfile,
    Target,
    Workers,
    WsImpl,
    WsPerMessageDeflate,
    err,
    no_flavor_for_own_app,
    parse_flavors,
    parse_transports,
    server_config,
    tls_files,
)
from pushbench.cli.options import target as resolve_target
from pushbench.compare.run import CompareConfig, run_compare
from pushbench.core.completeness import is_complete
from pushbench.core.kinds import PUSH_TRANSPORTS
from pushbench.core.payload_kind import PAYLOAD_KINDS
from pushbench.core.schema import ResultsDocument, Scenario
from pushbench.core.server_config import FLAVORS
from pushbench.harness.run_skeleton import RunProgress
from pushbench.report import write_report
from pushbench.report.verdict import Severity, findings, verdict_lines

__all__ = ["compare", "print_summary"]

QUICK = {"duration_s": 2.0, "warmup_s": 0.5, "subscribers": 10, "rate_per_s": 100.0}


def _floats(text: str, option: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{option} takes numbers separated by commas, not {text!r}"
        ) from None
    if not values or any(v <= 0 for v in values):
        raise typer.BadParameter(f"{option} needs at least one value, all > 0")
    return values


class _Bar(RunProgress):
    """A live bar on a terminal; on a pipe (CI logs), a line per 10% so progress still shows."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.console = progress.console
        self.task = progress.add_task("starting", total=1.0)
        self.name = ""
        self.step = -1

    def step_started(self, index: int, total: int, label: str, eta_s: float | None = None) -> None:
        self.name, self.step = label, -1
        self.progress.update(self.task, description=f"[{index + 1}/{total}] {label}", completed=0.0)
        if not self.console.is_terminal:
            self.console.print(f"[{index + 1}/{total}] {label}: starting")

    def step_skipped(self, label: str, reason: str) -> None:
        self.console.print(f"{escape(label)}: not measured ({escape(reason)})")

    def step_progress(self, fraction: float) -> None:
        self.progress.update(self.task, completed=fraction)
        step = int(fraction * 10)
        if not self.console.is_terminal and step > self.step:
            self.step = step
            self.console.print(f"  {self.name}: {step * 10}% of the publishing schedule")

    def step_finished(
        self, label: str, scenarios: Sequence[Scenario], errors: Sequence[str]
    ) -> None:
        # A scenario that did not start is said among the findings, after the run.
        for scenario in scenarios:
            self._scenario(scenario)

    def _scenario(self, scenario: Scenario) -> None:
        latency = scenario.latency_us
        self.console.print(
            f"  {scenario.name:<16} p50 {latency.p50 / 1000:8.2f} ms  "
            f"p99 {latency.p99 / 1000:8.2f} ms  delivered {scenario.delivered}/{scenario.sent}"
        )
        if scenario.publishes_failed:
            self.console.print(
                f"  [red]error:[/red] {scenario.publishes_failed:,} of "
                f"{scenario.publishes_attempted or 0:,} publishes failed"
            )
        for error in scenario.errors[:3]:
            self.console.print(f"  [red]error:[/red] {error}")


def print_summary(document: ResultsDocument, console: Console) -> None:
    """Print the comparison table, the framework tax (if both flavors ran) and the verdict,
    then the report's warnings and errors to stderr."""
    console.print(summary_rich_table(document))
    tax = tax_rich_table(document)
    if tax is not None:
        console.print(tax)
    for table in tls_rich_tables(document):
        console.print(table)
    for line in verdict_lines(document):
        console.print(escape(line), soft_wrap=True)
    for finding in findings(document):
        label = (
            "[red]error:[/red]"
            if finding.severity is Severity.ERROR
            else "[yellow]warning:[/yellow]"
        )
        err.print(f"{label} {escape(finding.text)}")


def compare(
    ctx: typer.Context,
    target: Annotated[
        str | None,
        typer.Option("--target", help="URL of a running server; default: launch one per scenario."),
    ] = None,
    transports: Annotated[
        str,
        typer.Option("--transports", help=f"Comma-separated: {','.join(PUSH_TRANSPORTS)}."),
    ] = ",".join(PUSH_TRANSPORTS),
    poll_interval: Annotated[
        str, typer.Option("--poll-interval", help="Short-poll intervals in seconds, e.g. 0.1,1.0.")
    ] = "0.1,1.0",
    rate: Annotated[
        float | None,
        typer.Option(
            "--rate",
            min=0.001,
            help="Messages per second, total (default 200; --quick: 100).",
            show_default=False,
        ),
    ] = None,
    publishers: Annotated[int, typer.Option("--publishers", min=1)] = 2,
    subscribers: Annotated[
        int | None,
        typer.Option("--subscribers", min=1, help="(default 50; --quick: 10)", show_default=False),
    ] = None,
    payload_bytes: Annotated[int, typer.Option("--payload-bytes", min=0)] = 64,
    payload_kind: PayloadKind = "text",
    stalled_subscribers: Annotated[
        int,
        typer.Option(
            "--stalled-subscribers",
            min=0,
            help="Extra WebSocket subscribers (ws scenarios) that connect and never read: what a "
            "stuck client does to everyone else's latency.",
        ),
    ] = 0,
    duration: Annotated[
        float | None,
        typer.Option(
            "--duration",
            min=0.1,
            help="Measured seconds per scenario (default 10; --quick: 2).",
            show_default=False,
        ),
    ] = None,
    warmup: Annotated[
        float | None,
        typer.Option(
            "--warmup",
            min=0.0,
            help="Unmeasured seconds first (default 2; --quick: 0.5).",
            show_default=False,
        ),
    ] = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="A smoke run: short scenarios, 10 subscribers (options given explicitly win).",
        ),
    ] = False,
    no_pin: Annotated[
        bool, typer.Option("--no-pin", help="Do not pin server and generator to separate CPUs.")
    ] = False,
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", help="Gate against this earlier results.json when done."),
    ] = None,
    max_regression: Annotated[
        float | None,
        typer.Option("--max-regression", help="With --baseline: allowed regression, percent."),
    ] = None,
    slo: Annotated[
        list[str] | None,
        typer.Option("--slo", help="Gate on this SLO when done, e.g. 'ws.latency_us.p99<=5000'."),
    ] = None,
    out: Out = "reports",
    interval: IntervalWidth = 1.0,
    server_name: Server = "uvicorn",
    workers: Workers = 1,
    loop: Loop = "auto",
    ws_impl: WsImpl = "auto",
    http_impl: HttpImpl = "auto",
    broker: Broker = "memory",
    flavor: Flavors = None,
    app: App = None,
    app_dir: AppDir = None,
    factory: Factory = False,
    profile: Profile = None,
    tls: Annotated[
        bool,
        typer.Option(
            "--tls",
            help="Run every scenario twice, over plain TCP and over TLS (a throwaway CA made "
            "for the run), and price a connection's TLS handshake: what TLS costs (docs/tls.md).",
        ),
    ] = False,
    ssl_keyfile: SslKeyfile = None,
    ssl_certfile: SslCertfile = None,
    ws_per_message_deflate: WsPerMessageDeflate = False,
) -> None:
    """WebSocket push vs short poll vs long poll vs SSE on one message stream, under each
    flavor of the reference server (default: asgi and fastapi, to show the framework tax), or
    on your app (--app, --profile)."""
    _no_server_options_with_target(ctx, target)
    chosen = resolve_target(app, app_dir, factory, profile, check=target is None)
    flavors = _flavors(flavor, target, chosen)
    keyfile, certfile = tls_files(ssl_keyfile, ssl_certfile, tls=tls)
    _tls_usable(tls or keyfile is not None, target, stalled_subscribers)
    server = server_config(
        host="127.0.0.1",
        port=0,
        workers=workers,
        loop=loop,
        ws_impl=ws_impl,
        http_impl=http_impl,
        broker=broker,
        flavor=flavors[0] if flavors else "asgi",
        app=chosen,
        ssl_keyfile=keyfile,
        ssl_certfile=certfile,
        server=server_name,
        ws_per_message_deflate=ws_per_message_deflate,
    )
    if payload_kind not in PAYLOAD_KINDS:
        err.print(
            f"[red]error:[/red] unknown --payload {payload_kind}; choose "
            f"{' or '.join(PAYLOAD_KINDS)}"
        )
        raise typer.Exit(EXIT_UNUSABLE)
    config = CompareConfig(
        transports=parse_transports(transports),
        poll_intervals_s=_floats(poll_interval, "--poll-interval"),
        rate_per_s=_given(rate, "rate_per_s", quick, 200.0),
        publishers=publishers,
        subscribers=int(_given(subscribers, "subscribers", quick, 50)),
        payload_bytes=payload_bytes,
        payload_kind=payload_kind,
        duration_s=_given(duration, "duration_s", quick, 10.0),
        warmup_s=_given(warmup, "warmup_s", quick, 2.0),
        target=target.rstrip("/") if target else None,
        server=server,
        pin=not no_pin,
        flavors=flavors,
        profile=chosen.profile,
        stalled_subscribers=stalled_subscribers,
        interval_s=interval,
        tls=tls,
        handshake_connections=100 if quick else 300,
    )
    if not config.planned():
        offered = ", ".join(chosen.profile.offered()) or "nothing"
        err.print(
            f"[red]error:[/red] profile {chosen.profile.name!r} offers none of "
            f"{', '.join(config.transports)} (it offers {offered}): nothing to compare",
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_UNUSABLE)
    # Piped output (CI logs, files) gets the whole table rather than 80 truncated columns.
    console = Console() if sys.stdout.isatty() else Console(width=200)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        outcome = run_compare(config, Path(out), _Bar(bar))
    document = outcome.document
    print_summary(document, console)
    written = write_report(document, outcome.run_dir)
    err.print(f"results: {outcome.run_dir / 'results.json'}")
    err.print("report:  " + ", ".join(str(path) for path in written))
    if document.interrupted:  # said among the findings above; 130 as for any Ctrl-C
        raise typer.Exit(130)
    if not is_complete(document):  # errors or failed publishes: said among the findings
        raise typer.Exit(EXIT_FAILED)
    if baseline is not None or slo:
        code = run_gate_command(
            document, baseline=baseline, max_regression=max_regression, slos=slo or ()
        )
        raise typer.Exit(code)


#: compare's parameters that configure the server it launches, and their option names.
_SERVER_OPTIONS = {
    "server_name": "--server",
    "workers": "--workers",
    "loop": "--loop",
    "ws_impl": "--ws-impl",
    "http_impl": "--http-impl",
    "broker": "--broker",
}


def _no_server_options_with_target(ctx: typer.Context, target: str | None) -> None:
    """Options of the server compare launches exit 2 with ``--target``: no server is launched,
    so they would be silently ignored while the run looked as if it had measured them."""
    if target is None:
        return
    # Given on the command line or by an environment variable, not left at its default (the
    # source enum is typer's vendored click's: compared by name).
    sources = {name: ctx.get_parameter_source(name) for name in _SERVER_OPTIONS}
    given = [
        _SERVER_OPTIONS[name]
        for name, source in sources.items()
        if source is not None and source.name != "DEFAULT"
    ]
    if given:
        verb, them = ("configure", "them") if len(given) > 1 else ("configures", "it")
        err.print(
            f"[red]error:[/red] {', '.join(given)} {verb} the server compare launches; --target "
            f"is already running, so it launches none: drop {them}, or drop --target",
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_UNUSABLE)


def _tls_usable(tls: bool, target: str | None, stalled: int) -> None:
    """TLS options that cannot apply exit 2: a ``--target`` is not started by us (give it an
    ``https://`` URL instead), and stalled subscribers connect over ``ws://`` only."""
    if not tls:
        return
    if target is not None:
        err.print(
            "[red]error:[/red] --tls and --ssl-* start servers over TLS; --target is already "
            "running: give it as https://... (PUSHBENCH_CA_FILE: the CA to trust)"
        )
        raise typer.Exit(EXIT_UNUSABLE)
    if stalled:
        err.print(
            "[red]error:[/red] --stalled-subscribers connect over ws:// only: not with --tls "
            "or --ssl-*"
        )
        raise typer.Exit(EXIT_UNUSABLE)


def _given(value: float | None, field: str, quick: bool, default: float) -> float:
    """An option's value: as given, else ``--quick``'s, else the default."""
    if value is not None:
        return value
    return QUICK[field] if quick else default


def _flavors(text: str | None, target: str | None, chosen: Target) -> tuple[str, ...]:
    """The flavors to measure. With ``--target`` the server is not ours: its flavor is what
    ``--flavor`` says (one), else not known (``()``). A user's app has no flavors."""
    no_flavor_for_own_app(chosen, text)
    if not chosen.reference:
        return ()
    if text is None:
        return () if target else FLAVORS
    flavors = parse_flavors(text)
    if target and len(flavors) > 1:
        err.print(
            "[red]error:[/red] --target runs one server: give it one --flavor (the one it "
            "serves), or none"
        )
        raise typer.Exit(EXIT_UNUSABLE)
    return flavors


def _fields(config: CompareConfig) -> dict[str, object]:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}
