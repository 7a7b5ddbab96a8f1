"""permessage-deflate (RFC 7692) for the one WebSocket codec, sans I/O.

What a client offers (:data:`OFFER`), how it reads the server's answer (:func:`negotiate`) and
one connection's compression state (:class:`PerMessageDeflate`): each outgoing data message is
compressed as one raw-deflate stream flushed with ``Z_SYNC_FLUSH``, its trailing ``00 00 ff ff``
stripped, and sent with RSV1 set on its first frame; each incoming message with RSV1 is
inflated with those four bytes put back. With context takeover (the default) one compressor and
one decompressor live as long as the connection, so a message that repeats the last one costs a
few bytes; ``*_no_context_takeover`` in the server's answer resets the side it names per message.

:class:`~pushbench.drivers.wsframes.FrameReader` takes a :class:`PerMessageDeflate` and then
accepts RSV1 on the first frame of a data message (without one it refuses RSV1 as today); its
uncompressed path is unchanged, so a client that negotiated nothing pays nothing for this.

Like the frame codec it imports no event loop or socket (``zlib`` only): the asyncio clients,
the gevent Locust client and the unit tests share it.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from pushbench.drivers.wsframes import Opcode, ProtocolError, encode_frame
from pushbench.drivers.wshandshake import HandshakeError

__all__ = [
    "EXTENSIONS_HEADER",
    "OFFER",
    "DeflateParams",
    "PerMessageDeflate",
    "negotiate",
    "offer_headers",
    "parse_response",
]

#: The request header that offers extensions (RFC 6455 section 9.1).
EXTENSIONS_HEADER: Final = "Sec-WebSocket-Extensions"
#: What pushbench's clients offer: permessage-deflate, and that the server may bound the
#: client's window (``client_max_window_bits`` without a value: RFC 7692 section 7.1.2.2).
OFFER: Final = "permessage-deflate; client_max_window_bits"
#: The empty stored block ``Z_SYNC_FLUSH`` ends with; stripped on the wire (RFC 7692 7.2.1).
TAIL: Final = b"\x00\x00\xff\xff"
_NAME: Final = "permessage-deflate"
_WINDOW_BITS: Final = range(8, 16)


@dataclass(frozen=True, slots=True)
class DeflateParams:
    """What the server's answer settled (RFC 7692 section 7.1); absent parameters default."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    #: LZ77 window of the server's compressor (2**bits bytes): the client's decompressor.
    server_max_window_bits: int = 15
    #: LZ77 window the client's compressor may use.
    client_max_window_bits: int = 15


def offer_headers() -> dict[str, str]:
    """The request header offering :data:`OFFER`."""
    return {EXTENSIONS_HEADER: OFFER}


def parse_response(value: str) -> DeflateParams:
    """The server's ``Sec-WebSocket-Extensions`` answer to :data:`OFFER`, checked.

    Raises:
        HandshakeError: Another extension, more than one, or a parameter RFC 7692 does not
            allow in an answer (unknown, repeated, or a window size outside 8..15).
    """
    extensions = [part.strip() for part in value.split(",") if part.strip()]
    if len(extensions) != 1:
        raise HandshakeError(f"server answered extensions {value!r} to one offer")
    name, *params = (part.strip() for part in extensions[0].split(";"))
    if name.lower() != _NAME:
        raise HandshakeError(f"server negotiated {name!r}, which this client did not offer")
    settled: dict[str, bool | int] = {}
    for param in params:
        key, equals, raw = (part.strip() for part in param.partition("="))
        key = key.lower()
        if key in settled:
            raise HandshakeError(f"permessage-deflate parameter {key} given twice")
        if key in ("server_no_context_takeover", "client_no_context_takeover") and not equals:
            settled[key] = True
        elif key in ("server_max_window_bits", "client_max_window_bits") and equals:
            bits = raw.strip('"')
            if not bits.isdigit() or int(bits) not in _WINDOW_BITS:
                raise HandshakeError(f"permessage-deflate {key}={raw} is not 8..15")
            settled[key] = int(bits)
        else:
            raise HandshakeError(f"permessage-deflate parameter {param!r} not allowed in an answer")
    if settled.get("client_max_window_bits") == 8:
        # zlib's raw deflate cannot compress with a 256-byte window (madler/zlib#171).
        raise HandshakeError("permessage-deflate client_max_window_bits=8: zlib cannot honour it")
    return DeflateParams(**settled)  # type: ignore[arg-type]


def negotiate(headers: Mapping[str, str], *, required: bool = True) -> PerMessageDeflate | None:
    """The compression state the 101 answer's headers (lower-case names) settled, for a client
    that offered :data:`OFFER`; None when the server declined and ``required`` is False.

    Raises:
        HandshakeError: A bad answer, or the server declined and ``required``: a run labelled
            compressed must not quietly measure uncompressed frames.
    """
    value = headers.get(EXTENSIONS_HEADER.lower(), "")
    if not value:
        if required:
            raise HandshakeError(
                "the server declined permessage-deflate (it answered no "
                "Sec-WebSocket-Extensions); run it with --ws-per-message-deflate"
            )
        return None
    return PerMessageDeflate(parse_response(value))


class PerMessageDeflate:
    """One connection's permessage-deflate state, for a client (default) or a server end.

    ``client=False`` swaps the roles (what the server answered applies to the other side): the
    tests use it to play a server with this very code.
    """

    __slots__ = (
        "_compress_bits",
        "_compressor",
        "_decompress_bits",
        "_decompressor",
        "_reset_compressor",
        "_reset_decompressor",
        "params",
    )

    def __init__(self, params: DeflateParams, *, client: bool = True) -> None:
        self.params = params
        if client:
            self._compress_bits = params.client_max_window_bits
            self._decompress_bits = params.server_max_window_bits
            self._reset_compressor = params.client_no_context_takeover
            self._reset_decompressor = params.server_no_context_takeover
        else:
            self._compress_bits = params.server_max_window_bits
            self._decompress_bits = params.client_max_window_bits
            self._reset_compressor = params.server_no_context_takeover
            self._reset_decompressor = params.client_no_context_takeover
        self._compressor = self._new_compressor()
        self._decompressor = zlib.decompressobj(wbits=-self._decompress_bits)

    def _new_compressor(self) -> zlib._Compress:
        # zlib cannot compress with wbits=-8 (a 256-byte window); 9 is what it uses instead
        # anyway, and a server that allows 9 or more (every one but an answer of 8) accepts it.
        return zlib.compressobj(wbits=-max(self._compress_bits, 9))

    def compress(self, payload: bytes) -> bytes:
        """One whole message's payload as it goes on the wire (RSV1 set by the caller)."""
        if self._reset_compressor:
            self._compressor = self._new_compressor()
        compressor = self._compressor
        data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
        return data[:-4]  # a sync flush always ends with TAIL

    def decompress(self, data: bytes, max_size: int) -> bytes:
        """One whole compressed message's payload (its frames joined), inflated.

        Raises:
            ProtocolError: Not valid deflate data, or more than ``max_size`` bytes once
                inflated (a compression bomb is refused before it is inflated whole).
        """
        if self._reset_decompressor:
            self._decompressor = zlib.decompressobj(wbits=-self._decompress_bits)
        decompressor = self._decompressor
        try:
            message = decompressor.decompress(data + TAIL, max_size)
        except zlib.error as exc:
            raise ProtocolError(f"permessage-deflate data does not inflate ({exc})") from None
        if decompressor.unconsumed_tail:
            raise ProtocolError(f"message inflates to more than max_size ({max_size} bytes)")
        return message

    def encode(self, opcode: Opcode, payload: bytes, mask: bytes | None = None) -> bytes:
        """One masked client frame carrying ``payload`` compressed (RSV1 set)."""
        return encode_frame(opcode, self.compress(payload), mask=mask, rsv1=True)

    def encode_text(self, payload: bytes) -> bytes:
        """:meth:`encode` of a text message: what :func:`~pushbench.drivers.wsframes.
        encode_text` is to an uncompressed connection."""
        return encode_frame(Opcode.TEXT, self.compress(payload), rsv1=True)
