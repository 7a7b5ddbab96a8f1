"""uvicorn ``--workers 3`` on Redis: every subscriber on every worker gets every message.

The clients open many connections, so they land on different worker processes (checked through
``/metrics``, whose connection gauges carry each worker's pid, and ``/healthz``'s pid).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from websockets.asyncio.client import ClientConnection, connect

from pushbench.harness.launcher import ServerProcess
from tests.conftest import ServerFactory, timeout
from tests.integration.clients import data_of, poll, room_name, sse_events
from tests.integration.test_metrics import per_pid, scrape, total, until

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

WORKERS = 3
MESSAGES = 50


def fresh_connections() -> aiohttp.ClientSession:
    """A session that opens a new connection per request (so requests reach any worker)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))


async def worker_pid(http: aiohttp.ClientSession, base: str) -> int:
    async with http.get(f"{base}/healthz") as response:
        assert response.status == 200
        pid: int = (await response.json())["pid"]
        return pid


async def all_workers_serving(base: str) -> set[int]:
    """Wait until every worker has answered ``/healthz`` (each one starts on its own)."""
    seen: set[int] = set()
    async with fresh_connections() as http, asyncio.timeout(timeout(30)):
        while len(seen) < WORKERS:
            seen.update(await asyncio.gather(*(worker_pid(http, base) for _ in range(6))))
    return seen


@pytest.fixture
async def workers_server(
    start_flavor_server: ServerFactory, redis_url: str, redis_prefix: str
) -> ServerProcess:
    server = start_flavor_server(
        workers=WORKERS,
        broker=redis_url,
        settings={"redis_prefix": redis_prefix, "metrics_flush_s": "0.05"},
    )
    await all_workers_serving(server.url)
    return server


async def ws_subscribers(server: ServerProcess, room: str, count: int) -> list[ClientConnection]:
    """``count`` WebSocket subscribers, opened concurrently so that workers share them."""
    url = f"{server.ws_url}/ws/rooms/{room}"
    return list(await asyncio.gather(*(connect(url) for _ in range(count))))


async def test_every_subscriber_on_every_worker_gets_every_message_once_in_order(
    workers_server: ServerProcess,
) -> None:
    server = workers_server
    room = room_name()
    subscribers = await ws_subscribers(server, room, 24)
    samples = await scrape(server.url)
    spread = per_pid(samples, "pushbench_connections_open", transport="ws")
    for _ in range(3):  # the kernel hands connections to workers: ask again if it was uneven
        if sum(1 for open_ in spread.values() if open_) > 1:
            break
        subscribers += await ws_subscribers(server, room, 24)
        spread = per_pid(await scrape(server.url), "pushbench_connections_open", transport="ws")
    assert sum(1 for open_ in spread.values() if open_) > 1, spread
    assert sum(spread.values()) == len(subscribers)

    sse_sessions = [aiohttp.ClientSession() for _ in range(6)]
    streams = [await s.get(f"{server.url}/rooms/{room}/events") for s in sse_sessions]
    assert all(stream.status == 200 for stream in streams)
    poll_sessions = [aiohttp.ClientSession() for _ in range(6)]
    ws_publishers = await asyncio.gather(
        *(connect(f"{server.ws_url}/ws/rooms/{room}?receive=false") for _ in range(3))
    )

    async def read_ws(ws: ClientConnection) -> list[dict[str, Any]]:
        return [json.loads(await ws.recv()) for _ in range(MESSAGES)]

    async def read_sse(stream: aiohttp.ClientResponse) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        async for record in sse_events(stream):
            assert "event" not in record, record
            if "id" in record:
                got.append(data_of(record))
                if len(got) == MESSAGES:
                    return got
        raise AssertionError("SSE stream ended")

    async def long_poll(http: aiohttp.ClientSession) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        cursor = 0
        while len(got) < MESSAGES:
            status, page = await poll(http, server.url, room, after=cursor, wait=10)
            assert status == 200, page
            assert page["missed"] == 0
            got += page["messages"]
            cursor = page["next"]
        return got

    readers = [asyncio.create_task(read_ws(ws)) for ws in subscribers]
    readers += [asyncio.create_task(read_sse(stream)) for stream in streams]
    readers += [asyncio.create_task(long_poll(http)) for http in poll_sessions]
    async with fresh_connections() as http:
        for seq in range(MESSAGES):
            message = {"publisher": "http" if seq % 2 else "ws", "seq": seq, "payload": seq}
            if seq % 2:
                async with http.post(f"{server.url}/rooms/{room}/messages", json=message) as r:
                    assert r.status == 201, await r.text()
            else:
                await ws_publishers[seq // 2 % len(ws_publishers)].send(json.dumps(message))
        results = await asyncio.wait_for(asyncio.gather(*readers), timeout(30))

        expected_ids = list(range(1, MESSAGES + 1))
        sent = {("http" if seq % 2 else "ws", seq) for seq in range(MESSAGES)}
        for received in results:
            assert [m["id"] for m in received] == expected_ids
            assert {(m["publisher"], m["seq"]) for m in received} == sent

        # Short polls on many connections: every worker answers the same page.
        answers: dict[int, str] = {}
        async with asyncio.timeout(timeout(20)):
            while len(answers) < WORKERS:
                async with aiohttp.ClientSession() as one_connection:
                    pid = await worker_pid(one_connection, server.url)
                    async with one_connection.get(
                        f"{server.url}/rooms/{room}/messages", params={"after": 0, "limit": 1000}
                    ) as response:
                        answers[pid] = await response.text()
    assert len(set(answers.values())) == 1
    page = json.loads(next(iter(answers.values())))
    assert [m["id"] for m in page["messages"]] == expected_ids

    samples = await until(
        server.url,
        lambda s: (
            total(s, "pushbench_messages_published_total") == MESSAGES
            and total(s, "pushbench_messages_delivered_total", transport="ws")
            == MESSAGES * len(subscribers)
        ),
    )
    assert total(samples, "pushbench_messages_published_total", transport="http") == MESSAGES // 2
    assert total(samples, "pushbench_messages_delivered_total", transport="sse") == MESSAGES * 6
    assert len(per_pid(samples, "pushbench_broker_healthy", broker="redis")) == WORKERS

    for ws in [*subscribers, *ws_publishers]:
        await ws.close()
    for stream in streams:
        stream.close()
    for session in [*sse_sessions, *poll_sessions]:
        await session.close()


#: uvicorn, and gunicorn with uvicorn workers (forked, not multiprocessing's children), run by
#: hand with two workers on any free port.
_BY_HAND = {
    "uvicorn": ["uvicorn", "target_app.main:app", "--host", "127.0.0.1", "--port", "0"],
    "gunicorn": [
        "gunicorn", "target_app.main:app", "--worker-class", "uvicorn_worker.UvicornWorker",
        "--bind", "127.0.0.1:0", "--no-control-socket",
    ],
}  # fmt: skip


@pytest.mark.parametrize("server", sorted(_BY_HAND))
def test_memory_broker_refuses_to_start_several_workers(server: str) -> None:
    """uvicorn (or gunicorn's uvicorn workers) run by hand with --workers 2 on the memory
    broker: refused, in one line."""
    env = {**os.environ, "PUSHBENCH_BROKER_URL": "memory"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    args = [sys.executable, "-m", *_BY_HAND[server], "--workers", "2"]
    done = subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=timeout(60), check=False
    )
    log = done.stdout + done.stderr
    assert "pushbench: refusing to start one of 2 uvicorn workers on the memory broker" in log
    # No traceback of ours. gunicorn's arbiter may print its own (HaltServer raised again
    # while it stops, when the second worker fails too: a gunicorn race, not the refusal).
    frames = [line for line in log.splitlines() if line.lstrip().startswith('File "')]
    assert not [f for f in frames if "target_app" in f or "pushbench" in f], log
    if server == "uvicorn":
        assert "Traceback" not in log


def test_pushbench_serve_runs_several_workers_on_redis(
    redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    """``pushbench serve --workers 2 --broker redis://...`` end to end, as a user runs it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHBENCH_")}
    env["PUSHBENCH_REDIS_PREFIX"] = redis_prefix
    args = [sys.executable, "-c", "from pushbench.cli.app import main; main()", "serve"]
    args += ["--port", str(port), "--workers", "2", "--broker", redis_url]
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout(30)
        while True:
            assert process.poll() is None, log_path.read_text()
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{base}/healthz") as r:
                if json.load(r)["broker"] == "redis":
                    break
            assert time.monotonic() < deadline, log_path.read_text()
            # Readiness probe back-off: /healthz is the condition, the sleep only paces it.
            time.sleep(0.05)
        published = urllib.request.Request(
            f"{base}/rooms/serve-check/messages",
            data=b'{"seq": 0}',
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(published) as response:
            assert json.load(response)["id"] == 1
        with urllib.request.urlopen(f"{base}/rooms/serve-check/messages?after=0") as response:
            assert [m["seq"] for m in json.load(response)["messages"]] == [0]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout(20))
    assert f"http://127.0.0.1:{port}" in log_path.read_text()
    assert "broker=redis://" in log_path.read_text()
