"""Rooms over every transport, against a real uvicorn with real clients."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from pushbench.harness.launcher import ServerProcess
from tests.conftest import ServerFactory, timeout
from tests.integration.clients import data_of, poll, publish, room_name, sse_events

pytestmark = pytest.mark.anyio


async def test_publish_assigns_increasing_ids_and_short_poll_pages(server: ServerProcess) -> None:
    room = room_name()
    async with aiohttp.ClientSession() as http:
        ids = [(await publish(http, server.url, room, seq))["id"] for seq in range(5)]
        assert ids == [1, 2, 3, 4, 5]
        status, page = await poll(http, server.url, room, after=0, limit=3)
        assert status == 200
        assert [m["id"] for m in page["messages"]] == [1, 2, 3]
        assert page["next"] == 3
        assert page["missed"] == 0
        first = page["messages"][0]
        assert first == {
            "id": 1,
            "room": room,
            "publisher": "p",
            "seq": 0,
            "sent_ns": None,
            "payload": "x",
        }
        status, page = await poll(http, server.url, room, after=page["next"])
        assert [m["id"] for m in page["messages"]] == [4, 5]
        status, page = await poll(http, server.url, room, after=5)
        assert (status, page["messages"], page["next"]) == (200, [], 5)


async def test_poll_of_unknown_room_is_empty(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as http:
        status, page = await poll(http, server.url, room_name(), after=0)
    assert (status, page["messages"], page["next"], page["missed"]) == (200, [], 0, 0)


async def test_long_poll_returns_when_a_message_arrives(server: ServerProcess) -> None:
    room = room_name()
    async with aiohttp.ClientSession() as http:
        waiting = asyncio.create_task(poll(http, server.url, room, after=0, wait=30))
        # The long poll is parked until something is published; nothing else can complete it.
        done, _ = await asyncio.wait({waiting}, timeout=0.2)
        assert not done
        await publish(http, server.url, room, 0, payload="wake")
        status, page = await asyncio.wait_for(waiting, timeout(5))
    assert status == 200
    assert [m["payload"] for m in page["messages"]] == ["wake"]


async def test_long_poll_times_out_empty(server: ServerProcess) -> None:
    room = room_name()
    async with aiohttp.ClientSession() as http:
        await publish(http, server.url, room, 0)
        status, page = await poll(http, server.url, room, after=1, wait=0.05)
    assert (status, page["messages"], page["next"]) == (200, [], 1)


async def test_every_transport_gets_every_message_once_in_order(server: ServerProcess) -> None:
    """Messages published over HTTP and WebSocket reach WS, SSE, long and short polls alike."""
    room = room_name()
    total = 40
    async with aiohttp.ClientSession() as http:
        ws_sub = await connect(f"{server.ws_url}/ws/rooms/{room}")
        ws_pub = await connect(f"{server.ws_url}/ws/rooms/{room}?receive=false")
        sse = await http.get(f"{server.url}/rooms/{room}/events", params={"after": 0})
        assert sse.status == 200
        assert sse.headers["content-type"].startswith("text/event-stream")

        async def read_ws() -> list[int]:
            return [json.loads(await ws_sub.recv())["id"] for _ in range(total)]

        async def read_sse() -> list[int]:
            ids: list[int] = []
            async for record in sse_events(sse):
                if "data" in record and "id" in record:
                    assert int(record["id"]) == data_of(record)["id"]
                    ids.append(int(record["id"]))
                    if len(ids) == total:
                        break
            return ids

        async def long_poll() -> list[int]:
            ids: list[int] = []
            cursor = 0
            while len(ids) < total:
                _, page = await poll(http, server.url, room, after=cursor, wait=5)
                ids += [m["id"] for m in page["messages"]]
                cursor = page["next"]
            return ids

        readers = [asyncio.create_task(f()) for f in (read_ws, read_sse, long_poll)]
        for seq in range(total):
            if seq % 2:
                await publish(http, server.url, room, seq, publisher="http")
            else:
                await ws_pub.send(json.dumps({"publisher": "ws", "seq": seq, "payload": seq}))
        results = await asyncio.wait_for(asyncio.gather(*readers), timeout(10))
        _, page = await poll(http, server.url, room, after=0, limit=1000)
        await ws_sub.close()
        await ws_pub.close()
        sse.close()
    expected = list(range(1, total + 1))
    for ids in [*results, [m["id"] for m in page["messages"]]]:
        assert ids == expected
    assert sorted(m["seq"] for m in page["messages"]) == list(range(total))


async def test_sse_last_event_id_resumes_without_loss_or_duplicates(server: ServerProcess) -> None:
    room = room_name()
    async with aiohttp.ClientSession() as http:
        for seq in range(5):
            await publish(http, server.url, room, seq)
        async with http.get(f"{server.url}/rooms/{room}/events", params={"after": 0}) as first:
            seen: list[int] = []
            async for record in sse_events(first):
                if "id" in record:
                    seen.append(int(record["id"]))
                    if len(seen) == 3:
                        break
        for seq in range(5, 8):
            await publish(http, server.url, room, seq)
        async with http.get(
            f"{server.url}/rooms/{room}/events", headers={"Last-Event-ID": str(seen[-1])}
        ) as resumed:
            async for record in sse_events(resumed):
                if "id" in record:
                    seen.append(int(record["id"]))
                    if seen[-1] == 8:
                        break
    assert seen == list(range(1, 9))


async def test_bounded_history_says_what_was_missed(start_flavor_server: ServerFactory) -> None:
    server = start_flavor_server(settings={"history_size": "5"})
    room = room_name()
    async with aiohttp.ClientSession() as http:
        for seq in range(12):
            await publish(http, server.url, room, seq)
        status, page = await poll(http, server.url, room, after=2)
        assert status == 200
        assert page["missed"] == 5  # ids 3..7 are gone
        assert [m["id"] for m in page["messages"]] == [8, 9, 10, 11, 12]
        async with http.get(f"{server.url}/rooms/{room}/events", params={"after": 0}) as sse:
            events = sse_events(sse)
            first = await anext(events)
            while "event" not in record_keys(first):
                first = await anext(events)
            assert first["event"] == "missed"
            assert data_of(first) == {"missed": 7}
            assert data_of(await anext(events))["id"] == 8
    async with connect(f"{server.ws_url}/ws/rooms/{room}?after=0") as ws:
        assert json.loads(await ws.recv()) == {"event": "missed", "missed": 7}
        assert json.loads(await ws.recv())["id"] == 8


def record_keys(record: dict[str, str]) -> set[str]:
    return set(record)


async def test_cursor_ahead_of_room_is_a_conflict(server: ServerProcess) -> None:
    room = room_name()
    async with aiohttp.ClientSession() as http:
        await publish(http, server.url, room, 0)
        status, body = await poll(http, server.url, room, after=9)
        assert status == 409
        assert "after=0" in body["detail"]
        assert body["last_id"] == 1
        async with http.get(f"{server.url}/rooms/{room}/events", params={"after": 9}) as sse:
            assert sse.status == 409


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": -1}, "after"),
        ({"after": "abc"}, "after"),
        ({"limit": 0}, "limit"),
        ({"limit": 100_000}, "limit"),
        ({"wait": -1}, "wait"),
        ({"wait": 10_000}, "wait"),
    ],
)
async def test_bad_query_parameters_are_422(
    server: ServerProcess, params: dict[str, Any], field: str
) -> None:
    async with aiohttp.ClientSession() as http:
        status, body = await poll(http, server.url, room_name(), **params)
    assert status == 422
    assert body["detail"][0]["loc"] == ["query", field]


@pytest.mark.parametrize("room", ["has space", "-leading-dash", "x" * 65, "semi;colon", "café"])
async def test_invalid_room_names_are_refused(server: ServerProcess, room: str) -> None:
    async with aiohttp.ClientSession() as http:
        status, _ = await poll(http, server.url, room)
        assert status == 422
        async with http.post(f"{server.url}/rooms/{room}/messages", json={}) as response:
            assert response.status == 422
    with pytest.raises(ConnectionClosed) as closed:
        async with connect(f"{server.ws_url}/ws/rooms/{quote(room, safe='%')}") as ws:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert "room" in closed.value.rcvd.reason


@pytest.mark.parametrize(
    ("target", "field"),
    [
        ("/ws/rooms/r?after=-1", "after"),
        ("/ws/rooms/r?after=abc", "after"),
        ("/ws/rooms/r?after=", "after"),
        ("/ws/rooms/r?receive=maybe", "receive"),
        ("/ws?delay_ms=-5", "delay_ms"),
        ("/ws?delay_ms=x", "delay_ms"),
        ("/ws?delay_ms=999999999", "delay_ms"),
    ],
)
async def test_bad_socket_parameters_close_1008_naming_the_parameter(
    server: ServerProcess, target: str, field: str
) -> None:
    with pytest.raises(ConnectionClosed) as closed:
        async with connect(f"{server.ws_url}{target}") as ws:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    errors = json.loads(closed.value.rcvd.reason)
    assert errors[0]["loc"] == ["query", field]
    assert errors[0]["msg"]


async def test_socket_paths_outside_the_routes_are_refused(server: ServerProcess) -> None:
    for path in ("/ws/rooms/", "/ws/rooms/a/b", "/ws/", "/wss"):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"{server.ws_url}{path}"):
                pass
        assert refused.value.response.status_code == 403, path


@pytest.mark.parametrize(
    "body", [b"{not json", b"[1, 2]", b'{"seq": -1}', b'{"unknown": 1}', b'{"seq": "x"}', b""]
)
async def test_invalid_http_publish_is_422(server: ServerProcess, body: bytes) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{server.url}/rooms/{room_name()}/messages",
            data=body,
            headers={"Content-Type": "application/json"},
        ) as response,
    ):
        assert response.status == 422
        assert (await response.json())["detail"]


async def test_oversized_http_publish_is_413_with_and_without_length(server: ServerProcess) -> None:
    room = room_name()
    big = json.dumps({"payload": "x" * 70_000}).encode()

    async def chunked() -> Any:
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    url = f"{server.url}/rooms/{room}/messages"
    json_body = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=big, headers=json_body) as response:
            assert response.status == 413
            assert "65536" in (await response.json())["detail"]
        async with http.post(url, data=chunked(), headers=json_body) as response:
            assert response.status == 413
        # Nothing was published by the refused attempts.
        _, page = await poll(http, server.url, room)
        assert page["messages"] == []


async def test_oversized_ws_frame_closes_1009(server: ServerProcess) -> None:
    room = room_name()
    async with connect(f"{server.ws_url}/ws/rooms/{room}", max_size=None) as ws:
        await ws.send(json.dumps({"payload": "x" * 70_000}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), timeout(5))
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


async def test_invalid_json_on_room_socket_gets_error_frame_and_stays_open(
    server: ServerProcess,
) -> None:
    room = room_name()
    async with connect(f"{server.ws_url}/ws/rooms/{room}") as ws:
        for bad in ("{nope", "[]", json.dumps({"seq": -5}), json.dumps({"extra": True})):
            await ws.send(bad)
            frame = json.loads(await asyncio.wait_for(ws.recv(), timeout(5)))
            assert frame["event"] == "error"
            assert frame["detail"]
        await ws.send(json.dumps({"publisher": "me", "seq": 0, "payload": "still here"}))
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout(5)))
        assert (frame["id"], frame["payload"]) == (1, "still here")


async def test_binary_frames_publish_utf8_json_like_text_frames(server: ServerProcess) -> None:
    room = room_name()
    async with connect(f"{server.ws_url}/ws/rooms/{room}") as ws:
        await ws.send(json.dumps({"publisher": "me", "seq": 0, "payload": "h\u00e9"}).encode())
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout(5)))
        assert (frame["id"], frame["payload"]) == (1, "h\u00e9")
        # Not UTF-8 (JSON around it, so only the encoding is wrong): refused, nothing published.
        await ws.send(b'{"payload":"\xff"}')
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout(5)))
        assert frame["event"] == "error"
        assert frame["error"] == "invalid message"
        assert "binary frame is not UTF-8 at byte 12" in frame["detail"][0]["msg"]
        await ws.send(json.dumps({"seq": 1, "payload": "still here"}).encode())
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout(5)))
        assert (frame["id"], frame["payload"]) == (2, "still here")
    async with aiohttp.ClientSession() as http:
        _, page = await poll(http, server.url, room, after=0)
    assert [m["payload"] for m in page["messages"]] == ["h\u00e9", "still here"]


async def test_unknown_path_is_404_and_health_and_docs_answer(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/no/such/path") as response:
            assert response.status == 404
        async with http.get(f"{server.url}/healthz") as response:
            assert response.status == 200
            assert (await response.json())["status"] == "ok"
        async with http.get(f"{server.url}/openapi.json") as response:
            paths = (await response.json())["paths"]
        async with http.get(f"{server.url}/") as response:
            assert "/ws/rooms/" in await response.text()
    assert {"/rooms/{room}/messages", "/rooms/{room}/events", "/healthz"} <= set(paths)
    assert {"get", "post"} <= set(paths["/rooms/{room}/messages"])


def test_long_poll_of_a_departed_client_does_not_hold_the_server(
    start_flavor_server: ServerFactory,
) -> None:
    """A parked long poll ends when its client leaves: graceful shutdown does not wait for it."""
    import socket
    import time

    server = start_flavor_server()
    with socket.create_connection((server.host, server.port)) as sock:
        sock.sendall(
            f"GET /rooms/{room_name()}/messages?after=0&wait=30 HTTP/1.1\r\n"
            f"Host: {server.host}\r\n\r\n".encode()
        )
        # The request is parked once /metrics counts it; then the client goes away.
        deadline = time.monotonic() + timeout(10)
        while "long_poll" not in _open_long_polls(server):
            assert time.monotonic() < deadline, "the long poll never parked"
    started = time.monotonic()
    server.stop(timeout_s=timeout(20))
    assert time.monotonic() - started < timeout(5)


def _open_long_polls(server: ServerProcess) -> str:
    import urllib.request

    with urllib.request.urlopen(server.url + "/metrics", timeout=5) as response:
        lines = response.read().decode().splitlines()
    return "\n".join(
        line
        for line in lines
        if line.startswith("pushbench_connections_open")
        and 'transport="long_poll"' in line
        and not line.rstrip().endswith(" 0.0")
    )
