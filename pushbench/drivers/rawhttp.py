"""A minimal keep-alive HTTP/1.1 client for load generation: one prebuilt request, closed loop.

The poll floor is a bare ASGI app answering tens of thousands of requests per second on one
core; a general client (aiohttp: a task switch, a response object and header parsing per
request) saturated the generator's core well below that, so the ratio "reference poll / bare
poll" measured the client. This one writes the same request bytes again as soon as a complete
response is in (``Content-Length`` framed, which is what uvicorn sends for these answers), and
counts. Anything it cannot frame (a chunked or close-delimited body) fails the connection
loudly rather than being miscounted.
"""

from __future__ import annotations

import asyncio
from typing import cast
from urllib.parse import urlsplit

from pushbench.drivers.round_trips import CLOCK, RoundTrips
from pushbench.harness.client_tls import client_ssl

__all__ = ["RawHttpClient", "get_request", "open_raw_http"]

_HEAD_END = b"\r\n\r\n"
_LENGTH = b"\r\ncontent-length:"


class RawHttpClient(asyncio.Protocol):
    """Sends ``request``, and again after each complete response; counts responses by status.

    With ``samples``, each request is also timed (:mod:`pushbench.drivers.round_trips`): a 2xx
    answer's send time and latency, another status's send time as a failure.
    """

    def __init__(self, request: bytes, samples: RoundTrips | None = None) -> None:
        self._request = request
        self._samples = samples
        #: When the outstanding request was sent (``CLOCK``, ns).
        self.sent_ns = 0
        self._buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        #: Complete responses with a 2xx status, and with any other status.
        self.ok = 0
        self.failed = 0
        self.closed = False
        #: Why the connection ended early (the server closed it, or a response it cannot frame).
        self.error: str | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)
        self.opened.set_result(None)

    def start(self) -> None:
        """Send the first request; every response then sends the next."""
        if self.transport is not None:
            self.sent_ns = CLOCK()
            self.transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while True:
            head_end = buffer.find(_HEAD_END)
            if head_end < 0:
                return
            length = self._content_length(bytes(buffer[:head_end]).lower())
            if length is None:
                self._fail("response without Content-Length")
                return
            end = head_end + 4 + length
            if len(buffer) < end:
                return
            samples = self._samples
            now = CLOCK()
            if buffer[9:10] == b"2":  # b"HTTP/1.1 200 OK": the status code's first digit
                self.ok += 1
                if samples is not None:
                    samples.latencies_ns.append(now - self.sent_ns)
                    samples.sent_ns.append(self.sent_ns)
            else:
                self.failed += 1
                if samples is not None:
                    samples.failed_ns.append(self.sent_ns)
            del buffer[:end]
            self.sent_ns = now
            if self.transport is not None and not self.closed:
                self.transport.write(self._request)

    @staticmethod
    def _content_length(head: bytes) -> int | None:
        start = head.find(_LENGTH)
        if start < 0:
            return None
        start += len(_LENGTH)
        stop = head.find(b"\r\n", start)
        try:
            return int(head[start : stop if stop >= 0 else None])
        except ValueError:
            return None

    def _fail(self, reason: str) -> None:
        self.error = reason
        self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.error = self.error or f"server closed the connection ({exc or 'EOF'})"
        self.closed = True
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(self.error))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def get_request(url: str, headers: dict[str, str] | None = None) -> bytes:
    """The bytes of one keep-alive ``GET`` of ``url``."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    return f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n{extra}\r\n".encode()


async def open_raw_http(
    url: str, headers: dict[str, str] | None = None, samples: RoundTrips | None = None
) -> RawHttpClient:
    """A connected client that will ``GET url`` in a closed loop once it is started (timing
    each request into ``samples``, if given)."""
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"{url!r}: a raw HTTP client needs a host and a port")
    loop = asyncio.get_running_loop()
    request = get_request(url, headers)
    tls = client_ssl(url)  # https://: the loop's TLS transport; the framing sees plaintext
    _, client = await loop.create_connection(
        lambda: RawHttpClient(request, samples),
        parts.hostname,
        parts.port,
        ssl=tls,
        server_hostname=parts.hostname if tls is not None else None,
    )
    await client.opened
    return client
