"""Each ASGI server's command line for one :class:`~pushbench.core.server_config.ServerConfig`.

A registry from server name to its command builder, as uvicorn's ``Config`` maps names to
import strings: the launcher and ``pushbench serve`` only pick the entry. Pure: the builders
return argument lists and environment additions, so the mapping is unit-tested without starting
anything. What each server does with its listening socket differs, and is part of the entry:

- uvicorn (``--fd N``), hypercorn and gunicorn (``--bind fd://N``) serve a socket the harness
  bound and handed down, so the port is known before they start and nothing can take it in
  between;
- granian has no option to take a socket: its workers bind their own (``SO_REUSEPORT``), so it
  gets ``--host``/``--port`` of a port the harness holds bound, not listening, for as long as the
  server runs (:data:`TAKES_FD`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from pushbench.core.server_config import HTTP_PROTOCOLS, ServerConfig, resolved_loop

__all__ = [
    "BACKLOG",
    "COMMANDS",
    "DEFAULT_HEADER_TIMEOUT_S",
    "GUNICORN_GRACEFUL_TIMEOUT_S",
    "GUNICORN_WORKER",
    "GUNICORN_WORKER_ENV",
    "TAKES_FD",
    "Bind",
    "ServerCommand",
    "server_command",
]

#: ``target_app.settings.Settings.header_timeout_s``'s default (s): what the reference server
#: gives a client to send a request head under uvicorn (``target_app.http_head``), passed to
#: granian as its own bound so both close a slowloris connection at the same time.
DEFAULT_HEADER_TIMEOUT_S = 10.0
#: The listen backlog every server gets (uvicorn's default; granian's is 1024, hypercorn's 100,
#: which would refuse connections a burst of clients opens at once).
BACKLOG = 2048


@dataclass(frozen=True, slots=True)
class Bind:
    """Where the server listens: an inherited socket (``fd``), else ``host`` and ``port``."""

    host: str = "127.0.0.1"
    port: int = 0
    fd: int | None = None


@dataclass(frozen=True, slots=True)
class ServerCommand:
    """What to run after ``python``: ``-m <module> <args>``."""

    module: str
    args: list[str] = field(default_factory=list)
    #: A folder to put first on ``PYTHONPATH`` (``--app-dir`` for a server that lacks it: what
    #: uvicorn's ``--app-dir`` does to ``sys.path``); None: leave it alone.
    python_path: str | None = None
    #: Variables the server's own configuration reads (gunicorn's worker: its uvicorn options).
    env: dict[str, str] = field(default_factory=dict)

    def argv(self, python: str) -> list[str]:
        """The whole command line with interpreter ``python``."""
        return [python, "-m", self.module, *self.args]

    def environ(self, base: Mapping[str, str]) -> dict[str, str]:
        """What to add to the environment ``base`` the server would otherwise get."""
        if self.python_path is None:
            return dict(self.env)
        rest = base.get("PYTHONPATH")
        return {**self.env, "PYTHONPATH": self.python_path + (":" + rest if rest else "")}


def _uvicorn(config: ServerConfig, bind: Bind) -> ServerCommand:
    where = ["--fd", str(bind.fd)] if bind.fd is not None else _host_port(bind)
    return ServerCommand("uvicorn", [*config.uvicorn_args(), *where])


def _host_port(bind: Bind) -> list[str]:
    return ["--host", bind.host, "--port", str(bind.port)]


#: granian ``--log-level`` has no ``trace``; the others are uvicorn's names.
_GRANIAN_LOG_LEVELS = {"trace": "debug"}


def _granian(config: ServerConfig, bind: Bind) -> ServerCommand:
    # --http 1: the clients speak HTTP/1.1 (as to uvicorn); "auto" would also accept h2c.
    args = [
        config.app,
        "--interface",
        "asgi",
        "--workers",
        str(config.workers),
        "--loop",
        config.loop,
        "--ws",
        "--http",
        "1",
        "--backlog",
        str(BACKLOG),
        "--log-level",
        _GRANIAN_LOG_LEVELS.get(config.log_level, config.log_level),
        "--access-log" if config.access_log else "--no-access-log",
        *_host_port(bind),
    ]
    # granian's own bound on a request head (ms, 1..60000; its default is 30 s): the one
    # target_app.http_head adds to uvicorn, at the reference server's setting.
    timeout_s = float(config.settings.get("header_timeout_s", DEFAULT_HEADER_TIMEOUT_S))
    args += ["--http1-header-read-timeout", str(min(60_000, max(1, round(timeout_s * 1000))))]
    if config.factory:
        args.append("--factory")
    if config.ssl_keyfile is not None and config.ssl_certfile is not None:
        # granian reads PKCS#8 keys only (pushbench.harness.throwaway_ca writes that form).
        args += ["--ssl-keyfile", config.ssl_keyfile, "--ssl-certificate", config.ssl_certfile]
    return ServerCommand("granian", args, config.app_dir)


#: hypercorn's ``--worker-class`` per resolved ``--loop`` (never ``auto``: hypercorn's own
#: default is asyncio, not the uvloop uvicorn's ``auto`` picks).
_HYPERCORN_WORKER_CLASS = {"asyncio": "asyncio", "uvloop": "uvloop"}


def _hypercorn(config: ServerConfig, bind: Bind) -> ServerCommand:
    # hypercorn reads a factory as a call in the app path (``module:make_app()``).
    app = f"{config.app}()" if config.factory else config.app
    where = f"fd://{bind.fd}" if bind.fd is not None else _hypercorn_address(bind)
    args = [
        app,
        "--workers",
        str(config.workers),
        "--worker-class",
        _HYPERCORN_WORKER_CLASS[config.loop],
        "--bind",
        where,
        "--backlog",
        str(BACKLOG),
        "--log-level",
        config.log_level.upper(),
        # Errors to stderr (the server log); hypercorn writes no access log unless told where.
        "--error-logfile",
        "-",
    ]
    if config.access_log:
        args += ["--access-logfile", "-"]
    if config.ssl_keyfile is not None and config.ssl_certfile is not None:
        args += ["--keyfile", config.ssl_keyfile, "--certfile", config.ssl_certfile]
    return ServerCommand("hypercorn", args, config.app_dir)


def _hypercorn_address(bind: Bind) -> str:
    host = f"[{bind.host}]" if ":" in bind.host else bind.host
    return f"{host}:{bind.port}"


#: The gunicorn worker class: uvicorn's worker (``uvicorn_worker.UvicornWorker``), its uvicorn
#: options from :data:`GUNICORN_WORKER_ENV` (:mod:`pushbench.harness.gunicorn_worker`).
GUNICORN_WORKER = "pushbench.harness.gunicorn_worker.UvicornWorker"
#: The environment variable that carries the uvicorn options to gunicorn's workers (JSON of
#: uvicorn ``Config`` keyword arguments): gunicorn's command line has no place for them.
GUNICORN_WORKER_ENV = "PUSHBENCH_GUNICORN_UVICORN_CONFIG"
#: Seconds gunicorn gives its workers to finish on SIGTERM before killing them (its default,
#: 30 s, would hold every stop of a run with open WebSockets for that long).
GUNICORN_GRACEFUL_TIMEOUT_S = 3
#: uvicorn's keep-alive timeout (s): gunicorn hands its own (``--keep-alive``, default 2 s) to
#: the uvicorn worker, so the same idle keep-alive connection lives as long as under uvicorn.
_UVICORN_KEEP_ALIVE_S = 5
#: gunicorn ``--log-level`` has no ``trace``; the others are uvicorn's names.
_GUNICORN_LOG_LEVELS = {"trace": "debug"}


def _gunicorn_worker_kwargs(config: ServerConfig) -> dict[str, object]:
    """The uvicorn ``Config`` options gunicorn's worker runs: those uvicorn's command line
    gets (:meth:`ServerConfig.uvicorn_args`), under ``Config``'s own names."""
    return {
        "loop": config.loop,
        "ws": config.ws_impl,
        "http": HTTP_PROTOCOLS[config.http_impl],
        "ws_per_message_deflate": config.ws_per_message_deflate,
        "access_log": config.access_log,
    }


def _gunicorn(config: ServerConfig, bind: Bind) -> ServerCommand:
    # gunicorn reads a factory as a call in the app path (``module:make_app()``), as hypercorn.
    app = f"{config.app}()" if config.factory else config.app
    where = f"fd://{bind.fd}" if bind.fd is not None else _hypercorn_address(bind)
    args = [
        app,
        "--worker-class",
        GUNICORN_WORKER,
        "--workers",
        str(config.workers),
        "--bind",
        where,
        "--backlog",
        str(BACKLOG),
        "--keep-alive",
        str(_UVICORN_KEEP_ALIVE_S),
        "--graceful-timeout",
        str(GUNICORN_GRACEFUL_TIMEOUT_S),
        "--log-level",
        _GUNICORN_LOG_LEVELS.get(config.log_level, config.log_level),
        "--error-logfile",
        "-",
        # gunicorn >= 25 opens a control socket at one path per user by default: concurrent
        # servers would take it from each other, and nothing of pushbench's uses it.
        "--no-control-socket",
    ]
    if config.access_log:
        args += ["--access-logfile", "-"]
    if config.ssl_keyfile is not None and config.ssl_certfile is not None:
        args += ["--keyfile", config.ssl_keyfile, "--certfile", config.ssl_certfile]
    env = {GUNICORN_WORKER_ENV: json.dumps(_gunicorn_worker_kwargs(config), sort_keys=True)}
    return ServerCommand("gunicorn", args, config.app_dir, env)


#: Server name → its command builder.
COMMANDS: dict[str, Callable[[ServerConfig, Bind], ServerCommand]] = {
    "uvicorn": _uvicorn,
    "granian": _granian,
    "hypercorn": _hypercorn,
    "gunicorn": _gunicorn,
}

#: Whether the server serves a listening socket it inherits (else it binds its own).
TAKES_FD: dict[str, bool] = {
    "uvicorn": True,
    "granian": False,
    "hypercorn": True,
    "gunicorn": True,
}


def server_command(
    config: ServerConfig, bind: Bind, *, uvloop_installed: bool = True
) -> ServerCommand:
    """The command that runs ``config`` under ``config.server``, listening as ``bind`` says.

    Every server gets the same event loop for ``--loop auto`` (:func:`resolved_loop`:
    uvloop when ``uvloop_installed`` in the server's interpreter, else asyncio), named
    explicitly rather than left to each server's own default.

    Raises:
        ValueError: ``bind`` has a socket for a server that cannot take one.
    """
    if bind.fd is not None and not TAKES_FD[config.server]:
        raise ValueError(f"{config.server} cannot serve an inherited socket; bind a port")
    config = replace(config, loop=resolved_loop(config.loop, uvloop_installed))
    return COMMANDS[config.server](config, bind)
