"""Small real clients for the integration tests (aiohttp for HTTP, websockets for WS)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

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


async def ws_handshake(
    server_url: str, target: str, headers: dict[str, str] | None = None, host: str | None = None
) -> tuple[int, bytes]:
    """One WebSocket opening handshake written by hand: the answer's HTTP status and body.

    By hand so that any ``Host`` and ``Origin`` can be sent (client libraries set their own).
    """
    parts = urlsplit(server_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        lines = [
            f"GET {target} HTTP/1.1",
            f"Host: {host or parts.netloc}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in (headers or {}).items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        body = await reader.readexactly(int(length.group(1))) if length else b""
        return status, body
    finally:
        writer.close()
