"""Every server flavor answers byte for byte alike: same message stream, same bytes out.

One server per flavor; each test plays the same script on every one of them (same rooms, same
publishers, seqs, payloads and fixed ``sent_ns``, so the envelopes are identical) and reads each
transport raw: a poll's body bytes, an SSE stream's bytes up to a number of records, a WebSocket's
frame texts, a close's code and reason. The answers must be equal across flavors; a transport
served differently by one flavor (the framework is the only difference) fails here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from pushbench.core.server_config import ServerConfig
from pushbench.harness.launcher import ServerProcess
from target_app.settings import FLAVORS
from tests.conftest import timeout
from tests.integration.test_metrics import total, until

pytestmark = pytest.mark.anyio

HISTORY = 5
MAX_MESSAGE_BYTES = 1024
#: A sequence that exercises the envelope: unicode, nesting, numbers, null, both publishers.
PAYLOADS: list[Any] = [
    "plain",
    "h\u00e9 \u2603 \U0001f600",
    {"nested": [1, 2.5, None, True], "quote": 'a "b" \\ c'},
    -(2**63),
    None,
    "",
    ["last", {"of": "the http ones"}],
]
#: Published over a room socket (text and binary frames) after the HTTP ones.
WS_PAYLOADS: list[Any] = ["ws text", {"ws": "binary"}]
TOTAL = len(PAYLOADS) + len(WS_PAYLOADS)

#: The gauge that shows a long poll parked.
LONG_POLLS = "pushbench_connections_open"
Servers = dict[str, ServerProcess]
Script = Callable[[ServerProcess], Awaitable[Any]]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """One fresh server per flavor, with a small history (resumes miss messages) and size cap."""
    settings = {
        "history_size": str(HISTORY),
        "max_message_bytes": str(MAX_MESSAGE_BYTES),
        "room_history_max_bytes": str(64 * MAX_MESSAGE_BYTES),
        # No keep-alive inside a test: FastAPI's own 15 s ping is out of reach, too.
        "sse_keepalive_s": "60",
    }
    started: dict[str, ServerProcess] = {}
    try:
        for flavor in FLAVORS:
            log = tmp_path_factory.mktemp("server") / f"parity-{flavor}.log"
            started[flavor] = ServerProcess(ServerConfig(flavor=flavor, settings=settings), log)
            started[flavor].start()
        yield started
    finally:
        for server in started.values():
            server.stop()


async def same_everywhere(servers: Servers, script: Script) -> Any:
    """Run ``script`` on every flavor's server in turn; its answers, which must be equal."""
    answers = {flavor: await script(server) for flavor, server in servers.items()}
    first = answers[FLAVORS[0]]
    for flavor, answer in answers.items():
        assert answer == first, f"{flavor} differs from {FLAVORS[0]}"
    return first


def message(publisher: str, seq: int, payload: Any) -> dict[str, Any]:
    return {"publisher": publisher, "seq": seq, "sent_ns": 1_000_000 + seq, "payload": payload}


async def get_raw(
    http: aiohttp.ClientSession, url: str, **kwargs: Any
) -> tuple[int, str | None, bytes]:
    async with http.get(url, **kwargs) as response:
        return response.status, response.headers.get("Content-Type"), await response.read()


async def post(server: ServerProcess, room: str, seq: int) -> bytes:
    """Publish ``PAYLOADS[seq]`` over HTTP; the answer's bytes."""
    body = json.dumps(message("http-pub", seq, PAYLOADS[seq])).encode()
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{server.url}/rooms/{room}/messages",
            data=body,
            headers={"Content-Type": "application/json"},
        ) as response,
    ):
        assert response.status == 201
        return await response.read()


async def publish_rest(server: ServerProcess, room: str) -> list[bytes]:
    """Publish the stream after ``PAYLOADS[0]`` (HTTP, then a text and a binary WS frame)."""
    answers = [await post(server, room, seq) for seq in range(1, len(PAYLOADS))]
    # Subscribed too: the socket's own messages pushed back say both landed.
    async with connect(f"{server.ws_url}/ws/rooms/{room}") as ws:
        await ws.send(json.dumps(message("ws-pub", 0, WS_PAYLOADS[0])))
        await ws.send(json.dumps(message("ws-pub", 1, WS_PAYLOADS[1])).encode())
        await ws_frames(ws, len(WS_PAYLOADS))
    return answers


async def ws_frames(ws: ClientConnection, count: int) -> list[str | bytes]:
    async with asyncio.timeout(timeout(5)):
        return [await ws.recv() for _ in range(count)]


async def sse_bytes(response: aiohttp.ClientResponse, records: int) -> bytes:
    """The stream's body (chunked framing removed) up to ``records`` blank-line-ended records."""
    data = b""
    async with asyncio.timeout(timeout(5)):
        while data.count(b"\n\n") < records:
            data += await response.content.readany()
    return data


async def close_of(ws_url: str) -> tuple[int | None, str | None, list[str | bytes]]:
    """Connect and read until closed: the frames before, then the close's code and reason."""
    frames: list[str | bytes] = []
    async with connect(ws_url, max_size=None) as ws, asyncio.timeout(timeout(5)):
        try:
            while True:
                frames.append(await ws.recv())
        except ConnectionClosed as closed:
            rcvd = closed.rcvd
    return (rcvd.code, rcvd.reason, frames) if rcvd else (None, None, frames)


async def test_every_transport_delivers_the_same_bytes(servers: Servers) -> None:
    room = "parity-stream"

    async def script(server: ServerProcess) -> dict[str, Any]:
        async with (
            connect(f"{server.ws_url}/ws/rooms/{room}") as live_ws,
            aiohttp.ClientSession() as http,
        ):
            live_sse = await http.get(f"{server.url}/rooms/{room}/events")
            # The long poll parks at the head of the empty room: the first publish wakes it.
            long_poll = asyncio.ensure_future(
                get_raw(http, f"{server.url}/rooms/{room}/messages?after=0&wait=5")
            )
            await until(server.url, lambda s: total(s, LONG_POLLS, transport="long_poll") == 1)
            # Answered before the next publish: the page it holds is not a race.
            posted = [await post(server, room, 0)]
            woken = await long_poll
            posted += await publish_rest(server, room)
            answers: dict[str, Any] = {
                "posted": posted,
                "long_poll": woken,
                "live_ws": await ws_frames(live_ws, TOTAL),
                "live_sse": await sse_bytes(live_sse, TOTAL + 1),
                "short_poll": await get_raw(http, f"{server.url}/rooms/{room}/messages"),
                "page": await get_raw(http, f"{server.url}/rooms/{room}/messages?after=5&limit=2"),
                "head": await get_raw(
                    http, f"{server.url}/rooms/{room}/messages?after={TOTAL}&wait=0.05"
                ),
            }
            live_sse.close()
            resumed = await http.get(
                f"{server.url}/rooms/{room}/events", headers={"Last-Event-ID": "2"}
            )
            # retry, missed notice, then the HISTORY messages history still holds.
            answers["resumed_sse"] = (
                resumed.status,
                resumed.headers.get("Content-Type"),
                await sse_bytes(resumed, HISTORY + 2),
            )
            resumed.close()
        async with connect(f"{server.ws_url}/ws/rooms/{room}?after=1") as resumed_ws:
            answers["resumed_ws"] = await ws_frames(resumed_ws, HISTORY + 1)
        return answers

    answers = await same_everywhere(servers, script)
    # Equal, and about something: every message, the resumes told what history lost.
    assert len(answers["live_ws"]) == TOTAL
    assert json.loads(answers["long_poll"][2])["messages"][0]["payload"] == PAYLOADS[0]
    assert answers["resumed_ws"][0] == f'{{"event":"missed","missed":{TOTAL - HISTORY - 1}}}'
    assert b"event: missed\n" in answers["resumed_sse"][2]
    assert answers["live_sse"].startswith(b"retry: 1000\n\n")


async def _echo_script(server: ServerProcess) -> list[str | bytes]:
    async with connect(f"{server.ws_url}/ws?delay_ms=1") as ws:
        for frame in ("hi", "h\u00e9", b"\x00\xff binary", ""):
            await ws.send(frame)
        return await ws_frames(ws, 4)


async def test_echo_answers_the_same_frames(servers: Servers) -> None:
    frames = await same_everywhere(servers, _echo_script)
    assert frames[0] == "Your text was: hi"


#: Bad WebSocket inputs: the close (code, reason) and any frames before it must match.
BAD_SOCKETS = {
    "bad room": "/ws/rooms/bad%20room",
    "room too long": "/ws/rooms/" + "x" * 65,
    "bad after": "/ws/rooms/r-bad?after=-1",
    "after not a number": "/ws/rooms/r-bad?after=abc",
    "bad after and receive": "/ws/rooms/r-bad?after=x&receive=maybe",
    "bad room and after": "/ws/rooms/bad%20room?after=x",
    "cursor ahead": "/ws/rooms/r-bad?after=99",
    "bad delay": "/ws?delay_ms=-5",
    "delay over the max": "/ws?delay_ms=99999999",
}


@pytest.mark.parametrize("target", BAD_SOCKETS.values(), ids=BAD_SOCKETS.keys())
async def test_bad_socket_parameters_close_alike(servers: Servers, target: str) -> None:
    async def script(server: ServerProcess) -> Any:
        return await close_of(server.ws_url + target)

    code, reason, _ = await same_everywhere(servers, script)
    assert code == 1008
    assert reason


#: Frames a room socket answers with an error frame, or a close (oversized).
BAD_FRAMES: dict[str, str | bytes] = {
    "bad json": "{nope",
    "not an object": "[]",
    "negative seq": '{"seq": -5}',
    "unknown field": '{"extra": true}',
    "boolean seq": '{"seq": true}',
    "huge integer": '{"payload": 100000000000000000000}',
    "binary not utf-8": b'{"payload":"\xff"}',
    "binary bad json": b"{nope",
}


async def test_bad_frames_get_the_same_error_frames(servers: Servers) -> None:
    async def script(server: ServerProcess) -> list[str | bytes]:
        async with connect(f"{server.ws_url}/ws/rooms/r-frames?receive=false") as ws:
            for frame in BAD_FRAMES.values():
                await ws.send(frame)
            return await ws_frames(ws, len(BAD_FRAMES))

    frames = await same_everywhere(servers, script)
    assert all(json.loads(frame)["event"] == "error" for frame in frames)


@pytest.mark.parametrize("path", ["/ws", "/ws/rooms/r-big"])
async def test_an_oversized_frame_closes_alike(servers: Servers, path: str) -> None:
    async def script(server: ServerProcess) -> Any:
        async with connect(server.ws_url + path, max_size=None) as ws:
            await ws.send("x" * (MAX_MESSAGE_BYTES + 1))
            with pytest.raises(ConnectionClosed) as closed:
                await ws_frames(ws, 1)
        rcvd = closed.value.rcvd
        return (rcvd.code, rcvd.reason) if rcvd else None

    assert await same_everywhere(servers, script) == (1009, "message too big")


#: Bad HTTP requests: status, content type and body bytes must match.
BAD_GETS = [
    "/rooms/bad%20room/messages",
    "/rooms/bad%20room/events",
    "/rooms/r-http/messages?after=-1",
    "/rooms/r-http/messages?after=abc&limit=0",
    "/rooms/r-http/messages?wait=-1",
    "/rooms/r-http/messages?after=99",
    "/rooms/r-http/events?after=-1",
    "/rooms/r-http/events?after=99",
    "/no/such/path",
]


@pytest.mark.parametrize("path", BAD_GETS)
async def test_bad_http_requests_get_the_same_answers(servers: Servers, path: str) -> None:
    async def script(server: ServerProcess) -> tuple[int, str | None, bytes]:
        async with aiohttp.ClientSession() as http:
            return await get_raw(http, server.url + path)

    status, _, _ = await same_everywhere(servers, script)
    assert status >= 400


BAD_POSTS: dict[str, tuple[str, bytes]] = {
    "bad json": ("application/json", b"{nope"),
    "not an object": ("application/json", b"[]"),
    "too big": ("application/json", b'{"payload":"' + b"x" * MAX_MESSAGE_BYTES + b'"}'),
    "text/plain": ("text/plain", b"{}"),
}


@pytest.mark.parametrize(("content_type", "body"), BAD_POSTS.values(), ids=BAD_POSTS.keys())
async def test_bad_publishes_get_the_same_answers(
    servers: Servers, content_type: str, body: bytes
) -> None:
    async def script(server: ServerProcess) -> tuple[int, str | None, bytes]:
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{server.url}/rooms/r-post/messages",
                data=body,
                headers={"Content-Type": content_type},
            ) as response,
        ):
            return response.status, response.headers.get("Content-Type"), await response.read()

    status, _, _ = await same_everywhere(servers, script)
    assert status in (413, 415, 422)
