"""Pure encode/format paths: the envelope (stdlib json vs orjson), a poll page, SSE records, and
finding payload tokens in a frame."""

from __future__ import annotations

import json
import re

import orjson
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from pushbench.core.payload_token import Token, find_tokens, make_token
from target_app.broker import Page
from target_app.envelope import Envelope, PublishRequest, encode_envelope, parse_publish
from target_app.rooms_http import page_body
from target_app.sse import format_events

ROOM = "bench"


def _request(payload: str) -> PublishRequest:
    return PublishRequest(
        publisher="bench", seq=42, sent_ns=1_732_000_000_000_000_000, payload=payload
    )


def _stdlib_encode(message_id: int, room: str, request: PublishRequest) -> Envelope:
    # encode_envelope with the standard library: what adopting orjson is measured against.
    text = json.dumps(
        {
            "id": message_id,
            "room": room,
            "publisher": request.publisher,
            "seq": request.seq,
            "sent_ns": request.sent_ns,
            "payload": request.payload,
        },
        separators=(",", ":"),
    )
    return Envelope(message_id, room, text)


@pytest.mark.benchmark(group="envelope-encode")
@pytest.mark.parametrize("codec", ["orjson", "stdlib-json"])
def test_envelope_encode(benchmark: BenchmarkFixture, payload: str, codec: str) -> None:
    """One published message to its shared JSON text (once per message, never per subscriber)."""
    request = _request(payload)
    encode = encode_envelope if codec == "orjson" else _stdlib_encode
    envelope = benchmark(encode, 1, ROOM, request)
    assert json.loads(envelope.text)["payload"] == payload


@pytest.mark.benchmark(group="envelope-decode")
@pytest.mark.parametrize("codec", ["pydantic", "orjson", "stdlib-json"])
def test_envelope_decode(benchmark: BenchmarkFixture, payload: str, codec: str) -> None:
    """A publish frame into a value: pydantic's validated parse (what the server does) vs a
    bare ``loads`` with each JSON library (what a client reading envelopes does)."""
    frame = encode_envelope(1, ROOM, _request(payload)).text
    frame = '{"publisher":"bench","seq":42,' + frame[frame.index('"sent_ns"') :]
    decode = {"pydantic": parse_publish, "orjson": orjson.loads, "stdlib-json": json.loads}[codec]
    decoded = benchmark(decode, frame)
    assert decoded is not None


@pytest.mark.benchmark(group="short-poll-body")
@pytest.mark.parametrize("messages", [1, 100])
def test_short_poll_body(benchmark: BenchmarkFixture, payload: str, messages: int) -> None:
    """A poll answer's body from envelopes already encoded (the JSON is spliced, not re-encoded)."""
    envelopes = [encode_envelope(i, ROOM, _request(payload)) for i in range(1, messages + 1)]
    page = Page([envelope.text.encode() for envelope in envelopes], messages, 0)
    body = benchmark(page_body, ROOM, page)
    assert len(orjson.loads(body)["messages"]) == messages


@pytest.mark.benchmark(group="sse-format")
@pytest.mark.parametrize("messages", [1, 100])
def test_sse_format(benchmark: BenchmarkFixture, payload: str, messages: int) -> None:
    """One SSE chunk (``id:``/``data:`` records) for a batch taken from a subscriber's queue."""
    envelopes = [encode_envelope(i, ROOM, _request(payload)) for i in range(1, messages + 1)]
    batch = [(envelope.id, envelope.text) for envelope in envelopes]
    chunk = benchmark(format_events, batch)
    assert chunk.count(b"\n\n") == messages


# The payload token (pushbench.core.payload_token): what a receiver of an arbitrary app pays per
# frame to find the publisher's tokens, against one regex pass with a look-behind (the obvious
# way, which tests every position of the frame).
_TOKEN_FRAME = orjson.dumps(
    {"user": "bench", "text": "x" * 120 + " " + make_token("w1u3", 123_456, 9_876_543_210_123)}
)
_LOOKBEHIND = re.compile(
    rb"(?<![A-Za-z0-9_.-])pb1\.([A-Za-z0-9_-]{1,32})\.([0-9]{1,19})\.([0-9]{1,19})(?![0-9])"
)


@pytest.mark.benchmark(group="token")
def test_find_tokens_marker_scan(benchmark: BenchmarkFixture) -> None:
    found = benchmark(find_tokens, _TOKEN_FRAME)
    assert [t.seq for t in found] == [123_456]


@pytest.mark.benchmark(group="token")
def test_find_tokens_one_regex_with_lookbehind(benchmark: BenchmarkFixture) -> None:
    def scan(frame: bytes) -> list[Token]:
        return [
            Token(m[1].decode("ascii"), int(m[2]), int(m[3])) for m in _LOOKBEHIND.finditer(frame)
        ]

    found = benchmark(scan, _TOKEN_FRAME)
    assert found == find_tokens(_TOKEN_FRAME)
