"""How to run the reference server: the options every ``pushbench`` command shares.

Like uvicorn's own ``Config`` registries, names map to what the server understands; the CLI only
builds a :class:`ServerConfig`. One config runs under any of :data:`SERVERS`: each server's own
command line is built from it by :mod:`pushbench.core.server_argv`, and an option a server lacks
is refused here (:func:`server_refusal`), so no command measures a setting the server ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "BROKER_SCHEMES",
    "FLAVORS",
    "HTTP_IMPLS",
    "HTTP_PROTOCOLS",
    "LOOPS",
    "REFERENCE_APP",
    "SERVERS",
    "SERVER_HTTP_IMPLS",
    "SERVER_LOOPS",
    "SERVER_WS_IMPLS",
    "UVICORN_PROTOCOL_SERVERS",
    "WS_IMPLS",
    "MemoryBrokerWithWorkers",
    "ServerConfig",
    "TlsFilesMismatch",
    "UnsupportedByServer",
    "resolved_loop",
    "server_label",
    "server_refusal",
]

#: The reference server, in uvicorn's ``module:attr`` form: what runs without ``--app``.
REFERENCE_APP = "target_app.main:app"
#: ``--loop`` choices (uvicorn ``--loop``).
LOOPS = ("auto", "asyncio", "uvloop")
#: ``--ws-impl`` choices (uvicorn ``--ws``); ``auto`` is websockets-sansio in uvicorn >= 0.35.
WS_IMPLS = ("auto", "websockets", "websockets-sansio", "wsproto")
#: URL schemes ``--broker`` accepts besides ``memory`` (redis-py's ``from_url``).
BROKER_SCHEMES = ("redis://", "rediss://", "unix://")
#: ``--flavor`` choices: how the reference server serves its transports (``PUSHBENCH_FLAVOR``;
#: ``target_app.settings.FLAVORS``): lean ASGI for every transport, or idiomatic FastAPI.
FLAVORS = ("asgi", "fastapi")
#: ``--server`` choices: the ASGI servers pushbench runs an app under (docs/servers.md).
SERVERS = ("uvicorn", "granian", "hypercorn", "gunicorn")
#: The servers whose WebSocket and HTTP are uvicorn's own protocols, every ``--ws-impl`` and
#: ``--http-impl`` of them: gunicorn runs uvicorn workers (``uvicorn_worker.UvicornWorker``).
UVICORN_PROTOCOL_SERVERS = ("uvicorn", "gunicorn")
#: The ``--loop`` values each server runs (``auto``: the same loop under every server,
#: :func:`resolved_loop`, not each server's own default pick).
SERVER_LOOPS: dict[str, tuple[str, ...]] = {
    "uvicorn": LOOPS,
    "granian": LOOPS,  # granian --loop asyncio|uvloop (and rloop, winloop)
    "hypercorn": LOOPS,  # hypercorn --worker-class asyncio|uvloop
    "gunicorn": LOOPS,  # the uvicorn worker's loop
}
#: The ``--ws-impl`` values each server runs: granian has one WebSocket implementation of its
#: own (Rust, tungstenite), hypercorn serves WebSockets with wsproto only.
SERVER_WS_IMPLS: dict[str, tuple[str, ...]] = {
    "uvicorn": WS_IMPLS,
    "granian": ("auto",),
    "hypercorn": ("auto", "wsproto"),
    "gunicorn": WS_IMPLS,
}
#: ``--http-impl`` choices (uvicorn ``--http``).
HTTP_IMPLS = ("auto", "h11", "httptools")
#: What each ``--http-impl`` runs: uvicorn's protocol with a bound on the request head
#: (``PUSHBENCH_HEADER_TIMEOUT_S``), which uvicorn itself lacks (slowloris).
HTTP_PROTOCOLS = {
    "auto": "target_app.http_head:AutoHTTPProtocol",
    "h11": "target_app.http_head:H11Protocol",
    "httptools": "target_app.http_head:HttpToolsProtocol",
}


#: The ``--http-impl`` values each server runs: granian's HTTP is hyper's (Rust), hypercorn's
#: HTTP/1.1 is h11.
SERVER_HTTP_IMPLS: dict[str, tuple[str, ...]] = {
    "uvicorn": HTTP_IMPLS,
    "granian": ("auto",),
    "hypercorn": ("auto", "h11"),
    "gunicorn": HTTP_IMPLS,
}


class UnsupportedByServer(ValueError):
    """An option the chosen server does not have (``--ws-impl wsproto`` with granian)."""


class MemoryBrokerWithWorkers(ValueError):
    """More than one worker on the in-process broker: each worker would see its own rooms."""

    def __init__(self, workers: int) -> None:
        super().__init__(
            f"refusing --workers {workers} with --broker memory: every worker process would keep "
            "its own rooms, so a message published to one worker would never reach subscribers "
            "or polls served by the others. Use --broker redis://127.0.0.1:6379/0 (shared "
            "rooms), or --workers 1."
        )


class TlsFilesMismatch(ValueError):
    """One of ``--ssl-keyfile`` / ``--ssl-certfile`` without the other."""

    def __init__(self, given: str, missing: str) -> None:
        super().__init__(
            f"{given} needs {missing} too: a TLS server needs its private key and its "
            "certificate (PEM files)"
        )


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """One way of running an ASGI app (``target_app`` by default) under one of :data:`SERVERS`."""

    host: str = "127.0.0.1"
    port: int = 0
    workers: int = 1
    loop: str = "auto"
    ws_impl: str = "auto"
    http_impl: str = "auto"
    broker: str = "memory"
    #: The reference server's flavor (ignored by apps that are not ``target_app``).
    flavor: str = "asgi"
    #: The ASGI app in uvicorn's ``module:attr`` form (``--app``); the reference server's default.
    app: str = REFERENCE_APP
    #: uvicorn ``--app-dir``: where ``app``'s module is imported from (None: the working directory).
    app_dir: str | None = None
    #: uvicorn ``--factory``: ``app`` names a callable that returns the app.
    factory: bool = False
    #: Readiness: the launcher GETs this path until it answers 200. None, for an app with no
    #: health endpoint: until any HTTP answer at all (a 404 of ``/`` says the app is serving).
    health_path: str | None = "/healthz"
    #: Extra ``PUSHBENCH_*`` settings for the server process (see ``target_app.settings``).
    settings: dict[str, str] = field(default_factory=dict)
    log_level: str = "warning"
    access_log: bool = False
    #: permessage-deflate costs CPU and memory per connection; benchmarks measure without it.
    ws_per_message_deflate: bool = False
    #: The ASGI server (``--server``): uvicorn, granian, hypercorn or gunicorn.
    server: str = "uvicorn"

    #: uvicorn ``--ssl-keyfile`` / ``--ssl-certfile`` (PEM paths): serve https:// and wss://.
    #: Both or neither; None: plain TCP.
    ssl_keyfile: str | None = None
    ssl_certfile: str | None = None

    @property
    def tls(self) -> bool:
        """Whether the server speaks TLS (https://, wss://)."""
        return self.ssl_certfile is not None

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("server", self.server, SERVERS),
            ("loop", self.loop, LOOPS),
            ("ws_impl", self.ws_impl, WS_IMPLS),
            ("http_impl", self.http_impl, HTTP_IMPLS),
            ("flavor", self.flavor, FLAVORS),
        ):
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(allowed)}")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, not {self.workers}")
        refusal = server_refusal(self)
        if refusal is not None:
            raise UnsupportedByServer(refusal)
        if self.broker != "memory" and not self.broker.startswith(BROKER_SCHEMES):
            raise ValueError(
                f"unknown broker {self.broker!r}: use 'memory' or a Redis URL such as "
                "redis://127.0.0.1:6379/0"
            )
        # Only the reference server reads the broker: a user's app keeps its own state.
        if self.workers > 1 and self.broker == "memory" and self.app == REFERENCE_APP:
            raise MemoryBrokerWithWorkers(self.workers)
        if (self.ssl_keyfile is None) != (self.ssl_certfile is None):
            if self.ssl_keyfile is not None:
                raise TlsFilesMismatch("--ssl-keyfile", "--ssl-certfile")
            raise TlsFilesMismatch("--ssl-certfile", "--ssl-keyfile")

    def environment(self) -> dict[str, str]:
        """The ``PUSHBENCH_*`` variables the server process needs."""
        env = {f"PUSHBENCH_{key.upper()}": value for key, value in self.settings.items()}
        env["PUSHBENCH_BROKER_URL"] = self.broker
        env["PUSHBENCH_FLAVOR"] = self.flavor
        return env

    def uvicorn_args(self) -> list[str]:
        """uvicorn command-line arguments, without the bind (``--fd`` or ``--host/--port``)."""
        args = [
            self.app,
            "--workers",
            str(self.workers),
            "--loop",
            self.loop,
            "--ws",
            self.ws_impl,
            "--http",
            HTTP_PROTOCOLS[self.http_impl],
            "--log-level",
            self.log_level,
            "--ws-per-message-deflate",
            str(self.ws_per_message_deflate).lower(),
        ]
        if not self.access_log:
            args.append("--no-access-log")
        if self.app_dir is not None:
            args += ["--app-dir", self.app_dir]
        if self.factory:
            args.append("--factory")
        if self.ssl_keyfile is not None and self.ssl_certfile is not None:
            args += ["--ssl-keyfile", self.ssl_keyfile, "--ssl-certfile", self.ssl_certfile]
        return args


def resolved_loop(loop: str, uvloop_installed: bool) -> str:
    """The event loop ``--loop loop`` runs, the same under every server.

    ``auto`` is uvicorn's pick, uvloop when it is installed (a dependency of the ``[server]``
    extra), else asyncio. Each server's own ``auto`` differs (hypercorn's is asyncio, granian's
    rloop when installed), so a comparison of servers at ``auto`` would compare event loops
    too; every server is given the loop this names instead.
    """
    if loop != "auto":
        return loop
    return "uvloop" if uvloop_installed else "asyncio"


def server_label(server: str, ws_impl: str = "auto") -> str:
    """What a report calls a server and WebSocket implementation: ``uvicorn wsproto``,
    ``granian``, ``hypercorn`` (``auto`` is the server's own pick, left unsaid)."""
    return server if ws_impl == "auto" else f"{server} {ws_impl}"


def server_refusal(config: ServerConfig) -> str | None:
    """Why ``config`` cannot run under ``config.server`` (one line), or None when it can.

    Pure, so every command refuses the same combinations the same way before anything starts:
    an option the server lacks would otherwise be silently ignored and the figures would be
    labelled with a setting that never ran.
    """
    server = config.server
    if server in UVICORN_PROTOCOL_SERVERS or server not in SERVERS:
        return None
    for option, value, allowed in (
        ("--loop", config.loop, SERVER_LOOPS[server]),
        ("--ws-impl", config.ws_impl, SERVER_WS_IMPLS[server]),
        ("--http-impl", config.http_impl, SERVER_HTTP_IMPLS[server]),
    ):
        if value not in allowed:
            return (
                f"--server {server} has no {option} {value}: it runs "
                f"{_own_impl(server, option)}; choose {' or '.join(allowed)}, or --server uvicorn"
            )
    if config.ws_per_message_deflate and server == "granian":
        return "--server granian has no permessage-deflate (--ws-per-message-deflate)"
    return None


def _own_impl(server: str, option: str) -> str:
    """What ``server`` runs in place of the uvicorn choice ``option`` names."""
    own = {
        ("granian", "--ws-impl"): "its own WebSocket implementation (Rust)",
        ("granian", "--http-impl"): "its own HTTP implementation (Rust, hyper)",
        ("hypercorn", "--ws-impl"): "WebSockets on wsproto only",
        ("hypercorn", "--http-impl"): "HTTP/1.1 on h11 only",
    }
    return own.get((server, option), "other event loops")
