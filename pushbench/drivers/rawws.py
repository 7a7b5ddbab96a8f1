"""A minimal WebSocket client for load generation: handshake, prebuilt frames, frame callbacks.

A load generator must cost far less than the server per message, or it measures itself. A general
client (``websockets``) validates, queues and hands every message through a task switch: ~25k
frames/s per core here, which saturated the generator before the server. This one parses frames
straight out of ``data_received`` and calls back (counting, or handing the payload over), answers
pings and closes. It relies on what the reference server sends: unfragmented, uncompressed
frames (no extension is negotiated).
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

from pushbench.harness.client_auth import auth_headers

__all__ = ["RawClient", "masked_frame", "masked_text_frame", "open_raw"]


def masked_text_frame(text: str) -> bytes:
    """One complete masked text frame, as a client must send it."""
    return masked_frame(0x1, text.encode())


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """One complete masked frame (FIN set) with ``opcode``."""
    mask = os.urandom(4)
    length = len(payload)
    first = 0x80 | opcode
    if length < 126:
        header = struct.pack("!BB", first, 0x80 | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", first, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, length)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + masked


class RawClient(asyncio.Protocol):
    """Counts complete frames received; ``on_frame`` (if any) runs once per frame."""

    def __init__(
        self,
        host: str,
        target: str,
        on_frame: Callable[[RawClient], None] | None,
        on_message: Callable[[bytes], None] | None = None,
    ) -> None:
        self.frames = 0
        self.closed = False
        #: The close code the server sent, if it closed the connection.
        self.close_code: int | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._on_message = on_message
        #: Set by a closed-loop sender: when its one outstanding frame left (perf_counter_ns).
        self.sent_ns = 0
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._on_frame = on_frame
        self._buffer = bytearray()
        self._handshake_done = False
        key = base64.b64encode(os.urandom(16)).decode()
        extra = "".join(f"{name}: {value}\r\n" for name, value in auth_headers().items())
        self._request = (
            f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"{extra}\r\n"
        ).encode()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self._request)

    def send(self, frame: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(frame)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if not self._handshake_done:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status_line = bytes(buffer[: buffer.find(b"\r\n")])
            del buffer[: end + 4]
            # ``opened`` is already done (cancelled) when the task awaiting it was cancelled:
            # a scenario giving up on its other subscribers, say.
            if b" 101 " not in status_line:
                if not self.opened.done():
                    self.opened.set_exception(
                        ConnectionError(f"handshake refused: {status_line!r}")
                    )
                self.close()
                return
            self._handshake_done = True
            if not self.opened.done():
                self.opened.set_result(None)
        # Walk complete frames; keep a partial one for the next chunk.
        offset = 0
        size = len(buffer)
        frames = 0
        on_frame = self._on_frame
        on_message = self._on_message
        while size - offset >= 2:
            opcode = buffer[offset] & 0x0F
            length = buffer[offset + 1] & 0x7F
            start = offset + 2
            if length == 126:
                if size - offset < 4:
                    break
                length = (buffer[start] << 8) | buffer[start + 1]
                start += 2
            elif length == 127:
                if size - offset < 10:
                    break
                length = int.from_bytes(buffer[start : start + 8], "big")
                start += 8
            if start + length > size:
                break
            offset = start + length
            if opcode in (0x1, 0x2):
                frames += 1
                if on_message is not None:
                    on_message(bytes(buffer[start:offset]))
                if on_frame is not None:
                    on_frame(self)
            elif opcode == 0x9:  # ping: uvicorn closes peers that never answer its keep-alive
                self.send(masked_frame(0xA, bytes(buffer[start:offset])))
            elif opcode == 0x8:  # close: answer it, then hang up
                if length >= 2:
                    self.close_code = (buffer[start] << 8) | buffer[start + 1]
                self.send(masked_frame(0x8, bytes(buffer[start : start + 2])))
                self.close()
                break
        del buffer[:offset]
        self.frames += frames

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.lost.done():
            self.lost.set_result(None)
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during handshake"))


async def open_raw(
    url: str,
    on_frame: Callable[[RawClient], None] | None = None,
    on_message: Callable[[bytes], None] | None = None,
) -> RawClient:
    """Connect and complete the handshake to a ``ws://host:port/path?query`` URL."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(
        lambda: RawClient(f"{host}:{port}", target, on_frame, on_message), host, port
    )
    await protocol.opened
    return protocol
