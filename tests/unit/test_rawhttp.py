"""The raw keep-alive HTTP client's response framing, fed bytes by hand (no sockets)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pushbench.drivers.rawhttp import RawHttpClient, get_request
from pushbench.drivers.round_trips import RoundTrips

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-type: application/json\r\n\r\nhello"
MISSING = b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\nno"


class _Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        self.closed = True


def _client(samples: RoundTrips | None = None) -> tuple[RawHttpClient, _Transport]:
    async def make() -> RawHttpClient:
        return RawHttpClient(b"GET / HTTP/1.1\r\n\r\n", samples)

    client = asyncio.run(make())
    transport = _Transport()
    client.connection_made(transport)  # type: ignore[arg-type]
    return client, transport


@pytest.mark.parametrize("chunk", [1, 7, 64, 10_000])
def test_responses_split_anywhere_are_counted_once_each(chunk: int) -> None:
    client, transport = _client()
    stream = OK * 3 + MISSING + OK
    for start in range(0, len(stream), chunk):
        client.data_received(stream[start : start + chunk])
    assert (client.ok, client.failed, client.error) == (4, 1, None)
    # One request sent again per complete response: the closed loop.
    assert len(transport.written) == 5


def test_with_samples_each_request_is_timed_from_its_send() -> None:
    """A 2xx answer is a round trip (its send time and latency), another status a failure by
    its send time; each send time is the previous answer's arrival (the closed loop)."""
    samples = RoundTrips()
    client, _ = _client(samples)
    client.start()
    first = client.sent_ns
    client.data_received(OK + MISSING)
    client.data_received(OK)
    assert len(samples.sent_ns) == len(samples.latencies_ns) == 2
    assert len(samples.failed_ns) == 1
    assert samples.sent_ns[0] == first
    # The failed request was sent when the first answer landed; the third when the second did.
    assert samples.failed_ns[0] == first + samples.latencies_ns[0]
    assert samples.sent_ns[1] >= samples.failed_ns[0]
    assert all(latency >= 0 for latency in samples.latencies_ns)
    assert client.sent_ns >= samples.sent_ns[1] + samples.latencies_ns[1]


def test_a_response_it_cannot_frame_fails_the_connection() -> None:
    client, transport = _client()
    client.data_received(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
    assert client.error == "response without Content-Length"
    assert transport.closed
    assert client.ok == 0


def test_get_request_keeps_the_query_and_headers() -> None:
    request: Any = get_request("http://127.0.0.1:8001/rooms/a/messages?after=3", {"X-A": "1"})
    assert request == (
        b"GET /rooms/a/messages?after=3 HTTP/1.1\r\nHost: 127.0.0.1:8001\r\nX-A: 1\r\n\r\n"
    )
