"""The Locust users' sans-I/O WebSocket client protocol, checked against websockets' framing."""

from __future__ import annotations

import pytest
from websockets.frames import Frame
from websockets.frames import Opcode as WsOpcode
from websockets.streams import StreamReader

from pushbench.drivers.wsframes import (
    FrameReader,
    Opcode,
    ProtocolError,
    encode_close,
    encode_frame,
    parse_close,
)
from pushbench.drivers.wshandshake import (
    HandshakeError,
    accept_key,
    handshake_request,
    parse_handshake,
)


def server_frame(opcode: WsOpcode, data: bytes, fin: bool = True) -> bytes:
    """A frame as a server sends it, serialised by the websockets library."""
    return Frame(opcode, data, fin=fin).serialize(mask=False)


def parse_client_frame(data: bytes) -> Frame:
    """Parse one of our client frames with websockets' server-side parser (mask required)."""
    reader = StreamReader()
    reader.feed_data(data)
    parser = Frame.parse(reader.read_exact, mask=True)
    with pytest.raises(StopIteration) as done:
        next(parser)
    frame: Frame = done.value.value
    return frame


def test_accept_key_matches_rfc6455_example() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_handshake_request_is_an_upgrade() -> None:
    request = handshake_request("127.0.0.1:8001", "/ws?x=1", "a2V5", {"Origin": "http://o"})
    lines = request.decode().split("\r\n")
    assert lines[0] == "GET /ws?x=1 HTTP/1.1"
    assert "Host: 127.0.0.1:8001" in lines
    assert "Upgrade: websocket" in lines
    assert "Sec-WebSocket-Key: a2V5" in lines
    assert "Origin: http://o" in lines
    assert request.endswith(b"\r\n\r\n")


def _response(key: str, status: str = "101 Switching Protocols", extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(key)}\r\n{extra}\r\n"
    ).encode()


def test_parse_handshake_waits_for_the_whole_head_and_keeps_what_follows() -> None:
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    response = _response(key) + b"\x81\x02hi"
    assert parse_handshake(response[:20], key) is None
    result = parse_handshake(response, key)
    assert result is not None
    headers, rest = result
    assert headers["upgrade"] == "websocket"
    assert rest == b"\x81\x02hi"


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (b"HTTP/1.1 403 Forbidden\r\n\r\n", "instead of 101"),
        (_response("other"), "Sec-WebSocket-Accept"),
        (_response("k", extra="Sec-WebSocket-Extensions: permessage-deflate\r\n"), "extension"),
    ],
)
def test_parse_handshake_refuses_bad_upgrades(response: bytes, message: str) -> None:
    with pytest.raises(HandshakeError, match=message):
        parse_handshake(response, "k")


def test_refused_handshake_carries_the_status() -> None:
    with pytest.raises(HandshakeError) as refused:
        parse_handshake(b"HTTP/1.1 404 Not Found\r\n\r\n", "k")
    assert refused.value.status == 404


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_client_frames_are_masked_and_parse_with_websockets(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    data = encode_frame(Opcode.BINARY, payload)
    assert data[1] & 0x80, "client frames must be masked"
    frame = parse_client_frame(data)
    assert frame.opcode == WsOpcode.BINARY
    assert frame.data == payload
    assert frame.fin


def test_close_frame_round_trip() -> None:
    frame = parse_client_frame(encode_close(1001, "going away"))
    assert frame.opcode == WsOpcode.CLOSE
    assert parse_close(bytes(frame.data)) == (1001, "going away")
    assert parse_close(b"") == (1005, "")
    with pytest.raises(ProtocolError):
        parse_close(b"\x03")


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536])
def test_reader_parses_server_frames_fed_byte_by_byte(size: int) -> None:
    payload = b"y" * size
    data = server_frame(WsOpcode.TEXT, payload) + server_frame(WsOpcode.BINARY, b"z")
    reader = FrameReader()
    messages = []
    for index in range(len(data)):
        reader.feed(data[index : index + 1])
        while (message := reader.next()) is not None:
            messages.append(message)
    assert messages == [(Opcode.TEXT, payload), (Opcode.BINARY, b"z")]
    assert reader.buffered == 0


def test_reader_reassembles_fragments_around_a_ping() -> None:
    reader = FrameReader()
    reader.feed(
        server_frame(WsOpcode.TEXT, b"hel", fin=False)
        + server_frame(WsOpcode.PING, b"p")
        + server_frame(WsOpcode.CONT, b"lo", fin=False)
        + server_frame(WsOpcode.CONT, b"!", fin=True)
    )
    assert reader.next() == (Opcode.PING, b"p")
    assert reader.next() == (Opcode.TEXT, b"hello!")
    assert reader.next() is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (encode_frame(Opcode.TEXT, b"x", mask=b"mask"), "masked"),  # a fixed key: stable test ids
        (b"\xc1\x01x", "reserved bits"),
        (b"\x89\x7e\x00\x7e" + b"p" * 126, "125 bytes"),
        (b"\x09\x01p", "fragmented control"),
        (b"\x80\x01x", "continuation"),
        (b"\x01\x01a\x81\x01b", "unfinished"),
        (b"\x83\x00", "unknown data opcode"),
        (b"\x8b\x00", "unknown control opcode"),
    ],
)
def test_reader_refuses_protocol_violations(data: bytes, message: str) -> None:
    reader = FrameReader()
    reader.feed(data)
    with pytest.raises(ProtocolError, match=message):
        _read_all(reader)


def _read_all(reader: FrameReader) -> None:
    while reader.next() is not None:
        pass


def test_reader_refuses_messages_over_max_size_before_they_arrive() -> None:
    reader = FrameReader(max_size=100)
    reader.feed(server_frame(WsOpcode.BINARY, b"b" * 1000)[:10])
    with pytest.raises(ProtocolError, match="max_size"):
        reader.next()
    fragmented = FrameReader(max_size=3)
    fragmented.feed(
        server_frame(WsOpcode.TEXT, b"ab", fin=False) + server_frame(WsOpcode.CONT, b"cd")
    )
    with pytest.raises(ProtocolError, match="max_size"):
        fragmented.next()
