"""Fixtures of the micro-benchmarks: payload sizes, an event loop, the app in process, a server."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from benchmarks.micro.asgi_driver import InProcessApp
from pushbench.core.server_config import ServerConfig
from pushbench.harness.launcher import ServerProcess
from target_app.main import create_app
from target_app.settings import Settings

T = TypeVar("T")

#: Payload sizes of the published messages (a JSON string of that many characters).
PAYLOAD_SIZES = (64, 1024, 64 * 1024)
PAYLOAD_IDS = ("64B", "1KiB", "64KiB")


def payload_of(size: int) -> str:
    """A payload of ``size`` ASCII characters."""
    return ("0123456789abcdef" * (size // 16 + 1))[:size]


@pytest.fixture(params=PAYLOAD_SIZES, ids=PAYLOAD_IDS)
def payload(request: pytest.FixtureRequest) -> str:
    """Each payload size in turn."""
    size: int = request.param
    return payload_of(size)


class Loop:
    """A private event loop: ``run(coro)`` runs one coroutine to completion on it."""

    def __init__(self) -> None:
        # The standard loop, not uvloop: uvloop's run_until_complete costs ~150 µs here (asyncio's
        # ~25 µs), which would drown the framework cost these benchmarks isolate. The app's
        # per-message Python is the same on either loop.
        self.loop = asyncio.new_event_loop()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        for task in asyncio.all_tasks(self.loop):
            task.cancel()
        self.loop.run_until_complete(asyncio.sleep(0))
        self.loop.close()


@pytest.fixture
def loop() -> Iterator[Loop]:
    """A fresh event loop per benchmark, closed after it."""
    created = Loop()
    try:
        yield created
    finally:
        created.close()


@pytest.fixture
def app_client(loop: Loop) -> Iterator[InProcessApp]:
    """The reference app (memory broker) with its lifespan started on ``loop``."""
    client = InProcessApp(create_app(Settings(send_queue_size=100_000)))
    loop.run(client.__aenter__())
    try:
        yield client
    finally:
        loop.run(client.__aexit__(None, None, None))


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The reference server under uvicorn on a free loopback port (default settings)."""
    log: Path = tmp_path_factory.mktemp("microbench") / "server.log"
    with ServerProcess(ServerConfig(), log) as server:
        yield server
