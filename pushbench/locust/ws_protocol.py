"""A minimal RFC 6455 client protocol, sans I/O: bytes in, messages out; messages in, bytes out.

Why not websocket-client or websockets' ``ClientProtocol``? Both work under gevent, but a load
generator spends most of its CPU in exactly this code: on a 2-core machine websocket-client
managed ~20k echo round trips/s per process (~27k/s with UTF-8 validation skipped) and
websockets' sans-I/O ``ClientProtocol`` ~36k/s. This module keeps to what a benchmark client
needs — no extensions, no subprotocols — and takes the common case (a whole unfragmented frame
per read) in a handful of byte operations, while still enforcing the protocol: server frames
must be unmasked, control frames short and unfragmented, text valid UTF-8 (decoded in C),
reserved bits clear, messages bounded.

Masking keys come from :func:`random.randbytes`, not ``os.urandom``: RFC 6455 wants them
unpredictable to protect *caching proxies*, which have no place between a benchmark and its
server, and the syscall would cost more than the rest of the frame.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import os
import random
import struct
from typing import Final

__all__ = [
    "GUID",
    "MAX_CONTROL_PAYLOAD",
    "FrameReader",
    "HandshakeError",
    "Opcode",
    "ProtocolError",
    "accept_key",
    "encode_close",
    "encode_frame",
    "encode_text",
    "handshake_request",
    "new_key",
    "parse_close",
    "parse_handshake",
]

#: The GUID RFC 6455 appends to the client key to compute ``Sec-WebSocket-Accept``.
GUID: Final = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: Largest payload of a control frame (close, ping, pong).
MAX_CONTROL_PAYLOAD: Final = 125

_randbytes = random.randbytes

try:  # websockets' C helper, ~10x faster than the pure-Python XOR below for large payloads
    from websockets.speedups import apply_mask as _apply_mask
except ImportError:  # pragma: no cover - websockets is a pushbench dependency

    def _apply_mask(data: bytes | bytearray | memoryview, mask: bytes | bytearray) -> bytes:
        size = len(data)
        key = int.from_bytes((bytes(mask) * (size // 4 + 1))[:size], "little")
        return (int.from_bytes(data, "little") ^ key).to_bytes(size, "little")


class Opcode(enum.IntEnum):
    """Frame opcodes (RFC 6455 section 5.2)."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


class ProtocolError(Exception):
    """The peer broke RFC 6455; the connection must be failed (close code 1002)."""


class HandshakeError(Exception):
    """The server did not accept the WebSocket upgrade; ``status`` is its HTTP status or 0."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def new_key() -> str:
    """A fresh ``Sec-WebSocket-Key``: 16 random bytes, base64."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value a server must answer ``key`` with."""
    digest = hashlib.sha1((key + GUID).encode("ascii"), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


def handshake_request(
    host: str, target: str, key: str, headers: dict[str, str] | None = None
) -> bytes:
    """The HTTP/1.1 upgrade request for ``target`` (path and query) on ``host`` (with port)."""
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def parse_handshake(data: bytes, key: str) -> tuple[dict[str, str], bytes] | None:
    """Check the server's answer to the upgrade request.

    Args:
        data: Everything received so far.
        key: The ``Sec-WebSocket-Key`` that was sent.

    Returns:
        None while the header block is incomplete; then the headers (lower-case names) and
        the bytes that followed them (the first frames, if the server was quick).

    Raises:
        HandshakeError: Not a ``101``, or not a valid WebSocket upgrade.
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        if len(data) > 65536:
            raise HandshakeError("handshake response headers too long")
        return None
    status_line, *header_lines = data[:end].decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    if status != 101:
        raise HandshakeError(f"server answered {status_line!r} instead of 101", status)
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("upgrade", "").lower() != "websocket":
        raise HandshakeError("missing 'Upgrade: websocket' in the 101 response", status)
    if "upgrade" not in headers.get("connection", "").lower():
        raise HandshakeError("missing 'Connection: Upgrade' in the 101 response", status)
    if headers.get("sec-websocket-accept") != accept_key(key):
        raise HandshakeError("wrong Sec-WebSocket-Accept in the 101 response", status)
    if headers.get("sec-websocket-extensions"):
        raise HandshakeError("server negotiated an extension this client did not offer", status)
    return headers, data[end + 4 :]


# The two header bytes of every final text frame short enough for a 7-bit length.
_TEXT_HEADERS = [bytes((0x81, 0x80 | size)) for size in range(126)]


def encode_text(payload: bytes) -> bytes:
    """One masked, final text frame: :func:`encode_frame` for the hot path of a benchmark."""
    mask = _randbytes(4)
    size = len(payload)
    if size < 126:
        return _TEXT_HEADERS[size] + mask + _apply_mask(payload, mask)
    return encode_frame(Opcode.TEXT, payload)


def encode_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """One masked client frame."""
    size = len(payload)
    first = (0x80 if fin else 0) | opcode
    mask = _randbytes(4)
    if size < 126:
        header = bytes((first, 0x80 | size))
    elif size < 65536:
        header = struct.pack("!BBH", first, 0xFE, size)
    else:
        header = struct.pack("!BBQ", first, 0xFF, size)
    return header + mask + _apply_mask(payload, mask)


def encode_close(code: int = 1000, reason: str = "") -> bytes:
    """A masked close frame with ``code`` and ``reason`` (cut to fit a control frame)."""
    body = struct.pack("!H", code) + reason.encode()[: MAX_CONTROL_PAYLOAD - 2]
    return encode_frame(Opcode.CLOSE, body)


def parse_close(payload: bytes) -> tuple[int, str]:
    """(code, reason) of a close frame's payload; 1005 when it carries no code."""
    if not payload:
        return 1005, ""
    if len(payload) == 1:
        raise ProtocolError("close frame with a 1-byte payload")
    (code,) = struct.unpack_from("!H", payload)
    try:
        return code, payload[2:].decode()
    except UnicodeDecodeError:
        raise ProtocolError("close reason is not valid UTF-8") from None


class FrameReader:
    """Turns the bytes a server sends into whole messages: ``(opcode, payload)``.

    Data messages come out reassembled (opcode ``TEXT`` or ``BINARY``, never
    ``CONTINUATION``); control frames come out as they arrive, even between the fragments of a
    data message. UTF-8 validation of text is left to the caller's ``payload.decode()``.

    Example:
        >>> reader = FrameReader()
        >>> reader.feed(b"\\x81\\x02hi")
        >>> reader.next()
        (1, b'hi')
    """

    __slots__ = ("_buffer", "_fragments", "_fragments_opcode", "_fragments_size", "max_size")

    def __init__(self, max_size: int = 16 * 1024 * 1024) -> None:
        self.max_size = max_size
        """Largest message accepted, in bytes; a bigger one is a :class:`ProtocolError`."""
        self._buffer = b""
        self._fragments: list[bytes] = []
        self._fragments_opcode = 0
        self._fragments_size = 0

    def feed(self, data: bytes) -> None:
        """Add received bytes."""
        # The common case is one whole frame per read and an empty buffer: no copy at all.
        self._buffer = self._buffer + data if self._buffer else data

    @property
    def buffered(self) -> int:
        """Bytes received but not parsed into a message yet."""
        return len(self._buffer) + self._fragments_size

    def next(self) -> tuple[int, bytes] | None:
        """The next complete message or control frame, or None until more bytes are fed.

        Raises:
            ProtocolError: The server broke the protocol; do not read any further.
        """
        while True:
            buffer = self._buffer
            available = len(buffer)
            if available < 2:
                return None
            first, second = buffer[0], buffer[1]
            size = second & 0x7F
            start = 2
            if size >= 126:
                start = 4 if size == 126 else 10
                if available < start:
                    return None
                size = int.from_bytes(buffer[2:start], "big")
            end = start + size
            if end > available:
                if second & 0x80 or first & 0x70:
                    self._check_header(first, second, size)
                if size > self.max_size:
                    raise ProtocolError(f"message of {size} bytes exceeds max_size")
                return None
            if second & 0x80 or first & 0x70:
                self._check_header(first, second, size)
            payload = buffer[start:end]
            self._buffer = buffer[end:] if end < available else b""
            opcode = first & 0x0F
            fin = first & 0x80
            if fin and (opcode == Opcode.TEXT or opcode == Opcode.BINARY):
                if self._fragments:
                    raise ProtocolError("new data frame while a fragmented message is unfinished")
                if size > self.max_size:
                    raise ProtocolError(f"message of {size} bytes exceeds max_size")
                return opcode, payload
            message = self._slow_path(opcode, fin, payload)
            if message is not None:
                return message

    def _check_header(self, first: int, second: int, size: int) -> None:
        if second & 0x80:
            raise ProtocolError("server frames must not be masked")
        raise ProtocolError(f"reserved bits set ({first & 0x70:#x}) without an extension")

    def _slow_path(self, opcode: int, fin: int, payload: bytes) -> tuple[int, bytes] | None:
        """Control frames and fragments."""
        if opcode >= Opcode.CLOSE:
            if opcode not in (Opcode.CLOSE, Opcode.PING, Opcode.PONG):
                raise ProtocolError(f"unknown control opcode {opcode:#x}")
            if not fin:
                raise ProtocolError("fragmented control frame")
            if len(payload) > MAX_CONTROL_PAYLOAD:
                raise ProtocolError("control frame payload longer than 125 bytes")
            return opcode, payload
        if opcode == Opcode.CONTINUATION:
            if not self._fragments:
                raise ProtocolError("continuation frame without a message to continue")
        elif opcode in (Opcode.TEXT, Opcode.BINARY):
            if self._fragments:
                raise ProtocolError("new data frame while a fragmented message is unfinished")
            self._fragments_opcode = opcode
        else:
            raise ProtocolError(f"unknown data opcode {opcode:#x}")
        self._fragments_size += len(payload)
        if self._fragments_size > self.max_size:
            raise ProtocolError(f"message of more than {self.max_size} bytes exceeds max_size")
        self._fragments.append(payload)
        if not fin:
            return None
        message = b"".join(self._fragments)
        self._fragments.clear()
        self._fragments_size = 0
        return self._fragments_opcode, message
