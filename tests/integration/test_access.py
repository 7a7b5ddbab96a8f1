"""Origin allow-list, bearer token and publish rate limits against a real uvicorn.

The handshake checks are the server's behaviour, so they run under every uvicorn WebSocket
implementation: a refused handshake must reach the client as an HTTP status with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator

import aiohttp
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from pushbench.core.server_config import ServerConfig
from pushbench.harness.launcher import ServerProcess
from tests.conftest import WS_IMPLS, timeout
from tests.integration.clients import poll, publish, room_name, ws_handshake

pytestmark = pytest.mark.anyio

TOKEN = "integration-s3cret"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
#: Small on purpose: the test publishes past it within a few frames.
RATE_PER_S = 5


@pytest.fixture(scope="module", params=WS_IMPLS)
def guarded_server(
    request: pytest.FixtureRequest, flavor: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """Every access setting on: a token, one extra Origin, a tiny publish rate."""
    settings = {
        "auth_token": TOKEN,
        "allowed_origins": "same-host,loopback,https://chat.example",
        "publish_rate_per_s": str(RATE_PER_S),
        "publish_burst_s": "1",
    }
    log = tmp_path_factory.mktemp("server") / f"guarded-{flavor}-{request.param}.log"
    config = ServerConfig(ws_impl=request.param, flavor=flavor, settings=settings)
    with ServerProcess(config, log) as process:
        yield process


WS_TARGETS = pytest.mark.parametrize("target", ["/ws", "/ws/rooms/access"])


@WS_TARGETS
async def test_foreign_origin_handshake_refused_with_403(
    ws_impl_server: ServerProcess, target: str
) -> None:
    status, body = await ws_handshake(ws_impl_server.url, target, {"Origin": "http://evil.example"})
    assert status == 403
    assert json.loads(body) == {"detail": "origin not allowed: http://evil.example"}


@WS_TARGETS
@pytest.mark.parametrize(
    ("origin", "host"),
    [
        (None, None),  # not a browser: the harness, Locust
        ("http://localhost:5173", None),  # loopback, any port
        ("https://chat.example", "chat.example"),  # same host (behind a proxy, say)
    ],
)
async def test_default_origins_accepted(
    ws_impl_server: ServerProcess, target: str, origin: str | None, host: str | None
) -> None:
    headers = {"Origin": origin} if origin else {}
    status, _ = await ws_handshake(ws_impl_server.url, target, headers, host)
    assert status == 101


@WS_TARGETS
async def test_configured_origin_accepted_and_others_still_refused(
    guarded_server: ServerProcess, target: str
) -> None:
    url = f"{target}?token={TOKEN}"
    accepted, _ = await ws_handshake(guarded_server.url, url, {"Origin": "https://chat.example"})
    refused, _ = await ws_handshake(guarded_server.url, url, {"Origin": "https://chat.evil"})
    assert (accepted, refused) == (101, 403)


@WS_TARGETS
async def test_websocket_without_the_token_refused_with_401(
    guarded_server: ServerProcess, target: str
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(guarded_server.ws_url + target):
            pass
    assert refused.value.response.status_code == 401
    assert b"unauthorized" in refused.value.response.body
    for url, headers in ((target, BEARER), (f"{target}?token={TOKEN}", {})):
        async with connect(guarded_server.ws_url + url, additional_headers=headers) as ws:
            await ws.ping()


async def test_room_socket_over_its_rate_is_closed_1008_with_the_reason(
    guarded_server: ServerProcess,
) -> None:
    room = room_name("rate")
    url = f"{guarded_server.ws_url}/ws/rooms/{room}?receive=false"
    async with connect(url, additional_headers=BEARER) as ws:
        # The burst is RATE_PER_S frames; the server closes on the next one. A send may already
        # fail once the close arrived. Few frames past it: uvicorn's legacy websockets stops
        # reading while 32 frames are queued unread, and would then miss the client's close
        # reply until its close timeout (10 s).
        with contextlib.suppress(ConnectionClosed):
            for seq in range(RATE_PER_S * 2):
                await ws.send(json.dumps({"publisher": "p", "seq": seq, "payload": "x"}))
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(timeout(10)):
                await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert closed.value.rcvd.reason.startswith("publish rate limit exceeded")


async def test_text_plain_post_is_415_and_publishes_nothing(server: ServerProcess) -> None:
    room = room_name()
    async with aiohttp.ClientSession() as http:
        body = json.dumps({"publisher": "p", "seq": 0, "payload": "x"})
        async with http.post(
            f"{server.url}/rooms/{room}/messages",
            data=body,
            headers={"Content-Type": "text/plain"},
        ) as response:
            assert response.status == 415
            assert "application/json" in (await response.json())["detail"]
        status, page = await poll(http, server.url, room, after=0)
    assert (status, page["messages"]) == (200, [])


async def test_post_from_a_foreign_origin_is_403(server: ServerProcess) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{server.url}/rooms/{room_name()}/messages",
            json={"publisher": "p", "seq": 0, "payload": "x"},
            headers={"Origin": "http://evil.example"},
        ) as response,
    ):
        assert response.status == 403


@pytest.mark.parametrize("path", ["/", "/metrics", "/docs", "/openapi.json", "/rooms/r/messages"])
async def test_token_guards_every_http_endpoint_but_healthz(
    guarded_server: ServerProcess, path: str
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(guarded_server.url + path) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"] == "Bearer"
        async with http.get(guarded_server.url + path, headers=BEARER) as response:
            assert response.status == 200
        async with http.get(guarded_server.url + "/healthz") as response:
            assert response.status == 200


async def test_token_guards_publish_and_sse(guarded_server: ServerProcess) -> None:
    room = room_name()
    message = {"publisher": "p", "seq": 0, "payload": "x"}
    async with aiohttp.ClientSession() as http:
        url = f"{guarded_server.url}/rooms/{room}"
        async with http.post(url + "/messages", json=message) as response:
            assert response.status == 401
        async with http.get(url + "/events") as response:
            assert response.status == 401
    async with aiohttp.ClientSession(headers=BEARER) as http:
        published = await publish(http, guarded_server.url, room, 0)
        async with http.get(
            f"{url}/events?after=0", timeout=aiohttp.ClientTimeout(total=timeout(10))
        ) as response:
            assert response.status == 200
            async for line in response.content:
                if line.startswith(b"data: "):
                    assert json.loads(line[6:])["id"] == published["id"]
                    break
