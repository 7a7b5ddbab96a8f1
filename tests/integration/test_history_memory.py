"""History memory is bounded in bytes: the server's RSS stays within the budget plus a margin.

The probe that found the problem (issue 14): 20 rooms × 2,000 messages × 60 KiB grew RSS by
2.4 GiB, and one emoji per message made Python hold each message at 4 bytes per character. Here
20 rooms get 300 messages of 60 KiB of emoji each (360 MB sent) against a 48 MiB budget.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import psutil
import pytest
from websockets.asyncio.client import connect

from tests.conftest import ServerFactory, timeout
from tests.integration.clients import poll, room_name

pytestmark = [pytest.mark.anyio, pytest.mark.timing]

ROOMS = 20
MESSAGES_PER_ROOM = 300
#: 15,000 emoji: 60,000 bytes as UTF-8 (the default 64 KiB message limit), 60,000 characters.
PAYLOAD = "🙂" * 15_000
BUDGET_BYTES = 48 * 1024 * 1024
#: What the server may grow besides history: buffers, a message being parsed, allocator slack.
MARGIN_BYTES = 64 * 1024 * 1024


async def _fill(ws_url: str, room: str) -> None:
    async with connect(f"{ws_url}/ws/rooms/{room}", max_size=None) as ws:
        for seq in range(MESSAGES_PER_ROOM):
            await ws.send(json.dumps({"seq": seq, "payload": PAYLOAD}, ensure_ascii=False))
        # The socket subscribes too: its last message pushed back means all were published.
        seq = -1
        while seq < MESSAGES_PER_ROOM - 1:
            seq = json.loads(await asyncio.wait_for(ws.recv(), timeout(30)))["seq"]


async def test_rss_stays_within_the_history_budget(start_server: ServerFactory) -> None:
    server = start_server(
        settings={
            "history_max_bytes": str(BUDGET_BYTES),
            "room_history_max_bytes": str(8 * 1024 * 1024),
        }
    )
    process = psutil.Process(server.pid)
    rooms = [room_name("mem") for _ in range(ROOMS)]
    async with aiohttp.ClientSession() as http:
        await _fill(server.ws_url, room_name("warm"))
        before = process.memory_info().rss
        for start in range(0, ROOMS, 4):
            await asyncio.gather(*(_fill(server.ws_url, room) for room in rooms[start : start + 4]))
        grown = process.memory_info().rss - before
        # Every room still answers, and says what it no longer holds.
        _, page = await poll(http, server.url, rooms[0], after=0, limit=1000)
    assert grown <= BUDGET_BYTES + MARGIN_BYTES, f"RSS grew {grown / 2**20:.0f} MiB"
    assert page["missed"] + len(page["messages"]) == MESSAGES_PER_ROOM
    assert page["missed"] > 0
