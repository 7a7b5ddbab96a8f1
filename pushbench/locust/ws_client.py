"""A blocking WebSocket client over plain sockets: cooperative under gevent, so inside Locust.

Locust monkey-patches the standard library's sockets, so blocking calls here yield to the other
users instead of blocking the process (an asyncio client cannot run inside Locust). All protocol
work is in :mod:`pushbench.drivers.wshandshake` and the frame codec
:mod:`pushbench.drivers.wsframes` (with :mod:`pushbench.drivers.wsdeflate` when
permessage-deflate is offered: :mod:`pushbench.harness.client_deflate`); this module only moves
bytes, and counts those it received (``received_wire_bytes``: measured, not estimated).

Under gevent a connection waits for readability *before* reading. A client that has just sent a
request never finds the answer already there, and gevent's own ``recv`` would first fail with
``EAGAIN``, raise and catch an exception, then wait: one wasted syscall per round trip, ~10 % of
a Locust user's CPU per echo. Without gevent (plain threads), sockets simply block.
"""

from __future__ import annotations

import functools
import socket
import ssl
from collections.abc import Callable
from types import TracebackType
from typing import Any
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
from pushbench.harness.client_deflate import client_deflate
from pushbench.harness.client_tls import client_ssl

__all__ = ["ConnectionClosed", "WebSocket", "connect"]

_RECV_SIZE = 65536


class ConnectionClosed(Exception):
    """The connection is closed; ``code`` and ``reason`` come from the close frame, if any.

    ``code`` is 1006 when the TCP connection ended without a close frame.
    """

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"WebSocket closed with code {code}" + (f": {reason}" if reason else ""))
        self.code = code
        self.reason = reason


class WebSocket:
    """An open client connection. Not thread-safe: one greenlet reads, any may send."""

    __slots__ = (
        "_closed",
        "_readable",
        "_reader",
        "_recv",
        "_send",
        "deflate",
        "received_bytes",
        "received_wire_bytes",
        "sock",
    )

    def __init__(
        self, sock: socket.socket, reader: FrameReader, deflate: PerMessageDeflate | None = None
    ) -> None:
        self.sock = sock
        self._reader = reader
        self.deflate = deflate
        """The negotiated permessage-deflate state; None: frames go uncompressed."""
        # TLS: decrypted bytes may wait inside the SSL object while the descriptor is not
        # readable, and the raw socket underneath carries ciphertext, so a TLS socket takes
        # the plain blocking calls (gevent's cooperate on their own).
        self._readable = None if isinstance(sock, ssl.SSLSocket) else _Readable.for_socket(sock)
        # Bound methods cached: they are called once or twice per message. Under gevent, the
        # real (non-blocking) socket underneath: the readiness wait is done beforehand, so
        # gevent's Python-level wrappers would only add a frame per call.
        raw = getattr(sock, "_sock", None) if self._readable is not None else None
        self._recv: Callable[[int], bytes] = raw.recv if raw is not None else sock.recv
        self._send: Callable[[bytes], int] = raw.send if raw is not None else sock.send
        self._closed = False
        self.received_bytes = 0
        """Payload bytes of every data message received (inflated, if compressed)."""
        self.received_wire_bytes = 0
        """WebSocket bytes received after the handshake: frames as they crossed the socket."""

    def send_text(self, text: str) -> None:
        """Send one text message."""
        deflate = self.deflate
        frame = (
            encode_text(text.encode()) if deflate is None else deflate.encode_text(text.encode())
        )
        try:
            sent = self._send(frame)
        except BlockingIOError:  # the send buffer is full: wait for room, cooperatively
            sent = 0
        except OSError as exc:
            self._close_socket(send_code=None)
            raise ConnectionClosed(CloseCode.ABNORMAL, f"{type(exc).__name__}: {exc}") from None
        if sent < len(frame):
            self._sendall(frame[sent:])

    def send_bytes(self, data: bytes) -> None:
        """Send one binary message."""
        deflate = self.deflate
        self._sendall(
            encode_frame(Opcode.BINARY, data)
            if deflate is None
            else deflate.encode(Opcode.BINARY, data)
        )

    def _sendall(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            self._close_socket(send_code=None)
            raise ConnectionClosed(CloseCode.ABNORMAL, f"{type(exc).__name__}: {exc}") from None

    def recv(self) -> str | bytes:
        """The next data message (``str`` for text); answers pings while waiting.

        Raises:
            ConnectionClosed: The server closed the connection (or it broke).
            ProtocolError: The server broke the protocol (the connection is then closed).
        """
        reader = self._reader
        while True:
            message = reader.next()
            if message is None:
                self._fill()
                continue
            opcode, payload = message
            if opcode == Opcode.TEXT:
                self.received_bytes += len(payload)
                try:
                    return payload.decode()
                except UnicodeDecodeError:
                    self._fail(CloseCode.INVALID_PAYLOAD, "invalid UTF-8 in a text message")
            elif opcode == Opcode.BINARY:
                self.received_bytes += len(payload)
                return payload
            elif opcode == Opcode.PING:
                self._sendall(encode_frame(Opcode.PONG, payload))
            elif opcode == Opcode.CLOSE:
                code, reason = parse_close(payload)
                self._close_socket(
                    send_code=CloseCode.NORMAL if code == CloseCode.NO_STATUS else code
                )
                raise ConnectionClosed(code, reason)
            # PONG: nothing to do

    def recv_text(self) -> str:
        """The next message, which must be text."""
        message = self.recv()
        if not isinstance(message, str):
            raise ProtocolError("expected a text message, got binary")
        return message

    def _fill(self) -> None:
        if self._closed:
            raise ConnectionClosed(CloseCode.ABNORMAL, "connection already closed")
        readable = self._readable
        try:
            while True:
                if readable is not None:
                    readable.wait()
                try:
                    data = self._recv(_RECV_SIZE)
                    break
                except BlockingIOError:  # woken without data after all: wait again
                    continue
        except OSError as exc:
            self._close_socket(send_code=None)
            raise ConnectionClosed(CloseCode.ABNORMAL, f"{type(exc).__name__}: {exc}") from None
        if not data:
            self._close_socket(send_code=None)
            raise ConnectionClosed(
                CloseCode.ABNORMAL, "TCP connection closed without a close frame"
            )
        self.received_wire_bytes += len(data)
        self._reader.feed(data)

    def _fail(self, code: int, reason: str) -> None:
        self._close_socket(send_code=code, reason=reason)
        raise ProtocolError(reason)

    def _close_socket(self, send_code: int | None, reason: str = "") -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if send_code is not None:
                self.sock.send(encode_close(send_code, reason))
        except OSError:
            pass
        finally:
            if self._readable is not None:
                self._readable.close()
            self.sock.close()

    def close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """Send a close frame and close the socket (without waiting for the server's echo).

        A load generator closing thousands of sockets at the end of a run must not wait a
        round trip for each; the server tolerates the TCP close that follows the close frame.
        """
        self._close_socket(send_code=code, reason=reason)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called or the connection ended."""
        return self._closed

    def __enter__(self) -> WebSocket:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def connect(
    url: str,
    timeout_s: float | None = 30.0,
    headers: dict[str, str] | None = None,
    max_size: int = 16 * 1024 * 1024,
    deflate: bool | None = None,
) -> WebSocket:
    """Open ``ws://host:port/path?query``, or ``wss://`` (TLS, verified against
    ``PUSHBENCH_CA_FILE``: :mod:`pushbench.harness.client_tls`).

    ``timeout_s`` bounds the TCP connect and the handshake; the open connection then blocks
    without a timeout (a subscriber may legitimately wait minutes for a message). ``deflate``:
    offer permessage-deflate (and refuse a server that declines it); None: as
    ``PUSHBENCH_WS_PER_MESSAGE_DEFLATE`` says.

    Raises:
        HandshakeError: The server refused the upgrade (``status`` has its HTTP status).
        OSError: The TCP connection failed or timed out.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise ValueError(f"only ws:// and wss:// URLs are supported, not {url!r}")
    tls = client_ssl(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if tls is not None else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    offer = client_deflate() if deflate is None else deflate
    if offer:
        headers = {**(headers or {}), **offer_headers()}
    sock = socket.create_connection((host, port), timeout=timeout_s)
    try:
        # Small frames must leave now, not when Nagle's algorithm decides.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:  # the TLS handshake, within the same timeout
            sock = tls.wrap_socket(sock, server_hostname=host)
        key = new_key()
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        sock.sendall(handshake_request(netloc, target, key, headers))
        received = b""
        while True:
            data = sock.recv(_RECV_SIZE)
            if not data:
                raise HandshakeError("connection closed during the handshake")
            received += data
            result = parse_handshake(received, key, offered_extensions=offer)
            if result is not None:
                break
        negotiated = negotiate(result[0]) if offer else None
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    reader = FrameReader(max_size, deflate=negotiated)
    if result[1]:
        reader.feed(result[1])
    ws = WebSocket(sock, reader, negotiated)
    ws.received_wire_bytes = len(result[1])
    return ws


class _Readable:
    """Waits until a gevent socket is readable, on one io watcher kept for the connection."""

    __slots__ = ("_hub", "_watcher", "wait")

    def __init__(self, hub: Any, watcher: Any) -> None:
        self._hub = hub
        self._watcher = watcher
        # A C-level partial, not a method: one Python frame less per message.
        self.wait: Callable[[], None] = functools.partial(hub.wait, watcher)
        """Block this greenlet until the socket has data (or an error) to read."""

    @classmethod
    def for_socket(cls, sock: socket.socket) -> _Readable | None:
        """A waiter if ``sock`` is a gevent socket, else None (plain sockets just block)."""
        if not type(sock).__module__.startswith("gevent"):
            return None
        import gevent  # type: ignore[import-untyped]

        hub = gevent.get_hub()
        return cls(hub, hub.loop.io(sock.fileno(), 1))

    def close(self) -> None:
        """Free the watcher, first raising ``OSError`` in a greenlet still waiting on it."""
        cancel: Callable[..., Any] = self._hub.cancel_wait
        cancel(self._watcher, OSError("connection closed"), True)
