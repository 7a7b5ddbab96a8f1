"""The ``pushbench`` command: one entry point, the same option names on every subcommand."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.console import Console

from pushbench.server_config import HTTP_IMPLS, LOOPS, WS_IMPLS, ServerConfig

__all__ = ["app", "main"]

app = typer.Typer(
    name="pushbench",
    help="WebSocket push vs HTTP polling: run the reference server, measure, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)


@app.callback()
def _group() -> None:
    """WebSocket push vs HTTP polling: run the reference server, measure, report."""


Workers = Annotated[int, typer.Option("--workers", min=1, help="uvicorn worker processes.")]
Loop = Annotated[str, typer.Option("--loop", help=f"Event loop: {', '.join(LOOPS)}.")]
WsImpl = Annotated[
    str, typer.Option("--ws-impl", help=f"uvicorn WebSocket implementation: {', '.join(WS_IMPLS)}.")
]
HttpImpl = Annotated[
    str, typer.Option("--http-impl", help=f"uvicorn HTTP implementation: {', '.join(HTTP_IMPLS)}.")
]
Broker = Annotated[
    str, typer.Option("--broker", help="'memory' (one worker) or a redis:// URL (any workers).")
]


def server_config(
    *, host: str, port: int, workers: int, loop: str, ws_impl: str, http_impl: str, broker: str
) -> ServerConfig:
    """A :class:`ServerConfig` from CLI options; bad combinations exit 2 with the reason."""
    try:
        return ServerConfig(
            host=host,
            port=port,
            workers=workers,
            loop=loop,
            ws_impl=ws_impl,
            http_impl=http_impl,
            broker=broker,
            log_level="info",
            access_log=False,
        )
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0: any).")] = 8001,
    workers: Workers = 1,
    loop: Loop = "auto",
    ws_impl: WsImpl = "auto",
    http_impl: HttpImpl = "auto",
    broker: Broker = "memory",
) -> None:
    """Run the reference server in the foreground (Ctrl-C stops it)."""
    config = server_config(
        host=host,
        port=port,
        workers=workers,
        loop=loop,
        ws_impl=ws_impl,
        http_impl=http_impl,
        broker=broker,
    )
    shown = f"[{host}]" if ":" in host else host
    err.print(
        f"pushbench reference server on [bold]http://{shown}:{port}[/bold] "
        f"(chat page /, API docs /docs; workers={workers} loop={loop} ws={ws_impl} "
        f"http={http_impl} broker={broker})"
    )
    os.environ.update(config.environment())
    argv = [sys.executable, "-m", "uvicorn", *config.uvicorn_args(), "--host", host]
    argv += ["--port", str(port)]
    # exec: uvicorn owns signals and workers exactly as when it is run by hand.
    os.execv(sys.executable, argv)


def main() -> None:
    """Console-script entry point."""
    app()
