"""One ServerConfig → each ASGI server's own command line; options a server lacks refused."""

from __future__ import annotations

import json

import pytest

from pushbench.core.server_argv import (
    BACKLOG,
    DEFAULT_HEADER_TIMEOUT_S,
    GUNICORN_GRACEFUL_TIMEOUT_S,
    GUNICORN_WORKER,
    GUNICORN_WORKER_ENV,
    TAKES_FD,
    Bind,
    ServerCommand,
    server_command,
)
from pushbench.core.server_config import (
    HTTP_IMPLS,
    HTTP_PROTOCOLS,
    SERVERS,
    WS_IMPLS,
    ServerConfig,
    UnsupportedByServer,
    resolved_loop,
    server_label,
    server_refusal,
)
from target_app.settings import Settings


def _value(args: list[str], option: str) -> str:
    return args[args.index(option) + 1]


def test_uvicorn_runs_as_before() -> None:
    """The default server's command line is the uvicorn one every run has used."""
    config = ServerConfig(workers=2, loop="uvloop", broker="redis://127.0.0.1:6379/0")
    command = server_command(config, Bind(fd=7))
    assert command.module == "uvicorn"
    assert command.args == [*config.uvicorn_args(), "--fd", "7"]
    assert server_command(config, Bind("::1", 8001)).args[-4:] == [
        "--host",
        "::1",
        "--port",
        "8001",
    ]


def test_granian_gets_the_same_workers_loop_and_a_port() -> None:
    config = ServerConfig(server="granian", workers=3, loop="uvloop", broker="redis://h:1/0")
    args = server_command(config, Bind("127.0.0.1", 4321)).args
    assert args[0] == "target_app.main:app"
    assert _value(args, "--interface") == "asgi"
    assert _value(args, "--workers") == "3"
    assert _value(args, "--loop") == "uvloop"
    assert "--ws" in args
    assert _value(args, "--http") == "1"  # the clients speak HTTP/1.1, as to uvicorn
    assert _value(args, "--host") == "127.0.0.1"
    assert _value(args, "--port") == "4321"
    assert _value(args, "--backlog") == str(BACKLOG)
    assert "--no-access-log" in args


def _loop_run(command: ServerCommand) -> str:
    """The event loop a server's command names (each server's own option for it)."""
    if command.module == "hypercorn":
        return _value(command.args, "--worker-class")
    if command.module == "gunicorn":  # its uvicorn workers' option, in the environment
        return str(json.loads(command.environ({})[GUNICORN_WORKER_ENV])["loop"])
    return _value(command.args, "--loop")


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize(("installed", "loop"), [(True, "uvloop"), (False, "asyncio")])
def test_loop_auto_is_the_same_loop_under_every_server(
    server: str, installed: bool, loop: str
) -> None:
    """``--loop auto`` is uvicorn's pick under every server (uvloop when installed), named
    explicitly: hypercorn's own default is asyncio and granian's rloop, so comparing servers at
    their own ``auto`` would compare event loops too."""
    bind = Bind() if server == "granian" else Bind(fd=3)
    command = server_command(ServerConfig(server=server), bind, uvloop_installed=installed)
    assert _loop_run(command) == loop


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_an_explicit_loop_is_run_as_named(loop: str) -> None:
    assert resolved_loop(loop, uvloop_installed=False) == loop
    assert resolved_loop(loop, uvloop_installed=True) == loop
    for server in SERVERS:
        bind = Bind() if server == "granian" else Bind(fd=3)
        command = server_command(ServerConfig(server=server, loop=loop), bind)
        assert _loop_run(command) == loop


def test_granian_bounds_a_request_head_as_the_reference_server_does() -> None:
    """granian's own header timeout takes the place of target_app.http_head's (uvicorn only)."""
    assert Settings().header_timeout_s == DEFAULT_HEADER_TIMEOUT_S
    args = server_command(ServerConfig(server="granian"), Bind()).args
    assert _value(args, "--http1-header-read-timeout") == str(round(DEFAULT_HEADER_TIMEOUT_S * 1e3))
    tight = ServerConfig(server="granian", settings={"header_timeout_s": "0.25"})
    assert _value(server_command(tight, Bind()).args, "--http1-header-read-timeout") == "250"


def test_granian_cannot_serve_an_inherited_socket() -> None:
    assert not TAKES_FD["granian"]
    with pytest.raises(ValueError, match="granian cannot serve an inherited socket"):
        server_command(ServerConfig(server="granian"), Bind(fd=5))


@pytest.mark.parametrize(
    ("loop", "worker_class"), [("auto", "uvloop"), ("asyncio", "asyncio"), ("uvloop", "uvloop")]
)
def test_hypercorn_maps_the_loop_to_its_worker_class(loop: str, worker_class: str) -> None:
    config = ServerConfig(server="hypercorn", loop=loop, workers=2, broker="redis://h:1/0")
    args = server_command(config, Bind(fd=9)).args
    assert _value(args, "--worker-class") == worker_class
    assert _value(args, "--workers") == "2"
    assert _value(args, "--bind") == "fd://9"
    assert _value(args, "--backlog") == str(BACKLOG)
    assert _value(server_command(config, Bind("::1", 80)).args, "--bind") == "[::1]:80"


def test_gunicorn_runs_uvicorn_workers_with_the_same_settings() -> None:
    """gunicorn gets the worker count, the harness's socket and a short graceful stop; its
    uvicorn workers get loop, WebSocket and HTTP implementation through the environment
    (gunicorn's command line has no place for them)."""
    config = ServerConfig(
        server="gunicorn",
        workers=3,
        ws_impl="wsproto",
        http_impl="h11",
        broker="redis://h:1/0",
        ws_per_message_deflate=True,
    )
    command = server_command(config, Bind(fd=9), uvloop_installed=True)
    args = command.args
    assert command.module == "gunicorn"
    assert args[0] == "target_app.main:app"
    assert _value(args, "--worker-class") == GUNICORN_WORKER
    assert _value(args, "--workers") == "3"
    assert _value(args, "--bind") == "fd://9"
    assert _value(args, "--backlog") == str(BACKLOG)
    assert _value(args, "--graceful-timeout") == str(GUNICORN_GRACEFUL_TIMEOUT_S)
    assert _value(args, "--keep-alive") == "5"  # uvicorn's own keep-alive, not gunicorn's 2 s
    assert "--no-control-socket" in args  # one path per user: concurrent servers would share it
    assert "--access-logfile" not in args
    assert json.loads(command.environ({})[GUNICORN_WORKER_ENV]) == {
        "loop": "uvloop",
        "ws": "wsproto",
        "http": HTTP_PROTOCOLS["h11"],  # with the reference server's bound on a request head
        "ws_per_message_deflate": True,
        "access_log": False,
    }
    assert _value(server_command(config, Bind("::1", 80)).args, "--bind") == "[::1]:80"


def test_gunicorn_serves_tls_with_its_own_option_names() -> None:
    config = ServerConfig(server="gunicorn", ssl_keyfile="k.pem", ssl_certfile="c.pem")
    args = server_command(config, Bind(fd=3)).args
    assert (_value(args, "--keyfile"), _value(args, "--certfile")) == ("k.pem", "c.pem")


@pytest.mark.parametrize("server", ["granian", "hypercorn", "gunicorn"])
def test_app_dir_and_factory_reach_servers_without_those_options(server: str) -> None:
    config = ServerConfig(
        server=server, app="myapp:make", app_dir="/src", factory=True, health_path=None
    )
    command = server_command(config, Bind() if server == "granian" else Bind(fd=3))
    assert command.environ({"PYTHONPATH": "/other"})["PYTHONPATH"] == "/src:/other"
    assert command.environ({})["PYTHONPATH"] == "/src"
    if server == "granian":
        assert "--factory" in command.args
    else:
        assert command.args[0] == "myapp:make()"  # hypercorn's and gunicorn's factory form


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"server": "granian", "ws_impl": "wsproto"},
            "--server granian has no --ws-impl wsproto: it runs its own WebSocket "
            "implementation (Rust); choose auto, or --server uvicorn",
        ),
        (
            {"server": "granian", "http_impl": "httptools"},
            "--server granian has no --http-impl httptools: it runs its own HTTP "
            "implementation (Rust, hyper); choose auto, or --server uvicorn",
        ),
        (
            {"server": "hypercorn", "ws_impl": "websockets-sansio"},
            "--server hypercorn has no --ws-impl websockets-sansio: it runs WebSockets on "
            "wsproto only; choose auto or wsproto, or --server uvicorn",
        ),
        (
            {"server": "hypercorn", "http_impl": "httptools"},
            "--server hypercorn has no --http-impl httptools: it runs HTTP/1.1 on h11 only; "
            "choose auto or h11, or --server uvicorn",
        ),
        (
            {"server": "granian", "ws_per_message_deflate": True},
            "--server granian has no permessage-deflate (--ws-per-message-deflate)",
        ),
    ],
)
def test_an_option_the_server_lacks_is_refused_in_one_line(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(UnsupportedByServer) as raised:
        ServerConfig(**fields)  # type: ignore[arg-type]
    assert str(raised.value) == message
    assert "\n" not in message


@pytest.mark.parametrize("server", SERVERS)
def test_every_server_runs_the_defaults(server: str) -> None:
    assert server_refusal(ServerConfig(server=server)) is None


def test_what_each_server_runs_of_uvicorns_names_is_accepted() -> None:
    ServerConfig(server="hypercorn", ws_impl="wsproto", http_impl="h11")
    ServerConfig(server="granian", loop="asyncio")
    for ws_impl in WS_IMPLS:  # gunicorn's workers are uvicorn's: every implementation of it
        for http_impl in HTTP_IMPLS:
            config = ServerConfig(server="gunicorn", ws_impl=ws_impl, http_impl=http_impl)
            assert server_refusal(config) is None


def test_an_unknown_server_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown server 'daphne'; choose one of uvicorn"):
        ServerConfig(server="daphne")


def test_labels_say_the_server_and_a_chosen_implementation() -> None:
    assert server_label("uvicorn", "wsproto") == "uvicorn wsproto"
    assert server_label("granian") == "granian"
