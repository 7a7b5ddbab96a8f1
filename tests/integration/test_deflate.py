"""permessage-deflate end to end: every kind of pushbench WebSocket client negotiates it with a
real server started with ``--ws-per-message-deflate`` and round-trips compressed messages.

One test body per client kind (the raw asyncio client, the Locust gevent-free blocking client,
the websockets-library echo driver), each against uvicorn's WebSocket implementations and
hypercorn (wsproto). The bytes a client counts on the wire must be fewer than the inflated
messages: proof the server compressed them, and that the client inflated them correctly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest
import uvloop

from pushbench.core.server_config import ServerConfig
from pushbench.drivers.echo import run_echo
from pushbench.drivers.rawws import open_raw
from pushbench.drivers.wshandshake import HandshakeError
from pushbench.harness.client_deflate import DEFLATE_ENV, offering
from pushbench.harness.launcher import ServerProcess
from pushbench.locust.ws_client import connect
from tests.conftest import timeout

#: A compressible message: the reference server echoes it back as "Your text was: ...".
MESSAGE = "pushbench " * 50
ECHO = f"Your text was: {MESSAGE}"
ROUNDS = 3

DEFLATE_SERVERS = [
    ("uvicorn", "auto"),
    ("uvicorn", "websockets"),
    ("uvicorn", "wsproto"),
    ("hypercorn", "auto"),
]


@pytest.fixture(
    scope="module",
    params=DEFLATE_SERVERS,
    ids=[f"{server}-{impl}" for server, impl in DEFLATE_SERVERS],
)
def deflate_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    server, impl = request.param
    config = ServerConfig(server=server, ws_impl=impl, ws_per_message_deflate=True)
    log = tmp_path_factory.mktemp("server") / f"server-{server}-{impl}.log"
    with ServerProcess(config, log) as process:
        yield process


def _raw(url: str) -> tuple[list[str], int, bool]:
    async def run() -> tuple[list[str], int, bool]:
        got: list[bytes] = []
        arrived = asyncio.Event()

        def on_message(payload: bytes) -> None:
            got.append(payload)
            if len(got) == ROUNDS:
                arrived.set()

        client = await open_raw(url, on_message=on_message)
        try:
            for _ in range(ROUNDS):
                client.send_text(MESSAGE.encode())
            async with asyncio.timeout(timeout(10)):
                await arrived.wait()
            return [g.decode() for g in got], client.received_bytes, client.deflate is not None
        finally:
            client.close()

    return uvloop.run(run())


def _locust(url: str) -> tuple[list[str], int, bool]:
    with connect(url, timeout_s=timeout(10)) as ws:
        got = []
        for _ in range(ROUNDS):
            ws.send_text(MESSAGE)
            got.append(ws.recv_text())
        return got, ws.received_wire_bytes, ws.deflate is not None


CLIENTS: dict[str, Callable[[str], tuple[list[str], int, bool]]] = {"raw": _raw, "locust": _locust}


@pytest.mark.parametrize("client", CLIENTS)
def test_clients_negotiate_and_round_trip_compressed_messages(
    deflate_server: ServerProcess, client: str
) -> None:
    with offering(True):
        got, wire_bytes, negotiated = CLIENTS[client](deflate_server.ws_url + "/ws")
    assert negotiated
    assert got == [ECHO] * ROUNDS
    # Compressed (and, context kept, the repeats shrink to a few bytes each).
    assert 0 < wire_bytes < len(ECHO) // 2


def test_the_websockets_library_driver_negotiates_too(deflate_server: ServerProcess) -> None:
    with offering(True):
        run = uvloop.run(
            run_echo(deflate_server.ws_url, connections=2, duration_s=0.2, warmup_s=0.0)
        )
    assert not run.errors
    assert run.round_trips > 0


@pytest.mark.parametrize("client", CLIENTS)
def test_a_server_without_deflate_is_refused_not_measured_uncompressed(
    default_server: ServerProcess, client: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DEFLATE_ENV, "1")
    with pytest.raises((HandshakeError, ConnectionError), match="declined permessage-deflate"):
        CLIENTS[client](default_server.ws_url + "/ws")


@pytest.mark.parametrize("client", CLIENTS)
def test_without_the_offer_frames_stay_uncompressed(
    deflate_server: ServerProcess, client: str
) -> None:
    with offering(False):
        got, wire_bytes, negotiated = CLIENTS[client](deflate_server.ws_url + "/ws")
    assert not negotiated
    assert got == [ECHO] * ROUNDS
    assert wire_bytes >= ROUNDS * len(ECHO)
