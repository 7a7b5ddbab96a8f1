"""permessage-deflate in the frame codec (RFC 7692): the RFC's own examples, round trips against
websockets' ``PerMessageDeflate`` both ways (frames compressed here inflate there and the other
way round, over sequences of messages so context takeover is exercised), the handshake answer's
parameters, and what stays refused. No sockets.
"""

from __future__ import annotations

import itertools
import random
import zlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.extensions.permessage_deflate import PerMessageDeflate as WsDeflate
from websockets.frames import Frame
from websockets.frames import Opcode as WsOpcode
from websockets.streams import StreamReader

from pushbench.drivers.wsdeflate import (
    OFFER,
    DeflateParams,
    PerMessageDeflate,
    negotiate,
    offer_headers,
    parse_response,
)
from pushbench.drivers.wsframes import (
    FrameReader,
    Opcode,
    ProtocolError,
    encode_frame,
    encode_server_frame,
)
from pushbench.drivers.wshandshake import HandshakeError, parse_handshake

DATA = [Opcode.TEXT, Opcode.BINARY]

params = st.builds(
    DeflateParams,
    server_no_context_takeover=st.booleans(),
    client_no_context_takeover=st.booleans(),
    server_max_window_bits=st.integers(9, 15),
    client_max_window_bits=st.integers(9, 15),
)


def message_of(size: int, seed: int, compressible: bool) -> bytes:
    """``size`` bytes: random (incompressible) or text repeating a few words."""
    rng = random.Random(seed)
    if not compressible:
        return rng.randbytes(size)
    words = [b"push", b"poll", b"room", b"hello ", b"42,"]
    return b"".join(rng.choice(words) for _ in range(size))[:size]


messages = st.lists(
    st.tuples(
        st.sampled_from(DATA),
        st.one_of(st.sampled_from([0, 1, 125, 126, 2044, 70_000]), st.integers(0, 600)),
        st.integers(),
        st.booleans(),
    ).map(lambda t: (t[0], message_of(t[1], t[2], t[3]))),
    min_size=1,
    max_size=6,
)


def websockets_end(p: DeflateParams, *, server: bool) -> WsDeflate:
    """websockets' extension for one end of a connection settled with ``p``."""
    if server:
        return WsDeflate(
            p.client_no_context_takeover,
            p.server_no_context_takeover,
            p.client_max_window_bits,
            p.server_max_window_bits,
        )
    return WsDeflate(
        p.server_no_context_takeover,
        p.client_no_context_takeover,
        p.server_max_window_bits,
        p.client_max_window_bits,
    )


def read_all(reader: FrameReader, data: bytes, cuts: list[int]) -> list[tuple[Opcode, bytes]]:
    """Feed ``data`` split at ``cuts``; every message parsed along the way."""
    out: list[tuple[Opcode, bytes]] = []
    bounds = [0, *sorted(cut % (len(data) + 1) for cut in cuts), len(data)]
    for start, end in itertools.pairwise(bounds):
        reader.feed(data[start:end])
        while (message := reader.next()) is not None:
            out.append(message)
    return out


def test_the_rfc_7692_examples() -> None:
    """Section 7.2.3.1 and 7.2.3.2: "Hello" compressed, then again with the context kept."""
    server = PerMessageDeflate(DeflateParams(), client=False)
    first = encode_server_frame(Opcode.TEXT, server.compress(b"Hello"), rsv1=True)
    second = encode_server_frame(Opcode.TEXT, server.compress(b"Hello"), rsv1=True)
    assert first == bytes.fromhex("c107f248cdc9c90700")
    assert second == bytes.fromhex("c105f200110000")
    reader = FrameReader(deflate=PerMessageDeflate(DeflateParams()))
    assert read_all(reader, first + second, []) == [(Opcode.TEXT, b"Hello")] * 2
    # 7.2.3.1's fragmented form: the compressed bytes across two frames, RSV1 on the first.
    reader = FrameReader(deflate=PerMessageDeflate(DeflateParams()))
    fragmented = bytes.fromhex("4103f248cd") + bytes.fromhex("8004c9c90700")
    assert read_all(reader, fragmented, []) == [(Opcode.TEXT, b"Hello")]


def test_no_context_takeover_compresses_every_message_afresh() -> None:
    server = PerMessageDeflate(DeflateParams(server_no_context_takeover=True), client=False)
    assert server.compress(b"Hello") == server.compress(b"Hello") == bytes.fromhex("f248cdc9c90700")


@settings(max_examples=150, deadline=None)
@given(settled=params, sent=messages, seed=st.integers())
def test_client_messages_inflate_in_websockets(
    settled: DeflateParams, sent: list[tuple[Opcode, bytes]], seed: int
) -> None:
    """What a pushbench client sends, websockets' server end parses and inflates."""
    ours = PerMessageDeflate(settled)
    theirs = websockets_end(settled, server=True)
    stream = StreamReader()
    for opcode, payload in sent:
        stream.feed_data(ours.encode(opcode, payload, mask=random.Random(seed).randbytes(4)))
    for opcode, payload in sent:
        parser = Frame.parse(stream.read_exact, mask=True, extensions=[theirs])
        with pytest.raises(StopIteration) as done:
            next(parser)
        frame: Frame = done.value.value
        assert (Opcode(frame.opcode), bytes(frame.data)) == (opcode, payload)


@settings(max_examples=150, deadline=None)
@given(
    settled=params,
    sent=messages,
    fragment_at=st.lists(st.integers(1, 1 << 16), max_size=3),
    cuts=st.lists(st.integers(0, 1 << 20), max_size=8),
)
def test_websockets_server_messages_inflate_here(
    settled: DeflateParams,
    sent: list[tuple[Opcode, bytes]],
    fragment_at: list[int],
    cuts: list[int],
) -> None:
    """What websockets' server end compresses (whole, or in fragments, with pings between
    them), the client's reader inflates, split anywhere."""
    theirs = websockets_end(settled, server=True)
    wire = b""
    for opcode, payload in sent:
        bounds = sorted({0, *(at % (len(payload) + 1) for at in fragment_at), len(payload)})
        pieces = [payload[a:b] for a, b in itertools.pairwise(bounds)] or [b""]
        for index, piece in enumerate(pieces):
            kind = WsOpcode(opcode) if index == 0 else WsOpcode.CONT
            last = index == len(pieces) - 1
            wire += Frame(kind, piece, last).serialize(mask=False, extensions=[theirs])
            if not last:
                wire += Frame(WsOpcode.PING, b"p").serialize(mask=False)
    reader = FrameReader(deflate=PerMessageDeflate(settled))
    got = [m for m in read_all(reader, wire, cuts) if m[0] is not Opcode.PING]
    assert got == sent
    assert reader.buffered == 0


@settings(max_examples=100, deadline=None)
@given(settled=params, sent=messages)
def test_a_server_end_of_this_codec_reads_its_client_end(
    settled: DeflateParams, sent: list[tuple[Opcode, bytes]]
) -> None:
    client = PerMessageDeflate(settled)
    reader = FrameReader(masked=True, deflate=PerMessageDeflate(settled, client=False))
    wire = b"".join(client.encode(opcode, payload) for opcode, payload in sent)
    assert read_all(reader, wire, []) == sent


def test_compressible_messages_shrink_and_random_ones_do_not() -> None:
    client = PerMessageDeflate(DeflateParams())
    text = b"x" * 1024
    noise = random.Random(1).randbytes(1024)
    assert len(client.compress(text)) < 20
    assert len(client.compress(noise)) >= len(noise)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("permessage-deflate", DeflateParams()),
        (
            "permessage-deflate; client_max_window_bits=12; server_max_window_bits=12",
            DeflateParams(server_max_window_bits=12, client_max_window_bits=12),
        ),
        (
            "permessage-deflate;server_no_context_takeover; client_no_context_takeover",
            DeflateParams(server_no_context_takeover=True, client_no_context_takeover=True),
        ),
        (
            'Permessage-Deflate; client_max_window_bits="10"',
            DeflateParams(client_max_window_bits=10),
        ),
    ],
)
def test_the_servers_answer_settles_the_parameters(answer: str, expected: DeflateParams) -> None:
    assert parse_response(answer) == expected


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ("x-webkit-deflate-frame", "did not offer"),
        ("permessage-deflate, permessage-deflate", "to one offer"),
        ("permessage-deflate; client_max_window_bits", "not allowed in an answer"),
        ("permessage-deflate; server_max_window_bits=16", "not 8..15"),
        ("permessage-deflate; server_max_window_bits=abc", "not 8..15"),
        ("permessage-deflate; client_max_window_bits=8", "zlib cannot"),
        ("permessage-deflate; server_no_context_takeover=1", "not allowed in an answer"),
        ("permessage-deflate; mystery", "not allowed in an answer"),
        ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", "twice"),
    ],
)
def test_bad_answers_are_refused(answer: str, error: str) -> None:
    with pytest.raises(HandshakeError, match=error):
        parse_response(answer)


def test_negotiation_needs_the_servers_consent_unless_optional() -> None:
    assert negotiate({}, required=False) is None
    with pytest.raises(HandshakeError, match="declined permessage-deflate"):
        negotiate({})
    settled = negotiate({"sec-websocket-extensions": "permessage-deflate"})
    assert settled is not None
    assert settled.params == DeflateParams()
    assert offer_headers() == {"Sec-WebSocket-Extensions": OFFER}


def test_the_handshake_takes_an_extension_only_when_one_was_offered() -> None:
    from pushbench.drivers.wshandshake import accept_key

    key = "dGhlIHNhbXBsZSBub25jZQ=="
    answer = (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(key)}\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
    ).encode()
    with pytest.raises(HandshakeError, match="did not offer"):
        parse_handshake(answer, key)
    parsed = parse_handshake(answer, key, offered_extensions=True)
    assert parsed is not None
    assert parsed[0]["sec-websocket-extensions"] == "permessage-deflate"


def _compressed_frame(first: int, payload: bytes = b"Hello") -> bytes:
    data = PerMessageDeflate(DeflateParams(), client=False).compress(payload)
    return bytes((first, len(data))) + data


@pytest.mark.parametrize(
    ("reader", "data", "error"),
    [
        (lambda: FrameReader(), _compressed_frame(0xC1), "reserved bits set"),
        (lambda: FrameReader(deflate=_client()), _compressed_frame(0xE1), "reserved bits set"),
        (lambda: FrameReader(deflate=_client()), _compressed_frame(0xC9), "RSV1 set on a control"),
        (
            lambda: FrameReader(deflate=_client()),
            bytes.fromhex("0103") + b"abc" + _compressed_frame(0xC0),
            "RSV1 set on a continuation",
        ),
        (lambda: FrameReader(deflate=_client()), _compressed_frame(0xC3), "unknown data opcode"),
        (lambda: FrameReader(deflate=_client()), bytes.fromhex("c103ffffff"), "does not inflate"),
        (
            lambda: FrameReader(100, deflate=_client()),
            _compressed_frame(0xC1, b"x" * 101),
            "inflates to more than max_size",
        ),
        (
            lambda: FrameReader(deflate=_client()),
            bytes.fromhex("0103") + b"abc" + _compressed_frame(0xC1),
            "fragmented message is unfinished",
        ),
    ],
)
def test_what_stays_refused(reader: Callable[[], FrameReader], data: bytes, error: str) -> None:
    with pytest.raises(ProtocolError, match=error):
        read_all(reader(), data, [])


def _client() -> PerMessageDeflate:
    return PerMessageDeflate(DeflateParams())


def test_uncompressed_messages_still_pass_on_a_compressed_connection() -> None:
    """RFC 7692 lets either end send a message uncompressed (RSV1 clear)."""
    reader = FrameReader(deflate=_client())
    wire = encode_server_frame(Opcode.TEXT, b"plain") + _compressed_frame(0xC1)
    assert read_all(reader, wire, []) == [(Opcode.TEXT, b"plain"), (Opcode.TEXT, b"Hello")]
    assert reader.skip_data(encode_server_frame(Opcode.TEXT, b"x")) == 1


def test_rsv1_frames_are_not_counted_by_skip_data_but_read_by_next() -> None:
    reader = FrameReader(deflate=_client())
    assert reader.skip_data(_compressed_frame(0xC1)) == 0
    assert reader.next() == (Opcode.TEXT, b"Hello")


def test_rsv1_is_set_on_the_first_frame_only() -> None:
    first = encode_frame(Opcode.TEXT, b"a", fin=False, rsv1=True)
    assert first[0] == 0x41
    assert encode_frame(Opcode.TEXT, b"a", rsv1=True)[0] == 0xC1
    assert encode_server_frame(Opcode.BINARY, b"a", rsv1=True)[0] == 0xC2
    assert zlib.decompressobj(wbits=-15).decompress(_compressed_frame(0xC1)[2:] + b"\0\0\xff\xff")
