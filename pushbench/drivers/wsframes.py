"""The one WebSocket frame codec (RFC 6455), sans I/O: frames to bytes, bytes to messages.

Every WebSocket client pushbench drives speaks through it: the raw asyncio clients of the
capacity and push drivers (:mod:`pushbench.drivers.rawws`), the Locust users' blocking client
(:mod:`pushbench.locust.ws_client`, under gevent) and the live micro-benchmarks. It does no I/O
and imports no event loop, so each of them moves the bytes its own way.

Why hand-written and not a library's codec? A load generator spends most of its CPU right here
and must cost far less than the server per message, or it measures itself. Parsing one 64-byte
server text frame per read (the echo case), in one process on the 2-core benchmark machine:
this reader ~2.9M frames/s, ``websockets.frames.Frame.parse`` ~0.55M/s (19 %), wsproto's
``FrameProtocol`` ~0.20M/s (7 %): both libraries far outside the 5 % a library may cost. What
keeps it fast: the common case (one whole unfragmented frame per read) takes a handful of byte
operations and no copy; frames are sliced at a moving offset (a read of a thousand frames is
not copied a thousand times); :meth:`FrameReader.skip_data` counts data frames without
materialising them, for clients that only count; short text headers are precomputed; masking
is websockets' C helper, and a zero mask key (:data:`ZERO_MASK`) skips it.

It keeps to what a benchmark client needs — permessage-deflate as the one extension
(:mod:`pushbench.drivers.wsdeflate`, only when negotiated), no subprotocols — while still
enforcing the protocol: frames masked from a client and unmasked from a server, control frames
short and unfragmented, reserved bits clear (but RSV1 on the first frame of a compressed
message, when permessage-deflate was negotiated), known opcodes, messages bounded. UTF-8
validation of text is left to the caller's ``payload.decode()`` (in C, and only where the text
is read).

Masking keys come from :func:`random.randbytes`, not ``os.urandom``: RFC 6455 wants them
unpredictable to protect *caching proxies*, which have no place between a benchmark and its
server, and the syscall would cost more than the rest of the frame.
"""

from __future__ import annotations

import enum
import random
import struct
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # wsdeflate builds on this module; the reader only calls it
    from pushbench.drivers.wsdeflate import PerMessageDeflate

__all__ = [
    "MAX_CONTROL_PAYLOAD",
    "ZERO_MASK",
    "CloseCode",
    "FrameReader",
    "Opcode",
    "ProtocolError",
    "encode_close",
    "encode_frame",
    "encode_server_frame",
    "encode_text",
    "parse_close",
]

#: Largest payload of a control frame (close, ping, pong).
MAX_CONTROL_PAYLOAD: Final = 125
#: A mask key of zeros: valid (the key is the client's choice) and the payload goes out as is.
#: For prebuilt frames of large payloads, where even C masking would be the client's cost.
ZERO_MASK: Final = b"\x00\x00\x00\x00"

_randbytes = random.randbytes
_pack_16 = struct.Struct("!BBH").pack
_pack_64 = struct.Struct("!BBQ").pack

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


class CloseCode(enum.IntEnum):
    """The close codes pushbench's clients send or report (RFC 6455 section 7.4.1)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    #: Reported, never sent: the close frame carried no code.
    NO_STATUS = 1005
    #: Reported, never sent: the TCP connection ended without a close frame.
    ABNORMAL = 1006
    INVALID_PAYLOAD = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009


class ProtocolError(Exception):
    """The peer broke RFC 6455; the connection must be failed (close code 1002)."""


# Opcode by the low nibble of a frame's first byte; None for the reserved ones.
_OPCODES: Final[tuple[Opcode | None, ...]] = tuple(
    Opcode(value) if value in Opcode._value2member_map_ else None for value in range(16)
)
_TEXT: Final = Opcode.TEXT
_BINARY: Final = Opcode.BINARY
_CONTINUATION: Final = Opcode.CONTINUATION
# The two header bytes of every final, masked text frame short enough for a 7-bit length.
_TEXT_HEADERS: Final = [bytes((0x81, 0x80 | size)) for size in range(126)]


def encode_text(payload: bytes) -> bytes:
    """One masked, final text frame: :func:`encode_frame` for the hot path of a benchmark."""
    size = len(payload)
    if size < 126:
        mask = _randbytes(4)
        return _TEXT_HEADERS[size] + mask + _apply_mask(payload, mask)
    return encode_frame(_TEXT, payload)


def encode_frame(
    opcode: Opcode,
    payload: bytes,
    fin: bool = True,
    mask: bytes | None = None,
    rsv1: bool = False,
) -> bytes:
    """One masked client frame; ``mask`` is a random key unless given (:data:`ZERO_MASK`);
    ``rsv1``: the first frame of a compressed message (:mod:`pushbench.drivers.wsdeflate`)."""
    if mask is None:
        mask = _randbytes(4)
    elif len(mask) != 4:
        raise ValueError(f"a mask key is 4 bytes, not {len(mask)}")
    flags = (0xC0 if rsv1 else 0x80) if fin else (0x40 if rsv1 else 0)
    header = _header(flags | opcode, 0x80, len(payload))
    return header + mask + (payload if mask == ZERO_MASK else _apply_mask(payload, mask))


def encode_server_frame(
    opcode: Opcode, payload: bytes, fin: bool = True, rsv1: bool = False
) -> bytes:
    """One unmasked frame, as a server sends it (``rsv1``: see :func:`encode_frame`)."""
    flags = (0x80 if fin else 0) | (0x40 if rsv1 else 0)
    return _header(flags | opcode, 0, len(payload)) + payload


def _header(first: int, mask_bit: int, size: int) -> bytes:
    if size < 126:
        return bytes((first, mask_bit | size))
    if size < 65536:
        return _pack_16(first, mask_bit | 126, size)
    return _pack_64(first, mask_bit | 127, size)


def encode_close(code: int = CloseCode.NORMAL, reason: str = "") -> bytes:
    """A masked close frame with ``code`` and ``reason`` (cut to fit a control frame, on a
    character boundary: the reason must stay valid UTF-8)."""
    cut = reason.encode()[: MAX_CONTROL_PAYLOAD - 2].decode(errors="ignore")
    body = struct.pack("!H", code) + cut.encode()
    return encode_frame(Opcode.CLOSE, body)


def parse_close(payload: bytes) -> tuple[int, str]:
    """(code, reason) of a close frame's payload; 1005 when it carries no code."""
    if not payload:
        return CloseCode.NO_STATUS, ""
    if len(payload) == 1:
        raise ProtocolError("close frame with a 1-byte payload")
    (code,) = struct.unpack_from("!H", payload)
    try:
        return code, payload[2:].decode()
    except UnicodeDecodeError:
        raise ProtocolError("close reason is not valid UTF-8") from None


class FrameReader:
    """Turns received bytes into whole messages: ``(opcode, payload)``.

    Data messages come out reassembled (opcode ``TEXT`` or ``BINARY``, never
    ``CONTINUATION``); control frames come out as they arrive, even between the fragments of a
    data message. A client reads a server's frames (unmasked, the default); ``masked=True``
    reads a client's, as a server does (masked, unmasked here). ``deflate``: the connection
    negotiated permessage-deflate, so messages with RSV1 come out inflated by it.

    Example:
        >>> reader = FrameReader()
        >>> reader.feed(b"\\x81\\x02hi")
        >>> reader.next()
        (<Opcode.TEXT: 1>, b'hi')
    """

    __slots__ = (
        "_buffer",
        "_deflate",
        "_fragments",
        "_fragments_compressed",
        "_fragments_opcode",
        "_fragments_size",
        "_mask_bit",
        "_offset",
        "max_size",
    )

    def __init__(
        self,
        max_size: int = 16 * 1024 * 1024,
        *,
        masked: bool = False,
        deflate: PerMessageDeflate | None = None,
    ) -> None:
        self.max_size = max_size
        """Largest message accepted, in bytes (inflated, if compressed); a bigger one is a
        :class:`ProtocolError`."""
        self._mask_bit = 0x80 if masked else 0
        self._deflate = deflate
        self._fragments_compressed = False
        # Received bytes; those before ``_offset`` are parsed already. Frames are sliced out at
        # a moving offset, so a read carrying a thousand small frames is not copied a thousand
        # times; the buffer is empty (and the offset 0) whenever everything was parsed.
        self._buffer = b""
        self._offset = 0
        self._fragments: list[bytes] = []
        self._fragments_opcode = _TEXT
        self._fragments_size = 0

    def feed(self, data: bytes) -> None:
        """Add received bytes."""
        if self._buffer:
            self._buffer = self._buffer[self._offset :] + data
            self._offset = 0
        else:  # the common case: everything before was parsed, so no copy at all
            self._buffer = data

    @property
    def buffered(self) -> int:
        """Bytes received but not parsed into a message yet."""
        return len(self._buffer) - self._offset + self._fragments_size

    def next(self) -> tuple[Opcode, bytes] | None:
        """The next complete message or control frame, or None until more bytes are fed.

        Raises:
            ProtocolError: The peer broke the protocol; do not read any further.
        """
        while True:
            buffer = self._buffer
            offset = self._offset
            length = len(buffer)
            if length - offset < 2:
                return None
            first = buffer[offset]
            second = buffer[offset + 1]
            size = second & 0x7F
            start = offset + 2
            if size >= 126:
                start += 2 if size == 126 else 8
                if length < start:
                    return None
                size = int.from_bytes(buffer[offset + 2 : start], "big")
                if first & 0x08:
                    raise ProtocolError("control frame payload longer than 125 bytes")
                if size > self.max_size:  # refused before it arrives
                    raise ProtocolError(f"message of {size} bytes exceeds max_size")
            masked = second & 0x80
            if masked != self._mask_bit or first & 0x70:
                # Refused, unless the first frame of a compressed message: read on its own path,
                # so the uncompressed one below stays as it was.
                compressed = self._compressed(first, masked, start, size)
                if compressed is None:
                    return None
                if compressed:
                    return compressed
                continue
            if masked:
                start += 4
            end = start + size
            if end > length:
                return None
            payload = buffer[start:end]
            if masked:
                payload = _apply_mask(payload, buffer[start - 4 : start])
            if end < length:
                self._offset = end
            else:
                self._buffer = b""
                self._offset = 0
            opcode = _OPCODES[first & 0x0F]
            fin = first & 0x80
            if fin and (opcode is _TEXT or opcode is _BINARY):
                if self._fragments:
                    raise ProtocolError("new data frame while a fragmented message is unfinished")
                if size > self.max_size:
                    raise ProtocolError(f"message of {size} bytes exceeds max_size")
                return opcode, payload
            message = self._slow_path(first, opcode, payload)
            if message is not None:
                return message

    def skip_data(self, data: bytes = b"") -> int:
        """Feed ``data``, then consume the whole, final data frames at the head of the buffer
        without copying their payloads; how many there were.

        For a client that only counts what it receives (the capacity drivers' subscribers):
        no tuple, no payload, no call per frame, which is what keeps such a client cheaper than
        the server it loads. It stops at anything else — a control frame, a fragment, a partial
        or invalid frame — and leaves it to :meth:`next`, which parses or refuses it.
        """
        buffer = self._buffer[self._offset :] + data if self._buffer else data
        length = len(buffer)
        offset = 0
        count = 0
        if not self._fragments:
            mask_bit = self._mask_bit
            max_size = self.max_size
            while length - offset >= 2:
                first = buffer[offset]
                second = buffer[offset + 1]
                if (first != 0x81 and first != 0x82) or second & 0x80 != mask_bit:
                    break
                size = second & 0x7F
                start = offset + 2
                if size >= 126:
                    start += 2 if size == 126 else 8
                    if length < start:
                        break
                    size = int.from_bytes(buffer[offset + 2 : start], "big")
                    if size > max_size:
                        break
                end = start + (4 if mask_bit else 0) + size
                if end > length:
                    break
                offset = end
                count += 1
        if offset < length:
            self._buffer = buffer
            self._offset = offset
        else:
            self._buffer = b""
            self._offset = 0
        return count

    def _refuse(self, first: int, masked: int) -> None:
        if masked != self._mask_bit:
            raise ProtocolError(
                "server frames must not be masked" if masked else "client frames must be masked"
            )
        if self._deflate is None or first & 0x30:
            raise ProtocolError(f"reserved bits set ({first & 0x70:#x}) without an extension")
        opcode = _OPCODES[first & 0x0F]
        if opcode is None:
            kind = "control" if first & 0x08 else "data"
            raise ProtocolError(f"unknown {kind} opcode {first & 0x0F:#x}")
        kind = "continuation" if opcode is _CONTINUATION else "control"
        raise ProtocolError(f"RSV1 set on a {kind} frame")

    def _compressed(
        self, first: int, masked: int, start: int, size: int
    ) -> tuple[Opcode, bytes] | tuple[()] | None:
        """A frame with reserved bits, its header read up to ``start`` (where the mask key or
        payload begins): refused unless it starts a permessage-deflate message. The message
        inflated, ``()`` for a first fragment taken, None until the whole frame is here."""
        opcode = _OPCODES[first & 0x0F]
        deflate = self._deflate
        if (
            deflate is None
            or masked != self._mask_bit
            or first & 0x70 != 0x40
            or (opcode is not _TEXT and opcode is not _BINARY)
        ):
            self._refuse(first, masked)
        assert deflate is not None
        assert opcode is not None
        buffer = self._buffer
        length = len(buffer)
        if masked:
            start += 4
        end = start + size
        if end > length:
            return None
        payload = buffer[start:end]
        if masked:
            payload = _apply_mask(payload, buffer[start - 4 : start])
        if end < length:
            self._offset = end
        else:
            self._buffer = b""
            self._offset = 0
        if self._fragments:
            raise ProtocolError("new data frame while a fragmented message is unfinished")
        if size > self.max_size:
            raise ProtocolError(f"message of {size} bytes exceeds max_size")
        if first & 0x80:
            return opcode, deflate.decompress(payload, self.max_size)
        self._fragments_opcode = opcode
        self._fragments_compressed = True
        self._fragments_size = len(payload)
        self._fragments.append(payload)
        return ()

    def _slow_path(
        self, first: int, opcode: Opcode | None, payload: bytes
    ) -> tuple[Opcode, bytes] | None:
        """Control frames and fragments."""
        fin = first & 0x80
        if opcode is None:
            kind = "control" if first & 0x08 else "data"
            raise ProtocolError(f"unknown {kind} opcode {first & 0x0F:#x}")
        if opcode >= Opcode.CLOSE:
            if not fin:
                raise ProtocolError("fragmented control frame")
            return opcode, payload
        if opcode is _CONTINUATION:
            if not self._fragments:
                raise ProtocolError("continuation frame without a message to continue")
        else:
            if self._fragments:
                raise ProtocolError("new data frame while a fragmented message is unfinished")
            self._fragments_opcode = opcode
        self._fragments_size += len(payload)
        if self._fragments_size > self.max_size:
            raise ProtocolError(f"message of more than {self.max_size} bytes exceeds max_size")
        self._fragments.append(payload)
        if not fin:
            return None
        message = b"".join(self._fragments)
        self._fragments.clear()
        self._fragments_size = 0
        if self._fragments_compressed:
            self._fragments_compressed = False
            assert self._deflate is not None  # set only when it was negotiated
            message = self._deflate.decompress(message, self.max_size)
        return self._fragments_opcode, message
