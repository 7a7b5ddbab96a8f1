"""The same test bodies against both brokers: Redis must behave exactly like memory.

Like uvicorn's tests run one body against every protocol implementation, ``broker_server``
is parametrized over the brokers (one worker each; multi-worker Redis is in test_redis_workers).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from pushbench.core.server_config import ServerConfig
from pushbench.harness.launcher import ServerProcess
from tests.conftest import timeout
from tests.integration.clients import data_of, poll, publish, room_name, sse_events
from tests.redis_server import redis_command

pytestmark = pytest.mark.anyio

HISTORY = 20
#: Small, so that one test can pass the room cap (every other test uses a room or two).
MAX_ROOMS = 8


@pytest.fixture(scope="module", params=["memory", "redis"])
def broker_server(
    request: pytest.FixtureRequest, flavor: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A one-worker server per broker and flavor (``HISTORY`` messages, ``MAX_ROOMS`` rooms)."""
    settings = {"history_size": str(HISTORY), "max_rooms": str(MAX_ROOMS)}
    broker = "memory"
    prefix = f"pbtest-{uuid.uuid4().hex[:10]}:"
    if request.param == "redis":
        broker = request.getfixturevalue("redis_url")
        settings["redis_prefix"] = prefix
    log = tmp_path_factory.mktemp("server") / f"server-{flavor}-{request.param}.log"
    with ServerProcess(
        ServerConfig(broker=broker, flavor=flavor, settings=settings), log
    ) as server:
        yield server
    if request.param == "redis":
        host, _, port = broker.removeprefix("redis://").partition("/")[0].rpartition(":")
        script = "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end"
        redis_command(host, int(port), "EVAL", script, "0", prefix + "*")


async def test_every_transport_gets_every_message_once_in_order(
    broker_server: ServerProcess,
) -> None:
    server, room, total = broker_server, room_name(), 15
    async with aiohttp.ClientSession() as http:
        ws_sub = await connect(f"{server.ws_url}/ws/rooms/{room}")
        ws_pub = await connect(f"{server.ws_url}/ws/rooms/{room}?receive=false")
        sse = await http.get(f"{server.url}/rooms/{room}/events", params={"after": 0})

        async def read_ws() -> list[int]:
            return [json.loads(await ws_sub.recv())["id"] for _ in range(total)]

        async def read_sse() -> list[int]:
            ids: list[int] = []
            async for record in sse_events(sse):
                if "id" in record:
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
        await ws_sub.close()
        await ws_pub.close()
        sse.close()
    for ids in results:
        assert ids == list(range(1, total + 1))


async def test_bounded_history_pages_and_resumes_say_what_was_missed(
    broker_server: ServerProcess,
) -> None:
    server, room = broker_server, room_name()
    async with aiohttp.ClientSession() as http:
        for seq in range(HISTORY + 10):
            await publish(http, server.url, room, seq)
        status, page = await poll(http, server.url, room, after=2, limit=5)
        assert (status, page["missed"], page["next"]) == (200, 8, 15)
        assert [m["id"] for m in page["messages"]] == [11, 12, 13, 14, 15]
        status, page = await poll(http, server.url, room, after=HISTORY + 10)
        assert (status, page["messages"], page["missed"]) == (200, [], 0)
        async with http.get(
            f"{server.url}/rooms/{room}/events", headers={"Last-Event-ID": "5"}
        ) as resumed:
            records = [r async for r in _first(sse_events(resumed), 2)]
            assert (records[0]["event"], data_of(records[0])) == ("missed", {"missed": 5})
            assert int(records[1]["id"]) == 11
    async with connect(f"{server.ws_url}/ws/rooms/{room}?after=0") as ws:
        assert json.loads(await ws.recv()) == {"event": "missed", "missed": 10}
        # Read the whole backlog: a client that leaves over 16 frames unread stops reading its
        # socket and would only see the server's close frame after its close timeout.
        ids = [json.loads(await ws.recv())["id"] for _ in range(HISTORY)]
        assert ids == list(range(11, HISTORY + 11))


async def _first(
    records: AsyncIterator[dict[str, str]], count: int
) -> AsyncIterator[dict[str, str]]:
    """The first ``count`` records that carry data (``retry:`` records carry none)."""
    async for record in records:
        if "data" in record:
            yield record
            count -= 1
            if not count:
                return


async def test_cursor_ahead_is_refused_on_every_transport(broker_server: ServerProcess) -> None:
    server, room = broker_server, room_name()
    async with aiohttp.ClientSession() as http:
        await publish(http, server.url, room, 0)
        status, body = await poll(http, server.url, room, after=9)
        assert (status, body["last_id"]) == (409, 1)
        async with http.get(f"{server.url}/rooms/{room}/events", params={"after": 9}) as sse:
            assert sse.status == 409
    with pytest.raises(ConnectionClosed) as closed:
        async with connect(f"{server.ws_url}/ws/rooms/{room}?after=9") as ws:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008


async def test_health_names_the_broker(broker_server: ServerProcess) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{broker_server.url}/healthz") as response,
    ):
        body = await response.json()
    assert response.status == 200
    assert body["status"] == "ok"
    assert body["broker"] in {"memory", "redis"}


#: Publishes a 64-bit encoder cannot hold (issue 14): each must be refused without taking an id.
UNENCODABLE = (
    b'{"publisher":"p","seq":99999999999999999999,"payload":"x"}',
    b'{"publisher":"p","seq":1,"sent_ns":-99999999999999999999,"payload":"x"}',
    b'{"publisher":"p","seq":1,"payload":{"n":[1,99999999999999999999]}}',
    b'{"publisher":"p","seq":1,"payload":NaN}',
    b'{"publisher":"p","seq":1,"payload":[1e999]}',
)


async def test_unencodable_publishes_are_refused_and_leave_no_gap(
    broker_server: ServerProcess,
) -> None:
    """Refused over HTTP (422) and WebSocket (an error frame, the socket open): no id is taken,
    so every cursor on every transport still sees every accepted message exactly once."""
    server, room = broker_server, room_name()
    async with (
        aiohttp.ClientSession() as http,
        connect(f"{server.ws_url}/ws/rooms/{room}?receive=false") as ws_pub,
    ):
        for seq in (1, 2, 3):
            await publish(http, server.url, room, seq)
        for body in UNENCODABLE:
            async with http.post(
                f"{server.url}/rooms/{room}/messages",
                data=body,
                headers={"Content-Type": "application/json"},
            ) as response:
                assert response.status == 422, await response.text()
                assert (await response.json())["detail"][0]["loc"][-1] in {
                    "seq",
                    "sent_ns",
                    "payload",
                }
            await ws_pub.send(body.decode())
            error = json.loads(await asyncio.wait_for(ws_pub.recv(), timeout(5)))
            assert error["event"] == "error"
            assert error["error"] == "invalid message"
        for seq in (5, 6):
            await publish(http, server.url, room, seq)
        await ws_pub.send(json.dumps({"publisher": "p", "seq": 7, "payload": "x"}))
        total = 6
        status, page = await poll(http, server.url, room, after=total - 1, wait=5)
        assert (status, [m["seq"] for m in page["messages"]]) == (200, [7])
        for after in range(total + 1):
            status, page = await poll(http, server.url, room, after=after)
            assert status == 200, page
            assert [m["id"] for m in page["messages"]] == list(range(after + 1, total + 1))
            assert (page["missed"], page["next"]) == (
                0,
                max(after, total) if after < total else total,
            )
        seqs = [1, 2, 3, 5, 6, 7]
        for after in (0, 3, 4):
            async with http.get(
                f"{server.url}/rooms/{room}/events", headers={"Last-Event-ID": str(after)}
            ) as sse:
                records = [r async for r in _first(sse_events(sse), total - after)]
            assert [data_of(r)["seq"] for r in records] == seqs[after:]
            async with connect(f"{server.ws_url}/ws/rooms/{room}?after={after}") as ws:
                frames = [json.loads(await ws.recv()) for _ in range(total - after)]
            assert [f["seq"] for f in frames] == seqs[after:]
            status, page = await poll(http, server.url, room, after=after, wait=5)
            assert [m["seq"] for m in page["messages"]] == seqs[after:]


async def test_rooms_past_the_cap_evict_idle_ones_whose_cursors_are_told(
    broker_server: ServerProcess,
) -> None:
    """The cap bounds rooms in use, not names ever seen: it never locks the server (issue 14)."""
    server, rooms = broker_server, [room_name("cap") for _ in range(3 * MAX_ROOMS)]
    async with aiohttp.ClientSession() as http:
        for room in rooms:
            for seq in range(2):
                await publish(http, server.url, room, seq)
        first = rooms[0]
        status, page = await poll(http, server.url, first, after=1)
        assert (status, page["messages"], page["next"], page["missed"]) == (200, [], 2, 1)
        async with http.get(
            f"{server.url}/rooms/{first}/events", headers={"Last-Event-ID": "0"}
        ) as sse:
            records = [r async for r in _first(sse_events(sse), 1)]
        assert (records[0]["event"], data_of(records[0])) == ("missed", {"missed": 2})
        async with connect(f"{server.ws_url}/ws/rooms/{first}?after=0") as ws:
            assert json.loads(await ws.recv()) == {"event": "missed", "missed": 2}
            # Its ids go on from where they were: no cursor is answered from a restarted count.
            await publish(http, server.url, first, 2)
            assert json.loads(await ws.recv())["id"] == 3
        for room in rooms[-MAX_ROOMS // 2 :]:
            status, page = await poll(http, server.url, room, after=0)
            assert (status, len(page["messages"]), page["missed"]) == (200, 2, 0)
