"""A minimal WebSocket client for load generation: handshake, prebuilt frames, frame callbacks.

A load generator must cost far less than the server per message, or it measures itself. A general
client (``websockets``) validates, queues and hands every message through a task switch: ~25k
frames/s per core here, which saturated the generator before the server. This one parses frames
straight out of ``data_received`` with the shared codec (:mod:`pushbench.drivers.wsframes`) and
calls back (counting, or handing the payload over), answers pings and closes. permessage-deflate
is offered when the run asks for it (:mod:`pushbench.harness.client_deflate`) and then read and
written by :mod:`pushbench.drivers.wsdeflate`; a server breaking the protocol gets its connection
failed (close code 1002).

Every client counts the WebSocket bytes it received after the handshake (``received_bytes``:
frame headers and payloads as they crossed the socket, compressed or not, before TLS is
added): measured, not estimated, so the bytes a delivery costs with and without
permessage-deflate come from the same count.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

from pushbench.drivers.wsdeflate import PerMessageDeflate, negotiate, offer_headers
from pushbench.drivers.wsframes import (
    CloseCode,
    FrameReader,
    Opcode,
    ProtocolError,
    encode_close,
    encode_frame,
    encode_text,
    parse_close,
)
from pushbench.drivers.wshandshake import (
    HandshakeError,
    handshake_request,
    new_key,
    parse_handshake,
)
from pushbench.harness.client_auth import auth_headers
from pushbench.harness.client_deflate import client_deflate
from pushbench.harness.client_tls import client_ssl

__all__ = ["RawClient", "open_raw"]

_TEXT = Opcode.TEXT
_BINARY = Opcode.BINARY
_PING = Opcode.PING
_CLOSE = Opcode.CLOSE


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
        #: The close code the server sent, if it closed the connection (1005: without a code).
        self.close_code: int | None = None
        #: What the server did wrong, if this client failed the connection for breaking RFC 6455.
        self.protocol_error: str | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._on_message = on_message
        #: Set by a closed-loop sender: when its one outstanding frame left (perf_counter_ns).
        self.sent_ns = 0
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._on_frame = on_frame
        self._reader = FrameReader()
        #: The handshake answer received so far; None once the upgrade is accepted.
        self._handshake: bytes | None = b""
        self._key = new_key()
        self._offer = client_deflate()
        headers = {**auth_headers(), **(offer_headers() if self._offer else {})}
        self._request = handshake_request(host, target, self._key, headers)
        #: The negotiated permessage-deflate state; None: frames go uncompressed.
        self.deflate: PerMessageDeflate | None = None
        #: WebSocket bytes received after the handshake (frames as they crossed the socket).
        self.received_bytes = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self._request)

    def send(self, frame: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(frame)

    def send_text(self, payload: bytes) -> None:
        """One text message, compressed if permessage-deflate was negotiated."""
        deflate = self.deflate
        self.send(encode_text(payload) if deflate is None else deflate.encode_text(payload))

    def data_received(self, data: bytes) -> None:
        if self._handshake is not None:
            data = self._finish_handshake(self._handshake + data)
            if not data:
                return
        self.received_bytes += len(data)
        reader = self._reader
        frames = 0
        on_frame = self._on_frame
        on_message = self._on_message
        try:
            if on_message is None:
                # Counting only: whole data frames are skipped, not sliced out (the common case).
                while True:
                    count = reader.skip_data(data)
                    data = b""
                    frames += count
                    if on_frame is not None:
                        while count:
                            on_frame(self)
                            count -= 1
                    message = reader.next()
                    if message is None:
                        break
                    opcode, payload = message
                    if opcode is _TEXT or opcode is _BINARY:  # reassembled from fragments
                        frames += 1
                        if on_frame is not None:
                            on_frame(self)
                    elif not self._control(opcode, payload):
                        break
            else:
                reader.feed(data)
                while (message := reader.next()) is not None:
                    opcode, payload = message
                    if opcode is _TEXT or opcode is _BINARY:
                        frames += 1
                        on_message(payload)
                        if on_frame is not None:
                            on_frame(self)
                    elif not self._control(opcode, payload):
                        break
        except ProtocolError as exc:
            self.protocol_error = str(exc)
            self.send(encode_close(CloseCode.PROTOCOL_ERROR, self.protocol_error))
            self.close()
        finally:
            # Added per read, after the callbacks: a fan-out pacer reads it to top its window up.
            self.frames += frames

    def _control(self, opcode: Opcode, payload: bytes) -> bool:
        """Answer a control frame; False once the connection is closing."""
        if opcode is _PING:  # uvicorn closes peers that never answer its keep-alive
            self.send(encode_frame(Opcode.PONG, payload))
        elif opcode is _CLOSE:  # answer it (echoing the code), then hang up
            self.close_code = parse_close(payload)[0]
            self.send(encode_frame(Opcode.CLOSE, payload[:2]))
            self.close()
            return False
        return True

    def _finish_handshake(self, received: bytes) -> bytes:
        """Check the upgrade answer; the bytes after it (frames), or b"" while incomplete."""
        # ``opened`` is already done (cancelled) when the task awaiting it was cancelled:
        # a scenario giving up on its other subscribers, say.
        try:
            result = parse_handshake(received, self._key, offered_extensions=self._offer)
            if result is not None and self._offer:
                self.deflate = negotiate(result[0])
                self._reader = FrameReader(deflate=self.deflate)
        except HandshakeError as exc:
            if not self.opened.done():
                self.opened.set_exception(ConnectionError(f"handshake refused: {exc}"))
            self.close()  # and stay in handshake mode: nothing after a refusal is a frame
            return b""
        if result is None:
            self._handshake = received
            return b""
        self._handshake = None
        if not self.opened.done():
            self.opened.set_result(None)
        return result[1]

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
    """Connect and complete the handshake to a ``ws://host:port/path?query`` URL (or
    ``wss://``: TLS, verified as :mod:`pushbench.harness.client_tls` says)."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    tls = client_ssl(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if tls is not None else 80)
    loop = asyncio.get_running_loop()
    # wss://: the event loop's TLS transport under the same protocol (the codec sees plaintext).
    _, protocol = await loop.create_connection(
        lambda: RawClient(f"{host}:{port}", target, on_frame, on_message),
        host,
        port,
        ssl=tls,
        server_hostname=host if tls is not None else None,
    )
    await protocol.opened
    return protocol
