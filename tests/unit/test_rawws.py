"""The raw load-generator WebSocket client's handshake handling (no sockets)."""

from __future__ import annotations

import asyncio

import pytest

from pushbench.drivers.rawws import RawClient


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
