"""Shared fixtures: a real uvicorn on a free loopback port, started per configuration."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pushbench.core.server_config import SERVERS, ServerConfig
from pushbench.harness.launcher import ServerProcess
from target_app.settings import FLAVORS

pytest_plugins = ["tests.redis_server"]

#: One factor that scales every timeout in the suite (slow CI machines: PUSHBENCH_TIMEOUT_FACTOR=3).
TIMEOUT_FACTOR = float(os.environ.get("PUSHBENCH_TIMEOUT_FACTOR", "1"))

#: uvicorn's WebSocket implementations: protocol tests run against each.
WS_IMPLS = ("websockets-sansio", "websockets", "wsproto")


def timeout(seconds: float) -> float:
    """``seconds`` scaled by ``PUSHBENCH_TIMEOUT_FACTOR``."""
    return seconds * TIMEOUT_FACTOR


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


ServerFactory = Callable[..., ServerProcess]


@pytest.fixture(scope="session", params=FLAVORS)
def flavor(request: pytest.FixtureRequest) -> str:
    """Each server flavor in turn: a test on a fixture that takes it runs once per flavor."""
    name: str = request.param
    return name


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[ServerFactory]:
    """Start servers with any :class:`ServerConfig` fields; all are stopped after the test."""
    started: list[ServerProcess] = []

    def start(**fields: object) -> ServerProcess:
        config = ServerConfig(**fields)  # type: ignore[arg-type]
        server = ServerProcess(config, tmp_path / f"server-{len(started)}.log")
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def start_flavor_server(start_server: ServerFactory, flavor: str) -> ServerFactory:
    """:func:`start_server` under each server flavor in turn."""

    def start(**fields: object) -> ServerProcess:
        return start_server(flavor=flavor, **fields)

    return start


@pytest.fixture(scope="session")
def server(flavor: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A reference server per flavor for the whole session (memory broker, one worker)."""
    log = tmp_path_factory.mktemp("server") / f"server-{flavor}.log"
    with ServerProcess(ServerConfig(flavor=flavor), log) as process:
        yield process


@pytest.fixture(scope="session")
def default_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server of the default flavor, for tests of the harness rather than of the server."""
    log = tmp_path_factory.mktemp("server") / "server-default.log"
    with ServerProcess(ServerConfig(), log) as process:
        yield process


#: Every WebSocket implementation a server runs: uvicorn's each, granian's and hypercorn's own, and
#: gunicorn's uvicorn worker at its default (websockets-sansio: uvicorn's others add nothing there).
SERVER_WS_IMPLS = [
    *(("uvicorn", impl) for impl in WS_IMPLS),
    *((server, "auto") for server in SERVERS if server != "uvicorn"),
]


@pytest.fixture(
    scope="session",
    params=SERVER_WS_IMPLS,
    ids=[impl if server == "uvicorn" else server for server, impl in SERVER_WS_IMPLS],
)
def ws_impl_server(
    request: pytest.FixtureRequest, flavor: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """The reference server under each uvicorn WebSocket implementation, and under granian,
    hypercorn and gunicorn, for each flavor in turn."""
    server, impl = request.param
    log = tmp_path_factory.mktemp("server") / f"server-{flavor}-{server}-{impl}.log"
    config = ServerConfig(server=server, ws_impl=impl, flavor=flavor)
    with ServerProcess(config, log) as process:
        yield process
