"""The shared WebSocket frame codec: encode → parse round trips, split anywhere; bad input refused.

websockets' own framing is the oracle where a second opinion helps (frames it serialises parse
here, frames encoded here parse there). No sockets.
"""

from __future__ import annotations

import itertools
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.frames import Frame
from websockets.frames import Opcode as WsOpcode
from websockets.streams import StreamReader

from pushbench.drivers.wsframes import (
    MAX_CONTROL_PAYLOAD,
    ZERO_MASK,
    CloseCode,
    FrameReader,
    Opcode,
    ProtocolError,
    encode_close,
    encode_frame,
    encode_server_frame,
    encode_text,
    parse_close,
)

DATA = [Opcode.TEXT, Opcode.BINARY]
CONTROL = [Opcode.CLOSE, Opcode.PING, Opcode.PONG]
#: Where the payload length changes encoding: 7-bit up to 125, 16-bit up to 65535, then 64-bit.
BOUNDARIES = [0, 1, 125, 126, 127, 65535, 65536, 65537]

sizes = st.one_of(st.sampled_from(BOUNDARIES), st.integers(0, 300))
masks = st.one_of(st.none(), st.just(ZERO_MASK), st.binary(min_size=4, max_size=4))


def payload_of(size: int, seed: int) -> bytes:
    """Arbitrary bytes of ``size``, cheap even at 64 KiB (Hypothesis draws the seed, not bytes)."""
    return random.Random(seed).randbytes(size)


def feed_in_pieces(reader: FrameReader, data: bytes, cuts: list[int]) -> list[tuple[int, bytes]]:
    """Feed ``data`` split at ``cuts``; every message parsed along the way."""
    messages: list[tuple[int, bytes]] = []
    bounds = [0, *sorted(cut % (len(data) + 1) for cut in cuts), len(data)]
    for start, end in itertools.pairwise(bounds):
        reader.feed(data[start:end])
        while (message := reader.next()) is not None:
            messages.append(message)
    return messages


@settings(max_examples=200, deadline=None)
@given(
    opcode=st.sampled_from(DATA),
    size=sizes,
    seed=st.integers(),
    cuts=st.lists(st.integers(0, 1 << 20), max_size=8),
)
def test_server_frames_round_trip_split_at_any_byte(
    opcode: Opcode, size: int, seed: int, cuts: list[int]
) -> None:
    payload = payload_of(size, seed)
    data = encode_server_frame(opcode, payload)
    assert data == Frame(WsOpcode(opcode), payload).serialize(mask=False)
    reader = FrameReader()
    assert feed_in_pieces(reader, data, cuts) == [(opcode, payload)]
    assert reader.buffered == 0


@settings(max_examples=200, deadline=None)
@given(
    opcode=st.sampled_from(DATA),
    size=sizes,
    seed=st.integers(),
    mask=masks,
    cuts=st.lists(st.integers(0, 1 << 20), max_size=8),
)
def test_client_frames_round_trip_through_a_server_side_reader(
    opcode: Opcode, size: int, seed: int, mask: bytes | None, cuts: list[int]
) -> None:
    payload = payload_of(size, seed)
    data = encode_frame(opcode, payload, mask=mask)
    assert data[1] & 0x80, "client frames must be masked"
    assert len(data) == {0: 2, 126: 4, 127: 10}.get(data[1] & 0x7F, 2) + 4 + size
    assert feed_in_pieces(FrameReader(masked=True), data, cuts) == [(opcode, payload)]
    assert parse_with_websockets(data) == (opcode, payload)


def test_length_encodings_switch_at_the_rfc_boundaries() -> None:
    header_sizes = {
        size: len(encode_server_frame(Opcode.BINARY, b"x" * size)) - size for size in BOUNDARIES
    }
    assert header_sizes == {0: 2, 1: 2, 125: 2, 126: 4, 127: 4, 65535: 4, 65536: 10, 65537: 10}


@settings(max_examples=100, deadline=None)
@given(size=st.integers(0, 200), seed=st.integers())
def test_the_text_fast_path_is_an_ordinary_masked_text_frame(size: int, seed: int) -> None:
    payload = payload_of(size, seed)
    assert parse_with_websockets(encode_text(payload)) == (Opcode.TEXT, payload)


def test_a_zero_mask_sends_the_payload_as_is() -> None:
    assert encode_frame(Opcode.TEXT, b"hello", mask=ZERO_MASK) == b"\x81\x85" + ZERO_MASK + b"hello"
    with pytest.raises(ValueError, match="4 bytes"):
        encode_frame(Opcode.TEXT, b"hello", mask=b"\x01")


@settings(max_examples=200, deadline=None)
@given(
    opcode=st.sampled_from(DATA),
    fragments=st.lists(st.binary(max_size=40), min_size=1, max_size=6),
    pings=st.lists(st.booleans(), min_size=6, max_size=6),
    cuts=st.lists(st.integers(0, 1000), max_size=8),
)
def test_fragmented_messages_reassemble_around_control_frames(
    opcode: Opcode, fragments: list[bytes], pings: list[bool], cuts: list[int]
) -> None:
    data = b""
    expected: list[tuple[int, bytes]] = []
    for index, fragment in enumerate(fragments):
        first = index == 0
        last = index == len(fragments) - 1
        data += encode_server_frame(opcode if first else Opcode.CONTINUATION, fragment, fin=last)
        if pings[index] and not last:  # a control frame may come between fragments
            data += encode_server_frame(Opcode.PING, b"p%d" % index)
            expected.append((Opcode.PING, b"p%d" % index))
    expected.append((opcode, b"".join(fragments)))
    reader = FrameReader()
    assert feed_in_pieces(reader, data, cuts) == expected
    assert reader.buffered == 0


@settings(max_examples=100, deadline=None)
@given(opcode=st.sampled_from(CONTROL), payload=st.binary(max_size=MAX_CONTROL_PAYLOAD))
def test_control_frames_round_trip_both_ways(opcode: Opcode, payload: bytes) -> None:
    assert feed_in_pieces(FrameReader(), encode_server_frame(opcode, payload), []) == [
        (opcode, payload)
    ]
    client = encode_frame(opcode, payload)
    assert feed_in_pieces(FrameReader(masked=True), client, []) == [(opcode, payload)]


@settings(max_examples=100, deadline=None)
@given(code=st.integers(1000, 4999), reason=st.text(max_size=80))
def test_close_frames_carry_code_and_reason(code: int, reason: str) -> None:
    opcode, payload = parse_with_websockets(encode_close(code, reason))
    assert opcode == Opcode.CLOSE
    assert parse_close(payload) == (code, reason.encode()[:123].decode(errors="ignore"))
    assert parse_close(b"") == (CloseCode.NO_STATUS, "")


def test_a_long_close_reason_is_cut_to_fit_a_control_frame_on_a_character_boundary() -> None:
    frame = encode_close(CloseCode.GOING_AWAY, "x" * 500)
    assert len(frame) == 2 + 4 + MAX_CONTROL_PAYLOAD
    _, payload = parse_with_websockets(encode_close(CloseCode.GOING_AWAY, "é" * 100))
    assert parse_close(payload) == (CloseCode.GOING_AWAY, "é" * 61)


def _server(first: int, payload: bytes = b"") -> bytes:
    return bytes((first, len(payload))) + payload


@pytest.mark.parametrize(
    ("reader", "data", "message"),
    [
        (
            FrameReader(),
            encode_frame(Opcode.TEXT, b"x", mask=b"mask"),
            "server frames must not be masked",
        ),
        (FrameReader(masked=True), _server(0x81, b"x"), "client frames must be masked"),
        *[
            (FrameReader(), _server(0x81 | rsv, b"x"), "reserved bits")
            for rsv in (0x40, 0x20, 0x10)
        ],
        (FrameReader(), b"\x89\x7e\x00\x7e" + b"p" * 126, "control frame payload longer than 125"),
        (FrameReader(), b"\x88\x7f" + struct.pack("!Q", 200) + b"c" * 200, "longer than 125"),
        (FrameReader(), _server(0x09, b"p"), "fragmented control frame"),
        (FrameReader(), _server(0x80, b"x"), "continuation frame without a message"),
        (FrameReader(), _server(0x01, b"a") + _server(0x82, b"b"), "unfinished"),
        (FrameReader(), _server(0x01, b"a") + _server(0x02, b"b"), "unfinished"),
        *[(FrameReader(), _server(0x80 | op), "unknown data opcode") for op in range(3, 8)],
        *[(FrameReader(), _server(0x80 | op), "unknown control opcode") for op in range(11, 16)],
        (FrameReader(max_size=10), _server(0x82, b"b" * 11), "exceeds max_size"),
        # A 64-bit length with its most significant bit set (RFC 6455 forbids it): refused
        # from the header alone, not awaited.
        (FrameReader(), b"\x82\x7f" + struct.pack("!Q", 1 << 63), "exceeds max_size"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(
    reader: FrameReader, data: bytes, message: str
) -> None:
    reader.feed(data)
    with pytest.raises(ProtocolError, match=message):
        _read_all(reader)


def _read_all(reader: FrameReader) -> None:
    while reader.next() is not None:
        pass


def test_oversized_fragmented_messages_are_refused_as_they_grow() -> None:
    reader = FrameReader(max_size=5)
    reader.feed(_server(0x01, b"abc") + _server(0x00, b"def"))
    with pytest.raises(ProtocolError, match="max_size"):
        reader.next()


def test_invalid_close_payloads_are_refused() -> None:
    with pytest.raises(ProtocolError, match="1-byte payload"):
        parse_close(b"\x03")
    with pytest.raises(ProtocolError, match="UTF-8"):
        parse_close(struct.pack("!H", 1000) + b"\xff")


def parse_with_websockets(data: bytes) -> tuple[int, bytes]:
    """One client frame parsed by websockets' server-side parser (mask required)."""
    reader = StreamReader()
    reader.feed_data(data)
    parser = Frame.parse(reader.read_exact, mask=True)
    with pytest.raises(StopIteration) as done:
        next(parser)
    frame: Frame = done.value.value
    assert frame.fin
    return Opcode(frame.opcode), bytes(frame.data)


@settings(max_examples=200, deadline=None)
@given(
    frames=st.lists(
        st.tuples(st.sampled_from([*DATA, Opcode.PING]), st.sampled_from([0, 5, 125, 126, 300])),
        max_size=8,
    ),
    cuts=st.lists(st.integers(0, 1 << 12), max_size=6),
)
def test_skip_data_counts_what_next_would_return_and_leaves_the_rest_to_it(
    frames: list[tuple[Opcode, int]], cuts: list[int]
) -> None:
    frames = [(op, size if op in DATA else min(size, MAX_CONTROL_PAYLOAD)) for op, size in frames]
    data = b"".join(encode_server_frame(opcode, b"s" * size) for opcode, size in frames)
    reader = FrameReader()
    counted, controls = 0, []
    bounds = [0, *sorted(cut % (len(data) + 1) for cut in cuts), len(data)]
    for start, end in itertools.pairwise(bounds):
        chunk = data[start:end]
        while True:
            counted += reader.skip_data(chunk)
            chunk = b""
            message = reader.next()
            if message is None:
                break
            controls.append(message)
    assert counted == sum(opcode in DATA for opcode, _ in frames)
    assert controls == [(Opcode.PING, b"s" * size) for opcode, size in frames if opcode not in DATA]
    assert reader.buffered == 0


def test_skip_data_leaves_bad_frames_to_next_which_refuses_them() -> None:
    reader = FrameReader()
    assert reader.skip_data(_server(0x81, b"ok") + encode_frame(Opcode.TEXT, b"x")) == 1
    with pytest.raises(ProtocolError, match="must not be masked"):
        reader.next()
    fragmented = FrameReader()
    assert fragmented.skip_data(_server(0x01, b"a") + _server(0x81, b"b")) == 0
    with pytest.raises(ProtocolError, match="unfinished"):
        _read_all(fragmented)
