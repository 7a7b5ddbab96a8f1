"""Options shared by every ``pushbench`` command, so each name means the same everywhere."""

from __future__ import annotations

import contextlib
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from pushbench.core.kinds import PUSH_TRANSPORTS, Transport
from pushbench.core.payload_kind import PAYLOAD_KINDS
from pushbench.core.server_config import (
    FLAVORS,
    HTTP_IMPLS,
    LOOPS,
    REFERENCE_APP,
    SERVERS,
    WS_IMPLS,
    ServerConfig,
    TlsFilesMismatch,
)
from pushbench.core.target_adapter import TargetAdapter
from pushbench.core.target_profile import (
    BUILTIN_PROFILES,
    ProfileError,
    TargetProfile,
    load_profile,
    resolve_profile,
)
from pushbench.gate.config import find_pyproject
from pushbench.harness.app_check import app_import_error

__all__ = [
    "App",
    "AppDir",
    "Broker",
    "Factory",
    "Flavor",
    "Flavors",
    "HttpImpl",
    "IntervalWidth",
    "Loop",
    "Out",
    "PayloadKind",
    "Profile",
    "ReferenceFlavor",
    "Server",
    "SslCertfile",
    "SslKeyfile",
    "Target",
    "Tls",
    "Workers",
    "WsImpl",
    "WsPerMessageDeflate",
    "adapter_search",
    "err",
    "no_flavor_for_own_app",
    "parse_flavors",
    "parse_transports",
    "server_config",
    "target",
    "tls_files",
]

#: Progress, warnings and errors go to stderr; stdout carries only results.
err = Console(stderr=True)

Server = Annotated[
    str,
    typer.Option(
        "--server",
        help=f"ASGI server to run the app under: {', '.join(SERVERS)} (docs/servers.md).",
    ),
]
Workers = Annotated[int, typer.Option("--workers", min=1, help="Server worker processes.")]
Loop = Annotated[str, typer.Option("--loop", help=f"Event loop: {', '.join(LOOPS)}.")]
WsImpl = Annotated[
    str, typer.Option("--ws-impl", help=f"uvicorn WebSocket implementation: {', '.join(WS_IMPLS)}.")
]
HttpImpl = Annotated[
    str, typer.Option("--http-impl", help=f"uvicorn HTTP implementation: {', '.join(HTTP_IMPLS)}.")
]
WsPerMessageDeflate = Annotated[
    bool,
    typer.Option(
        "--ws-per-message-deflate/--no-ws-per-message-deflate",
        help="permessage-deflate (RFC 7692): the server offers it (uvicorn's option of that "
        "name) and every WebSocket client negotiates it (docs/deflate.md).",
    ),
]
PayloadKind = Annotated[
    str,
    typer.Option(
        "--payload",
        help=f"What the published payloads hold: {', '.join(PAYLOAD_KINDS)} (text: 'x' "
        "repeated, compressible; random: fresh random bytes per message as base64, "
        "incompressible).",
    ),
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

#: ``--flavor`` of a command that may run your app instead (``--app``): None until given, so a
#: flavor given with ``--app`` can be refused (it is the reference server's) rather than ignored.
ReferenceFlavor = Annotated[
    str | None,
    typer.Option(
        "--flavor",
        help=f"How the reference server serves every transport: {', '.join(FLAVORS)} "
        "(default asgi).",
        show_default=False,
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


def parse_transports(text: str) -> tuple[Transport, ...]:
    """``"ws,sse"`` → the push transports named; unknown or none: a usage error (exit 2)."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [n for n in names if n not in PUSH_TRANSPORTS]
    if unknown or not names:
        raise typer.BadParameter(
            f"unknown transport(s) {', '.join(unknown) or '(none)'}; "
            f"choose from {', '.join(PUSH_TRANSPORTS)}"
        )
    return tuple(Transport(name) for name in names)


SslKeyfile = Annotated[
    str | None,
    typer.Option(
        "--ssl-keyfile",
        metavar="FILE",
        help="The server's private key (PEM; uvicorn --ssl-keyfile): serve https:// and wss://.",
        show_default=False,
    ),
]
SslCertfile = Annotated[
    str | None,
    typer.Option(
        "--ssl-certfile",
        metavar="FILE",
        help="The server's certificate chain (PEM; uvicorn --ssl-certfile).",
        show_default=False,
    ),
]
Tls = Annotated[
    bool,
    typer.Option(
        "--tls",
        help="Serve over TLS with a throwaway CA and certificate made for the run (trustme), "
        "trusted by every client (docs/tls.md).",
    ),
]


def tls_files(
    keyfile: str | None, certfile: str | None, *, tls: bool = False
) -> tuple[str | None, str | None]:
    """``--ssl-keyfile``/``--ssl-certfile`` checked: both or neither, not with ``--tls``, and
    a key and certificate that load together; anything else exits 2 with one line."""
    if tls and (keyfile is not None or certfile is not None):
        _refuse(
            "--tls makes a throwaway certificate of its own: give --tls, or --ssl-keyfile "
            "and --ssl-certfile, not both"
        )
    if keyfile is None and certfile is None:
        return None, None
    if keyfile is None or certfile is None:
        given, missing = (
            ("--ssl-keyfile", "--ssl-certfile")
            if certfile is None
            else ("--ssl-certfile", "--ssl-keyfile")
        )
        _refuse(str(TlsFilesMismatch(given, missing)))
    for option, path in (("--ssl-keyfile", keyfile), ("--ssl-certfile", certfile)):
        try:
            Path(path).open("rb").close()
        except OSError as exc:
            _refuse(f"{option} {path}: cannot read it ({exc.strerror or exc})")
    try:  # what uvicorn will do at start-up: said now, in one line, not as its traceback
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    except (ssl.SSLError, ValueError) as exc:
        _refuse(
            f"--ssl-certfile {certfile} and --ssl-keyfile {keyfile} do not load as a PEM "
            f"certificate chain and its private key ({exc})"
        )
    return keyfile, certfile


Out = Annotated[
    str, typer.Option("--out", help="Directory that receives reports/<run-id>/ folders.")
]

IntervalWidth = Annotated[
    float,
    typer.Option(
        "--interval",
        min=0.01,
        help="Seconds per interval of the over-time figures (a histogram and counters each).",
    ),
]

App = Annotated[
    str | None,
    typer.Option(
        "--app",
        metavar="MODULE:ATTR",
        help="Your ASGI app, in uvicorn's import form (default: the reference server); driven "
        "as --profile describes it.",
        show_default=False,
    ),
]
AppDir = Annotated[
    str | None,
    typer.Option(
        "--app-dir",
        help="Where --app's module is imported from (uvicorn --app-dir; default: here).",
        show_default=False,
    ),
]
Factory = Annotated[
    bool, typer.Option("--factory", help="--app names a callable that returns the app.")
]
Profile = Annotated[
    str | None,
    typer.Option(
        "--profile",
        metavar="NAME|FILE|MODULE:CLASS",
        help="How to drive the app: reference, tutorial, fastapi-docs-chat, a TOML file, or "
        "MODULE:CLASS, a Python adapter (docs/own-app.md) "
        "(default: reference; with --app, [tool.pushbench.target] of the nearest "
        "pyproject.toml).",
        show_default=False,
    ),
]


@dataclass(frozen=True, slots=True)
class Target:
    """The app a command measures and how to drive it, from ``--app``/``--profile``."""

    app: str
    app_dir: str | None
    factory: bool
    profile: TargetAdapter

    @property
    def reference(self) -> bool:
        """Whether it is pushbench's own server (flavors apply; its receivers read envelopes)."""
        return self.app == REFERENCE_APP and self.profile.reference


def target(
    app: str | None, app_dir: str | None, factory: bool, profile: str | None, *, check: bool
) -> Target:
    """``--app``/``--app-dir``/``--factory``/``--profile`` resolved; what cannot be used exits
    2 with one line (a bad profile names its key; an app that does not import gets uvicorn's
    own message). ``check``: import the app first, in a child process (a launched server)."""
    chosen: TargetAdapter
    try:
        if profile is not None:
            chosen = resolve_profile(profile, adapter_search(app_dir))
        elif app is None:
            chosen = BUILTIN_PROFILES["reference"]
        else:
            chosen = _pyproject_profile(app, app_dir)
    except ProfileError as exc:
        _refuse(str(exc))
    if app is not None and check:
        problem = app_import_error(app, app_dir, factory)
        if problem is not None:
            _refuse(problem)
    return Target(app or REFERENCE_APP, app_dir, factory, chosen)


def adapter_search(app_dir: str | None) -> list[str]:
    """Where a ``--profile MODULE:CLASS`` adapter is imported from: ``--app-dir`` and the
    working directory (a ``pushbench`` console script's own ``sys.path`` lacks the latter)."""
    return [folder for folder in (app_dir, str(Path.cwd())) if folder]


def _pyproject_profile(app: str, app_dir: str | None) -> TargetProfile:
    # The nearest pyproject.toml from where pushbench runs (as ruff and pytest look): the app's
    # project, whatever folder (--app-dir) its modules are imported from.
    found = find_pyproject(Path.cwd())
    if found is not None:
        with contextlib.suppress(ProfileError):
            return load_profile(found)
    raise ProfileError(
        f"--app {app} needs --profile: one of {', '.join(BUILTIN_PROFILES)}, a TOML file, or "
        "[tool.pushbench.target] in the app's pyproject.toml"
    )


def no_flavor_for_own_app(chosen: Target, flavor: str | None) -> None:
    """``--flavor`` with ``--app``/``--profile`` exits 2: flavors are the reference server's."""
    if flavor is not None and not chosen.reference:
        _refuse(
            "--flavor chooses how the reference server serves; your app (--app/--profile) "
            "serves its own way"
        )


def _refuse(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(2)


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
    app: Target | None = None,
    ssl_keyfile: str | None = None,
    ssl_certfile: str | None = None,
    server: str = "uvicorn",
    ws_per_message_deflate: bool = False,
) -> ServerConfig:
    """A :class:`ServerConfig` from CLI options; bad combinations (an option ``server`` lacks
    among them) exit 2 with the reason."""
    try:
        return ServerConfig(
            server=server,
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
            ssl_keyfile=ssl_keyfile,
            ssl_certfile=ssl_certfile,
            ws_per_message_deflate=ws_per_message_deflate,
            **_app_fields(app),
        )
    except ValueError as exc:
        _refuse(str(exc))


def _app_fields(app: Target | None) -> dict[str, Any]:
    if app is None or app.app == REFERENCE_APP:
        return {}
    # Not the reference server: no /healthz to wait for, ready at its first HTTP answer.
    return {"app": app.app, "app_dir": app.app_dir, "factory": app.factory, "health_path": None}
