"""A Python adapter: how pushbench speaks ``examples/binary_relay_app.py``'s binary envelope.

Name it where a profile goes::

    pushbench compare --app examples.binary_relay_app:app \\
        --profile examples.binary_relay_adapter:BinaryRelayAdapter
    python -m pushbench.locust --app examples.binary_relay_app:app \\
        --profile examples.binary_relay_adapter:BinaryRelayAdapter

Everything measured stays pushbench's (the open-loop schedule, latency from each token's
scheduled time, integrity per publisher); the adapter only says where to connect, how the
payload token goes into a frame, and how to get tokens back out of what the app sends.
"""

from __future__ import annotations

import struct
import zlib

from pushbench.core.kinds import Transport
from pushbench.core.payload_token import Token, find_tokens
from pushbench.core.target_adapter import Adapter, PollPage, PublishTarget

SAY, RELAYED = 1, 2
HEAD = struct.Struct("!BI")  # type, length of what follows
CURSOR = struct.Struct("!Q")


class BinaryRelayAdapter(Adapter):
    """WebSocket push and both polls of the binary relay; publishing by binary frames."""

    name = "binary-relay"
    transports = (Transport.WS, Transport.SHORT_POLL, Transport.LONG_POLL)

    def ws_subscribe_path(self, room: str, client: int) -> str:
        return f"/rooms/{room}/ws"

    def publish_target(self, room: str, client: int) -> PublishTarget:
        return PublishTarget("ws", f"/rooms/{room}/ws")

    def encode_publish(self, token: str, payload: str, room: str, client: int) -> bytes:
        body = zlib.compress(f"{token} {payload}".encode())
        return HEAD.pack(SAY, len(body)) + body

    def find_tokens(self, data: str | bytes) -> list[Token]:
        """The tokens of every relayed frame in ``data`` (a pushed frame, or one poll item);
        other frames (``joined``) hold none, so they count as unexpected."""
        raw = data.encode() if isinstance(data, str) else data
        tokens: list[Token] = []
        offset = 0
        while offset + HEAD.size <= len(raw):
            kind, length = HEAD.unpack_from(raw, offset)
            start = offset + HEAD.size
            offset = start + length
            if kind == RELAYED:  # 8-byte message number, then the compressed text
                try:
                    tokens += find_tokens(zlib.decompress(raw[start + CURSOR.size : offset]))
                except zlib.error:
                    continue  # not a message of ours: the frame counts as unexpected
        return tokens

    def poll_path(
        self, transport: Transport, room: str, client: int, cursor: str, wait_s: float | None
    ) -> str:
        if transport == Transport.LONG_POLL:
            return f"/rooms/{room}/since/{cursor}?wait={20 if wait_s is None else wait_s:g}"
        return f"/rooms/{room}/since/{cursor}"

    def parse_poll(self, transport: Transport, body: bytes) -> PollPage:
        """The next cursor, then the relayed frames: each frame one item."""
        if len(body) < CURSOR.size:
            raise ValueError(f"{len(body)} bytes: no cursor")
        (following,) = CURSOR.unpack_from(body)
        items: list[str | bytes] = []
        offset = CURSOR.size
        while offset + HEAD.size <= len(body):
            _, length = HEAD.unpack_from(body, offset)
            end = offset + HEAD.size + length
            items.append(body[offset:end])
            offset = end
        return PollPage(items, str(following))
