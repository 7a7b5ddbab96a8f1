"""A request head must arrive within ``PUSHBENCH_HEADER_TIMEOUT_S``: slowloris is bounded.

Raw sockets play the slow clients (aiohttp and websockets send a head in one go), against the
server under each HTTP implementation ``--http-impl`` offers. Once a head is complete, nothing is
bounded by it: a long poll and a WebSocket outlive it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import aiohttp
import pytest
from websockets.asyncio.client import connect

from pushbench.core.server_config import ServerConfig
from pushbench.harness.launcher import ServerProcess
from tests.conftest import timeout
from tests.integration.clients import room_name

pytestmark = pytest.mark.anyio

HEADER_TIMEOUT_S = 0.5
HEAD = b"GET /healthz HTTP/1.1\r\nHost: pushbench\r\n\r\n"


@pytest.fixture(scope="module", params=["h11", "httptools"])
def impl_server(
    request: pytest.FixtureRequest, flavor: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """The server under each HTTP implementation and flavor, with a short header timeout."""
    config = ServerConfig(
        http_impl=request.param,
        flavor=flavor,
        settings={"header_timeout_s": str(HEADER_TIMEOUT_S)},
    )
    log = tmp_path_factory.mktemp("server") / f"server-{flavor}-{request.param}.log"
    with ServerProcess(config, log) as process:
        yield process


async def open_raw(server: ServerProcess) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, _, port = server.url.removeprefix("http://").rpartition(":")
    return await asyncio.open_connection(host, int(port))


async def closed_after_s(reader: asyncio.StreamReader) -> float:
    """Seconds until the server closes the connection; it must send nothing meanwhile."""
    started = time.monotonic()
    async with asyncio.timeout(timeout(HEADER_TIMEOUT_S + 5)):
        assert await reader.read() == b""
    return time.monotonic() - started


async def response_status(reader: asyncio.StreamReader) -> bytes:
    """The status line of one response (its body is read by ``Content-Length``)."""
    async with asyncio.timeout(timeout(5)):
        status = await reader.readline()
        length = 0
        while (line := await reader.readline()) != b"\r\n":
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
    return status.strip()


@pytest.mark.parametrize(
    "sent", [b"", HEAD[:20], HEAD[:-2]], ids=["nothing", "part-of-the-line", "no-blank-line"]
)
async def test_an_incomplete_head_is_closed(impl_server: ServerProcess, sent: bytes) -> None:
    reader, writer = await open_raw(impl_server)
    writer.write(sent)
    assert HEADER_TIMEOUT_S * 0.8 < await closed_after_s(reader) < timeout(HEADER_TIMEOUT_S + 3)
    writer.close()


async def test_a_head_trickled_byte_by_byte_is_closed(impl_server: ServerProcess) -> None:
    reader, writer = await open_raw(impl_server)
    closed = asyncio.create_task(closed_after_s(reader))
    pace_s = HEADER_TIMEOUT_S / 10  # the whole head would take 4 timeouts
    for byte in HEAD:
        if closed.done():
            break
        writer.write(bytes([byte]))
        await asyncio.sleep(pace_s)  # the slow client's pace is what is under test
    assert await closed < timeout(HEADER_TIMEOUT_S + 3)
    writer.close()


async def test_a_slow_complete_head_and_the_next_on_the_connection(
    impl_server: ServerProcess,
) -> None:
    reader, writer = await open_raw(impl_server)
    for part in (HEAD[:10], HEAD[10:30], HEAD[30:]):
        writer.write(part)
        await asyncio.sleep(HEADER_TIMEOUT_S / 5)  # slow, but within the bound
    assert await response_status(reader) == b"HTTP/1.1 200 OK"
    # Keep-alive: the next head on the same connection is bounded again.
    writer.write(HEAD)
    assert await response_status(reader) == b"HTTP/1.1 200 OK"
    writer.write(HEAD[:-2])
    assert await closed_after_s(reader) < timeout(HEADER_TIMEOUT_S + 3)
    writer.close()


async def test_long_polls_and_websockets_outlive_the_header_timeout(
    impl_server: ServerProcess,
) -> None:
    wait_s = HEADER_TIMEOUT_S * 3
    async with (
        connect(f"{impl_server.ws_url}/ws") as ws,
        aiohttp.ClientSession() as http,
        http.get(
            f"{impl_server.url}/rooms/{room_name()}/messages", params={"after": 0, "wait": wait_s}
        ) as response,
    ):
        assert response.status == 200
        assert (await response.json())["messages"] == []
        await ws.send("still here")
        assert await asyncio.wait_for(ws.recv(), timeout(5)) == "Your text was: still here"
