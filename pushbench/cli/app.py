"""The ``pushbench`` command: one entry point, the same option names on every subcommand."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.markup import escape

from pushbench.cli.options import (
    App,
    AppDir,
    Broker,
    Factory,
    HttpImpl,
    Loop,
    ReferenceFlavor,
    Server,
    SslCertfile,
    SslKeyfile,
    Workers,
    WsImpl,
    WsPerMessageDeflate,
    err,
    no_flavor_for_own_app,
    server_config,
    tls_files,
)
from pushbench.cli.options import target as resolve_target
from pushbench.cli.report import gate, report
from pushbench.compare.cli import compare
from pushbench.core.server_argv import Bind, server_command
from pushbench.harness.launcher import loop_in_use, uvloop_installed
from pushbench.plan.cli import plan
from pushbench.ramp.cli import ramp
from pushbench.serverbench.cli import serverbench
from pushbench.sweep.cli import sweep

__all__ = ["app", "main"]

app = typer.Typer(
    name="pushbench",
    help="WebSocket push vs HTTP polling: run the reference server, measure, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _group() -> None:
    """WebSocket push vs HTTP polling: run the reference server, measure, report."""


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0: any).")] = 8001,
    server_name: Server = "uvicorn",
    workers: Workers = 1,
    loop: Loop = "auto",
    ws_impl: WsImpl = "auto",
    http_impl: HttpImpl = "auto",
    broker: Broker = "memory",
    flavor: ReferenceFlavor = None,
    app_name: App = None,
    app_dir: AppDir = None,
    factory: Factory = False,
    ssl_keyfile: SslKeyfile = None,
    ssl_certfile: SslCertfile = None,
    ws_per_message_deflate: WsPerMessageDeflate = False,
) -> None:
    """Run the reference server, or your app (--app), under uvicorn (or --server granian,
    hypercorn) in the foreground (Ctrl-C stops it)."""
    # serve drives nothing, so no profile is needed: only the app must import.
    chosen = resolve_target(app_name, app_dir, factory, "reference", check=True)
    no_flavor_for_own_app(chosen, flavor)
    flavor = flavor or "asgi"
    keyfile, certfile = tls_files(ssl_keyfile, ssl_certfile)
    config = server_config(
        host=host,
        port=port,
        workers=workers,
        loop=loop,
        ws_impl=ws_impl,
        http_impl=http_impl,
        broker=broker,
        flavor=flavor,
        app=chosen if app_name is not None else None,
        ssl_keyfile=keyfile,
        ssl_certfile=certfile,
        server=server_name,
        ws_per_message_deflate=ws_per_message_deflate,
    )
    shown = f"[{host}]" if ":" in host else host
    scheme = "https" if config.tls else "http"
    # The loop that runs (auto resolved, the same under every server), as results record it.
    settings = (
        f"{server_name} workers={workers} loop={loop_in_use(config)} ws={ws_impl} http={http_impl}"
    )
    if ws_per_message_deflate:
        settings += " permessage-deflate"
    if app_name is None:
        err.print(
            f"pushbench reference server on [bold]{scheme}://{shown}:{port}[/bold] "
            f"(chat page /, API docs /docs; {settings} broker={broker} flavor={flavor})"
        )
    else:
        err.print(
            f"{escape(app_name)} on [bold]{scheme}://{shown}:{port}[/bold] ({settings})",
            soft_wrap=True,
        )
    os.environ.update(config.environment())
    command = server_command(config, Bind(host, port), uvloop_installed=uvloop_installed())
    os.environ.update(command.environ(os.environ))
    # exec: the server owns signals and workers exactly as when it is run by hand.
    os.execv(sys.executable, command.argv(sys.executable))


# Each command lives in a module of its own; registering it here keeps one `pushbench` entry point.
app.command()(compare)
app.command()(serverbench)
app.command()(report)
app.command()(gate)
app.command()(plan)
app.command()(sweep)
app.command()(ramp)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
