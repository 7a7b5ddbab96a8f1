"""Small real clients for the integration tests (aiohttp for HTTP, websockets for WS)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp


def room_name(prefix: str = "t") -> str:
    """A room no other test uses (the default server is shared by the session)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def publish(
    http: aiohttp.ClientSession,
    base: str,
    room: str,
    seq: int,
    payload: Any = "x",
    publisher: str = "p",
) -> dict[str, Any]:
    async with http.post(
        f"{base}/rooms/{room}/messages",
        json={"publisher": publisher, "seq": seq, "payload": payload},
    ) as response:
        assert response.status == 201, await response.text()
        body: dict[str, Any] = await response.json()
        return body


async def poll(
    http: aiohttp.ClientSession, base: str, room: str, **params: Any
) -> tuple[int, dict[str, Any]]:
    async with http.get(f"{base}/rooms/{room}/messages", params=params) as response:
        return response.status, await response.json()


async def sse_events(response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, str]]:
    """Parse an SSE stream into records ({'id':..., 'event':..., 'data':...})."""
    record: dict[str, str] = {}
    async for raw in response.content:
        line = raw.decode().rstrip("\n").rstrip("\r")
        if not line:
            if record:
                yield record
            record = {}
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            record[field] = value.removeprefix(" ")


def data_of(record: dict[str, str]) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(record["data"])
    return value
