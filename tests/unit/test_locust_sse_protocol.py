"""The SSE user's sans-I/O HTTP parsers: response head, chunked body, event stream."""

from __future__ import annotations

import pytest

from pushbench.locust.sse_protocol import (
    ChunkedDecoder,
    Event,
    EventParser,
    HttpError,
    parse_response_head,
    sse_request,
)


def chunked(*pieces: bytes) -> bytes:
    return b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces) + b"0\r\n\r\n"


def test_sse_request_resumes_with_last_event_id() -> None:
    assert b"Last-Event-ID" not in sse_request("h:1", "/rooms/r/events")
    request = sse_request("h:1", "/rooms/r/events", last_event_id=42)
    assert request.startswith(b"GET /rooms/r/events HTTP/1.1\r\nHost: h:1\r\n")
    assert b"Accept: text/event-stream\r\n" in request
    assert b"Last-Event-ID: 42\r\n" in request


def test_response_head_is_parsed_once_complete() -> None:
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\nbody"
    assert parse_response_head(data[:15]) is None
    result = parse_response_head(data)
    assert result is not None
    head, rest = result
    assert (head.status, head.reason, head.headers["x-a"], head.chunked) == (200, "OK", "b", True)
    assert rest == b"body"


def test_response_head_refuses_what_is_not_http() -> None:
    with pytest.raises(HttpError):
        parse_response_head(b"SSH-2.0-OpenSSH\r\n\r\n")


@pytest.mark.parametrize("step", [1, 2, 3, 7, 1000])
def test_chunked_decoder_handles_any_split(step: int) -> None:
    body = chunked(b"hello ", b"chunked world")
    decoder = ChunkedDecoder()
    out = b"".join(decoder.feed(body[i : i + step]) for i in range(0, len(body), step))
    assert out == b"hello chunked world"
    assert decoder.done


def test_chunked_decoder_ignores_extensions_and_refuses_garbage() -> None:
    assert ChunkedDecoder().feed(b"3;name=value\r\nabc\r\n") == b"abc"
    with pytest.raises(HttpError, match="chunk size"):
        ChunkedDecoder().feed(b"zz\r\n")
    with pytest.raises(HttpError, match="CRLF"):
        ChunkedDecoder().feed(b"1\r\naXY")


def test_event_parser_follows_the_event_stream_format() -> None:
    parser = EventParser()
    stream = (
        b"retry: 1000\n\n"
        b": keep-alive\n\n"
        b'id: 1\ndata: {"a":1}\n\n'
        b'event: missed\ndata: {"missed":3}\n\n'
        b"data: line one\ndata: line two\n\n"
    )
    assert parser.feed(stream) == [
        Event('{"a":1}', "message", "1"),
        Event('{"missed":3}', "missed", "1"),
        Event("line one\nline two", "message", "1"),
    ]
    assert parser.retry_ms == 1000
    assert parser.last_id == "1"


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_event_parser_accepts_every_newline_split_anywhere(newline: bytes) -> None:
    stream = b"id: 7" + newline + b"data: x" + newline + newline
    for cut in range(len(stream) + 1):
        parser = EventParser()
        events = parser.feed(stream[:cut]) + parser.feed(stream[cut:])
        if newline == b"\r":  # a lone CR at the end waits for the next byte to be sure
            events += parser.feed(b"\n")
        assert events == [Event("x", "message", "7")], cut
