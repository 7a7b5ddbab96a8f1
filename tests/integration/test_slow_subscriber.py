"""A subscriber that stops reading is dropped and never slows the rest of its room."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import WS_IMPLS, ServerFactory, timeout
from tests.integration.clients import room_name

pytestmark = [pytest.mark.anyio, pytest.mark.timing]

MESSAGES = 2_000
RATE_PER_S = 2_000
PAYLOAD = "x" * 8_192  # 2,000 x 8 KiB = 16 MiB: far more than loopback socket buffers hold


async def drain(ws: ClientConnection) -> int:
    """Read until the connection closes; how many messages came before the close."""
    got = 0
    with contextlib.suppress(ConnectionClosed):
        async for _ in ws:
            got += 1
    return got


@pytest.mark.parametrize("ws_impl", WS_IMPLS)
async def test_stalled_subscriber_is_dropped_and_others_keep_rate(
    start_flavor_server: ServerFactory, ws_impl: str
) -> None:
    server = start_flavor_server(ws_impl=ws_impl, settings={"send_queue_size": "50"})
    room = room_name()
    url = f"{server.ws_url}/ws/rooms/{room}"
    # max_queue=1: the client library stops reading the socket once one message waits unread,
    # so this subscriber really stalls (kernel buffers fill, the server's writes block).
    stalled = await connect(url, max_queue=1, max_size=None)
    healthy = [await connect(url, max_size=None) for _ in range(3)]
    publisher = await connect(f"{url}?receive=false")

    received: list[list[tuple[int, int]]] = [[] for _ in healthy]  # (id, receive time ns)

    async def read(index: int) -> None:
        while len(received[index]) < MESSAGES:
            frame = json.loads(await healthy[index].recv())
            received[index].append((frame["id"], time.monotonic_ns()))

    readers = [asyncio.create_task(read(i)) for i in range(len(healthy))]
    sent_at: list[int] = []
    start = time.monotonic()
    for seq in range(MESSAGES):
        # Open loop at a fixed rate: a stalled room would show up as growing delivery delay.
        delay = start + seq / RATE_PER_S - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        sent_at.append(time.monotonic_ns())
        await publisher.send(json.dumps({"publisher": "p", "seq": seq, "payload": PAYLOAD}))
    await asyncio.wait_for(asyncio.gather(*readers), timeout(20))

    for frames in received:
        assert [mid for mid, _ in frames] == list(range(1, MESSAGES + 1))
        # Each message reached the healthy subscribers promptly, including long after the
        # stalled one's buffers filled: the p99 delivery delay stays far below a second.
        delays = sorted(at - sent_at[mid - 1] for mid, at in frames)
        assert delays[int(len(delays) * 0.99)] < timeout(0.5) * 1e9

    # The stalled client, once it reads again, finds what was buffered then the close 1008.
    got = await asyncio.wait_for(drain(stalled), timeout(10))
    assert stalled.close_code == 1008
    assert "slow subscriber" in (stalled.close_reason or "")
    assert got < MESSAGES
    for ws in (*healthy, publisher):
        await ws.close()
