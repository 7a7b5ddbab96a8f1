"""Redis lost mid-run, and Redis missing at start: clear answers, never silent loss.

Each outage test runs its own ``redis-server`` (on a free loopback port), kills it with
SIGKILL while a two-worker server has subscribers, and starts it again on the same port: once
with an append-only file (Redis comes back with its data), once without (it comes back empty).
The opposite matters as much: an idle Redis is no outage (no reconnect, no catch-up), while a
hung one (SIGSTOP: connections open, no answers) is.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect

from pushbench.harness.launcher import ServerStartError
from tests.conftest import ServerFactory, timeout
from tests.integration.clients import poll, publish, room_name, sse_events
from tests.integration.test_metrics import scrape, total
from tests.redis_server import RedisServer

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

WORKERS = 2
#: Longer than redis-py's default socket timeout (5 s), which cut every idle listener (issue 14).
IDLE_WINDOW_S = 6.0


async def health_by_pid(base: str) -> dict[int, int]:
    """/healthz status of each worker that answered one of a few fresh connections."""
    found: dict[int, int] = {}
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one() -> None:
            async with http.get(f"{base}/healthz") as response:
                found[(await response.json())["pid"]] = response.status

        await asyncio.gather(*(one() for _ in range(6)))
    return found


async def every_worker_answers(base: str, status: int, workers: int = WORKERS) -> None:
    """Wait until every worker's /healthz has answered ``status``."""
    answered: set[int] = set()
    async with asyncio.timeout(timeout(30)):
        while len(answered) < workers:
            answered |= {pid for pid, got in (await health_by_pid(base)).items() if got == status}


async def frames(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    return [json.loads(await asyncio.wait_for(ws.recv(), timeout(10))) for _ in range(count)]


@pytest.mark.parametrize(
    "persistent", [True, False], ids=["comes-back-with-data", "comes-back-empty"]
)
async def test_server_stays_up_through_a_redis_outage(
    start_flavor_server: ServerFactory, tmp_path: Path, persistent: bool
) -> None:
    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis", persistent=persistent)
    redis.start()
    try:
        server = start_flavor_server(
            workers=WORKERS,
            broker=redis.url,
            settings={"redis_reconnect_max_s": "0.2", "redis_timeout_s": "2"},
        )
        await every_worker_answers(server.url, 200)
        room = room_name()
        url = f"{server.ws_url}/ws/rooms/{room}"
        subscribers = list(await asyncio.gather(*(connect(url) for _ in range(4))))
        ws_publisher = await connect(f"{url}?receive=false")
        async with aiohttp.ClientSession() as http:
            sse = await http.get(f"{server.url}/rooms/{room}/events")
            for seq in range(3):
                await publish(http, server.url, room, seq)
            for ws in subscribers:
                assert [f["id"] for f in await frames(ws, 3)] == [1, 2, 3]
            waiting = asyncio.create_task(poll(http, server.url, room, after=3, wait=30))

            redis.kill()
            await every_worker_answers(server.url, 503)
            # The parked long poll is answered at once, not after its 30 s.
            status, body = await asyncio.wait_for(waiting, timeout(10))
            assert status == 503
            assert "Redis" in body["detail"]
            async with http.post(f"{server.url}/rooms/{room}/messages", json={}) as response:
                assert response.status == 503
                detail = (await response.json())["detail"]
            assert f"Redis at {redis.url} is unavailable" in detail
            await ws_publisher.send(json.dumps({"seq": 99}))
            refused = json.loads(await asyncio.wait_for(ws_publisher.recv(), timeout(10)))
            assert refused["event"] == "error"
            assert refused["error"] == "broker unavailable"
            status, _ = await poll(http, server.url, room, after=0)
            assert status == 503
            assert not server.exited()

            redis.start()
            await every_worker_answers(server.url, 200)
            for seq in range(3, 5):
                await publish(http, server.url, room, seq)
            later = [f async for f in _take(sse_events(sse), 5 if persistent else 6)]
            sse.close()
            if persistent:
                # Nothing was lost: the refused publishes were refused, not dropped.
                for ws in subscribers:
                    assert [f["id"] for f in await frames(ws, 2)] == [4, 5]
                assert [int(r["id"]) for r in later if "id" in r] == [1, 2, 3, 4, 5]
                status, page = await poll(http, server.url, room, after=0)
                assert [m["seq"] for m in page["messages"]] == [0, 1, 2, 3, 4]
            else:
                # Redis lost the room: subscribers are told, then get the new ids.
                for ws in subscribers:
                    reset, *rest = await frames(ws, 3)
                    assert reset["event"] == "reset"
                    assert [f["id"] for f in rest] == [1, 2]
                assert later[3]["event"] == "reset"
                assert [int(r["id"]) for r in later[4:]] == [1, 2]
                status, page = await poll(http, server.url, room, after=3)
                assert status == 409
                assert "after=0" in page["detail"]
        for ws in [*subscribers, ws_publisher]:
            await ws.close()
    finally:
        redis.stop()


async def _take(records: Any, count: int) -> Any:
    got = 0
    while got < count:
        record = await asyncio.wait_for(anext(records), timeout(10))
        if "data" in record:
            got += 1
            yield record


def test_unreachable_redis_at_start_is_one_clear_line(start_server: ServerFactory) -> None:
    with pytest.raises(ServerStartError) as failed:
        start_server(broker="redis://127.0.0.1:1/0")
    message = str(failed.value)
    assert "pushbench: cannot reach Redis at redis://127.0.0.1:1/0" in message
    assert "exited with code 3" in message
    assert "Traceback" not in message


def test_pushbench_serve_names_the_unreachable_redis() -> None:
    args = [sys.executable, "-c", "from pushbench.cli.app import main; main()", "serve"]
    args += ["--port", "0", "--broker", "redis://127.0.0.1:1/0"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHBENCH_")}
    done = subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=timeout(60), check=False
    )
    assert done.returncode != 0
    assert "cannot reach Redis at redis://127.0.0.1:1/0" in done.stdout + done.stderr


async def listener_clients(redis_url: str, prefix: str) -> dict[str, dict[str, Any]]:
    """CLIENT LIST entries of the pub/sub listeners named with ``prefix``, by name."""
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        entries = await client.client_list(_type="pubsub")
    finally:
        await client.aclose()
    return {e["name"]: e for e in entries if e.get("name", "").startswith(f"{prefix}listener:")}


async def test_an_idle_listener_stays_connected_and_quiet(
    start_server: ServerFactory, redis_url: str, redis_prefix: str
) -> None:
    server = start_server(
        broker=redis_url, settings={"redis_prefix": redis_prefix, "redis_timeout_s": "0.5"}
    )
    room = room_name()
    subscriber = await connect(f"{server.ws_url}/ws/rooms/{room}")
    before = await listener_clients(redis_url, redis_prefix)
    assert len(before) == 1
    # The property under test is that nothing happens for a while: wait that while out.
    await asyncio.sleep(timeout(IDLE_WINDOW_S))
    after = await listener_clients(redis_url, redis_prefix)
    assert {name: e["id"] for name, e in after.items()} == {n: e["id"] for n, e in before.items()}
    # It checked on Redis meanwhile, on the same connection.
    assert next(iter(after.values()))["cmd"] == "ping"
    assert total(await scrape(server.url), "pushbench_broker_reconnects_total") == 0
    assert "lost Redis" not in server.log_tail(200)
    async with aiohttp.ClientSession() as http:
        await publish(http, server.url, room, 0)
    assert [f["id"] for f in await frames(subscriber, 1)] == [1]
    await subscriber.close()


async def test_a_hung_redis_is_noticed_and_survived(
    start_flavor_server: ServerFactory, private_redis: RedisServer
) -> None:
    server = start_flavor_server(
        broker=private_redis.url,
        settings={"redis_timeout_s": "0.3", "redis_reconnect_max_s": "0.2"},
    )
    room = room_name()
    subscriber = await connect(f"{server.ws_url}/ws/rooms/{room}")
    private_redis.pause()
    try:
        # Found by unanswered PINGs (the connection stays open): within about two timeouts.
        await every_worker_answers(server.url, 503, workers=1)
    finally:
        private_redis.resume()
    await every_worker_answers(server.url, 200, workers=1)
    async with aiohttp.ClientSession() as http:
        await publish(http, server.url, room, 0)
    assert [f["id"] for f in await frames(subscriber, 1)] == [1]
    await subscriber.close()
