"""Options shared by every ``pushbench`` command, so each name means the same everywhere."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from pushbench.core.server_config import FLAVORS, HTTP_IMPLS, LOOPS, WS_IMPLS, ServerConfig

__all__ = [
    "Broker",
    "Flavor",
    "Flavors",
    "HttpImpl",
    "Loop",
    "Out",
    "Workers",
    "WsImpl",
    "err",
    "parse_flavors",
    "server_config",
]

#: Progress, warnings and errors go to stderr; stdout carries only results.
err = Console(stderr=True)

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

Flavor = Annotated[
    str,
    typer.Option(
        "--flavor",
        help=f"How the reference server serves every transport: {', '.join(FLAVORS)} (lean "
        "ASGI, or idiomatic FastAPI).",
    ),
]

Flavors = Annotated[
    str | None,
    typer.Option(
        "--flavor",
        help=f"Flavors of the reference server, comma-separated: {', '.join(FLAVORS)} (lean "
        "ASGI, idiomatic FastAPI); each is measured on its own servers.",
        show_default=False,
    ),
]


def parse_flavors(text: str) -> tuple[str, ...]:
    """``"asgi,fastapi"`` → ``("asgi", "fastapi")``; an unknown or missing flavor exits 2."""
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [name for name in names if name not in FLAVORS]
    if unknown or not names:
        err.print(
            f"[red]error:[/red] unknown --flavor {', '.join(unknown) or '(none)'}; "
            f"choose from {', '.join(FLAVORS)}"
        )
        raise typer.Exit(2)
    return names


Out = Annotated[
    str, typer.Option("--out", help="Directory that receives reports/<run-id>/ folders.")
]


def server_config(
    *,
    host: str,
    port: int,
    workers: int,
    loop: str,
    ws_impl: str,
    http_impl: str,
    broker: str,
    flavor: str = "asgi",
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
            flavor=flavor,
            log_level="info",
            access_log=False,
        )
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
