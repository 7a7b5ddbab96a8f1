"""A relay that speaks a binary envelope of its own: what a TOML profile cannot drive.

Clients send binary WebSocket frames on ``/rooms/{room}/ws``; each frame is one type byte, a
4-byte big-endian length and that many bytes of zlib-compressed UTF-8 text. The relay gives each
message of a room a number and sends it to every socket of the room as a type-2 frame (the same
layout, with the 8-byte number in front of the compressed text), and keeps it for polls:
``GET /rooms/{room}/since/{n}`` answers an 8-byte next cursor followed by the relayed frames
from number ``n`` on; with ``?wait=S`` it waits up to S s for one. A socket that joins first
gets a type-3 frame (``joined``), which carries no message.

Compressed text holds no visible payload token, so pushbench drives this app through a Python
adapter, ``examples/binary_relay_adapter.py``::

    pushbench compare --app examples.binary_relay_app:app \\
        --profile examples.binary_relay_adapter:BinaryRelayAdapter

``relay_count`` says how many times message k of a room is relayed (1; a test sets 0 to drop
one and 2 to duplicate one, so that pushbench's integrity counts can be checked).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import zlib
from collections import defaultdict
from collections.abc import Callable

from fastapi import FastAPI, Response, WebSocket, WebSocketDisconnect

SAY, RELAYED, JOINED = 1, 2, 3
HEAD = struct.Struct("!BI")  # type, length of what follows

app = FastAPI()
relay_count: Callable[[int], int] = lambda k: 1  # noqa: E731 - a hook a test replaces
_sockets: defaultdict[str, set[WebSocket]] = defaultdict(set)
_history: defaultdict[str, list[bytes]] = defaultdict(list)
_counter: defaultdict[str, int] = defaultdict(int)
_changed = asyncio.Condition()


def frame(kind: int, body: bytes) -> bytes:
    """One frame: type, length, body."""
    return HEAD.pack(kind, len(body)) + body


async def _relay(room: str, compressed: bytes) -> None:
    k = _counter[room]
    _counter[room] += 1
    relayed = frame(RELAYED, struct.pack("!Q", k) + compressed)
    for _ in range(relay_count(k)):
        _history[room].append(relayed)
        for ws in list(_sockets[room]):
            await ws.send_bytes(relayed)
    async with _changed:
        _changed.notify_all()


@app.websocket("/rooms/{room}/ws")
async def room_socket(websocket: WebSocket, room: str) -> None:
    await websocket.accept()
    await websocket.send_bytes(frame(JOINED, zlib.compress(room.encode())))
    _sockets[room].add(websocket)
    try:
        while True:
            data = await websocket.receive_bytes()
            kind, length = HEAD.unpack_from(data)
            if kind == SAY and length == len(data) - HEAD.size:
                await _relay(room, data[HEAD.size :])
    except WebSocketDisconnect:
        _sockets[room].discard(websocket)


@app.get("/rooms/{room}/since/{n}")
async def since(room: str, n: int, wait: float = 0) -> Response:
    history = _history[room]
    if wait and n >= len(history):
        async with _changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_changed.wait_for(lambda: len(history) > n), wait)
    body = struct.pack("!Q", len(history)) + b"".join(history[n:])
    return Response(body, media_type="application/octet-stream")
