"""Push vs poll over real loopback sockets against a live reference server (uvicorn, defaults).

Latency group (``push-vs-poll <size>``): from handing one message to the publisher's socket until
a subscriber has it — pushed over WebSocket, picked up by short polls at a fixed cursor sent
back to back (the best case: a real poll loop adds half its interval), or answered to a long
poll already waiting. Rate group (``push-vs-poll-rate``): what 100 pushed frames cost against
100 polls of a poll loop. Each round is one ``run_until_complete`` on a private loop (~25 µs,
the same for every member of a group).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.micro.conftest import PAYLOAD_IDS, PAYLOAD_SIZES, Loop, payload_of
from benchmarks.micro.loopback import HttpClient, Publisher, Subscriber
from pushbench.harness.launcher import ServerProcess

_ROOMS = itertools.count()
RATE_BATCH = 100
#: The server refuses frames over 64 KiB (close 1009): the largest payload leaves room for the
#: publish request's other fields.
MAX_PAYLOAD = 64 * 1024 - 256
#: A round that takes longer has lost its message: fail instead of hanging.
ROUND_TIMEOUT_S = 10.0


@pytest.fixture
def room() -> str:
    """A room of its own for each benchmark."""
    return f"micro-{next(_ROOMS)}"


class Live:
    """A publisher, a WebSocket subscriber and an HTTP client in one room of the live server."""

    def __init__(self, loop: Loop, server: ServerProcess, room: str) -> None:
        self.loop = loop
        self.room = room
        base = f"{server.ws_url}/ws/rooms/{room}"
        self.publisher = loop.run(Publisher.open(f"{base}?receive=false"))
        self.subscriber = loop.run(Subscriber().open(base))
        self.http = loop.run(HttpClient.open(server.host, server.port))
        self.seq = itertools.count()
        self.cursor = 0
        self.polls = 0

    def message(self, payload: str) -> str:
        return json.dumps({"publisher": "bench", "seq": next(self.seq), "payload": payload})

    async def poll(self, wait: float = 0.0) -> list[object]:
        self.polls += 1
        target = f"/rooms/{self.room}/messages?after={self.cursor}"
        status, body = await self.http.get(target + (f"&wait={wait:g}" if wait else ""))
        assert status == 200, body
        page = json.loads(body)
        messages: list[object] = page["messages"]
        self.cursor = page["next"]
        return messages

    def close(self) -> None:
        self.publisher.close()
        self.subscriber.close()
        self.loop.run(self.http.close())


@pytest.fixture
def live(loop: Loop, live_server: ServerProcess, room: str) -> Iterator[Live]:
    """Connections to the live server, on ``loop``."""
    connections = Live(loop, live_server, room)
    try:
        yield connections
    finally:
        connections.close()


@pytest.mark.parametrize("size", PAYLOAD_SIZES, ids=PAYLOAD_IDS)
@pytest.mark.parametrize("transport", ["ws-push", "short-poll", "long-poll-waiting"])
def test_push_vs_poll_latency(
    benchmark: BenchmarkFixture, live: Live, transport: str, size: int
) -> None:
    """One message from the publisher's socket to a subscriber, per transport."""
    benchmark.group = f"push-vs-poll {PAYLOAD_IDS[PAYLOAD_SIZES.index(size)]}"
    payload = payload_of(min(size, MAX_PAYLOAD))

    async def pushed() -> None:
        arrived = live.subscriber.expect(1)
        live.publisher.publish([live.message(payload)])
        await arrived

    async def short_polled() -> None:
        live.publisher.publish([live.message(payload)])
        while not await live.poll():
            pass

    async def long_polled() -> None:
        # The poll goes out first; by the time the publish reaches the server it is parked
        # (if not yet, it finds the message at once: the latency is still publish → answer).
        live.http.send_get(f"/rooms/{live.room}/messages?after={live.cursor}&wait=30")
        live.publisher.publish([live.message(payload)])
        status, body = await live.http.read_response()
        assert status == 200
        live.cursor = json.loads(body)["next"]

    run = {"ws-push": pushed, "short-poll": short_polled, "long-poll-waiting": long_polled}[
        transport
    ]
    benchmark(lambda: live.loop.run(asyncio.wait_for(run(), ROUND_TIMEOUT_S)))
    if transport == "short-poll":
        rounds = max(1, next(live.seq))
        benchmark.extra_info["polls_per_message"] = round(live.polls / rounds, 2)


@pytest.mark.benchmark(group="push-vs-poll-rate")
@pytest.mark.parametrize("transport", ["ws-push-100-frames", "short-poll-100-requests"])
def test_push_vs_poll_rate(benchmark: BenchmarkFixture, live: Live, transport: str) -> None:
    """100 frames pushed to a subscriber vs 100 back-to-back polls of an idle room (what a poll
    loop costs when nothing is new): frames/s against requests/s."""
    texts = [live.message("x" * 64) for _ in range(RATE_BATCH)]

    async def push_batch() -> None:
        arrived = live.subscriber.expect(RATE_BATCH)
        live.publisher.publish(texts)
        await arrived

    async def poll_batch() -> None:
        for _ in range(RATE_BATCH):
            await live.poll()

    run = push_batch if transport.startswith("ws") else poll_batch
    benchmark(lambda: live.loop.run(asyncio.wait_for(run(), ROUND_TIMEOUT_S)))
    per_s = RATE_BATCH / benchmark.stats.stats.mean if benchmark.stats else 0.0
    unit = "frames_per_s" if transport.startswith("ws") else "requests_per_s"
    benchmark.extra_info[unit] = round(per_s)
