"""The raw load-generator WebSocket client: handshake, counting, pings, closes (no sockets)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import cast

import pytest

from pushbench.drivers.rawws import RawClient
from pushbench.drivers.wsframes import (
    CloseCode,
    FrameReader,
    Opcode,
    encode_frame,
    encode_server_frame,
    parse_close,
)
from pushbench.drivers.wshandshake import accept_key


@pytest.mark.parametrize(
    "answer",
    [b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n", b"HTTP/1.1 101 OK\r\n\r\n"],
)
def test_handshake_answer_after_the_waiter_was_cancelled_is_ignored(answer: bytes) -> None:
    """A scenario that gives up cancels subscribers still waiting on their handshake; the
    server's answer arriving afterwards must not raise InvalidStateError in the event loop."""

    async def scenario() -> bool:
        client = RawClient("127.0.0.1:1", "/ws", None)
        client.opened.cancel()  # what cancelling the task awaiting it (``open_raw``) does
        client.data_received(answer)
        return client.opened.cancelled()

    assert asyncio.run(scenario())


class _Transport:
    """Collects what the client writes; enough of an asyncio transport for RawClient."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        self.closed = True


def _opened(on_message: Callable[[bytes], None] | None = None) -> tuple[RawClient, _Transport]:
    client = RawClient("127.0.0.1:1", "/ws", None, on_message)
    transport = _Transport()
    client.connection_made(cast(asyncio.Transport, transport))
    key = re.search(rb"Sec-WebSocket-Key: (\S+)", transport.written[0])
    assert key is not None
    client.data_received(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + f"Sec-WebSocket-Accept: {accept_key(key[1].decode())}\r\n\r\n".encode()
    )
    assert client.opened.done()
    return client, transport


@pytest.mark.parametrize("handing_over", [False, True])
def test_frames_are_counted_pings_answered_and_a_close_echoed(handing_over: bool) -> None:
    async def scenario() -> None:
        messages: list[bytes] = []
        client, transport = _opened(messages.append if handing_over else None)
        client.data_received(
            encode_server_frame(Opcode.TEXT, b"a")
            + encode_server_frame(Opcode.PING, b"p")
            + encode_server_frame(Opcode.BINARY, b"b")
        )
        assert client.frames == 2
        assert messages == ([b"a", b"b"] if handing_over else [])
        pong = FrameReader(masked=True)
        pong.feed(transport.written[-1])
        assert pong.next() == (Opcode.PONG, b"p")
        client.data_received(encode_server_frame(Opcode.CLOSE, b"\x03\xe9bye"))
        assert client.close_code == 1001
        assert transport.closed

    asyncio.run(scenario())


def test_a_server_breaking_the_protocol_gets_its_connection_failed() -> None:
    async def scenario() -> None:
        client, transport = _opened()
        client.data_received(encode_frame(Opcode.TEXT, b"masked by the server"))
        assert client.protocol_error is not None
        assert "masked" in client.protocol_error
        close = FrameReader(masked=True)
        close.feed(transport.written[-1])
        message = close.next()
        assert message is not None
        assert parse_close(message[1])[0] == CloseCode.PROTOCOL_ERROR
        assert transport.closed

    asyncio.run(scenario())
