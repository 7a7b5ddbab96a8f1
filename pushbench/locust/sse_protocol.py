"""Server-Sent Events over HTTP/1.1, sans I/O: response head, chunked body, event stream.

A streaming response must be handed to the parser the moment bytes arrive — a client library
that buffers reads (``read(1024)`` waiting for 1024 bytes) adds its own delay to every latency.
So the SSE user reads its socket directly and feeds these parsers.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ChunkedDecoder",
    "Event",
    "EventParser",
    "HttpError",
    "ResponseHead",
    "parse_response_head",
    "sse_request",
]


class HttpError(Exception):
    """A malformed HTTP response (or one this client does not handle)."""


@dataclass(frozen=True, slots=True)
class ResponseHead:
    """Status and headers (lower-case names) of an HTTP response."""

    status: int
    reason: str
    headers: dict[str, str]

    @property
    def chunked(self) -> bool:
        """Whether the body uses chunked transfer encoding."""
        return "chunked" in self.headers.get("transfer-encoding", "").lower()


@dataclass(frozen=True, slots=True)
class Event:
    """One dispatched SSE event; ``id`` is the last event id seen, as SSE defines it."""

    data: str
    event: str = "message"
    id: str = ""


def sse_request(
    host: str,
    target: str,
    last_event_id: int | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """The ``GET`` that opens an event stream (resuming after ``last_event_id`` if given),
    with any further ``headers`` (``Authorization``)."""
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {host}",
        "Accept: text/event-stream",
        "Cache-Control: no-cache",
    ]
    if last_event_id is not None:
        lines.append(f"Last-Event-ID: {last_event_id}")
    lines.extend(f"{name}: {value}" for name, value in (headers or {}).items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def parse_response_head(data: bytes) -> tuple[ResponseHead, bytes] | None:
    """The response head and the body bytes after it; None while the head is incomplete.

    Raises:
        HttpError: Not an HTTP/1.x status line, or a head over 64 KiB.
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        if len(data) > 65536:
            raise HttpError("response head longer than 64 KiB")
        return None
    status_line, *lines = data[:end].decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise HttpError(f"not an HTTP/1.x status line: {status_line!r}")
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return ResponseHead(int(code), reason, headers), data[end + 4 :]


class ChunkedDecoder:
    """Decodes a ``Transfer-Encoding: chunked`` body incrementally.

    Example:
        >>> decoder = ChunkedDecoder()
        >>> decoder.feed(b"5\\r\\nhello\\r\\n0\\r\\n\\r\\n")
        b'hello'
        >>> decoder.done
        True
    """

    __slots__ = ("_buffer", "_remaining", "done")

    def __init__(self) -> None:
        self._buffer = b""
        self._remaining = -1  # bytes left in the current chunk; -1: expecting a size line
        self.done = False
        """The terminating zero-size chunk has arrived."""

    def feed(self, data: bytes) -> bytes:
        """Body bytes decoded from ``data`` (and whatever was buffered before).

        Raises:
            HttpError: A malformed chunk size or chunk terminator.
        """
        buffer = self._buffer + data if self._buffer else data
        out: list[bytes] = []
        while buffer and not self.done:
            if self._remaining < 0:
                line_end = buffer.find(b"\r\n")
                if line_end < 0:
                    if len(buffer) > 1024:
                        raise HttpError("chunk size line longer than 1 KiB")
                    break
                size_text = buffer[:line_end].split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise HttpError(f"bad chunk size {size_text!r}") from None
                buffer = buffer[line_end + 2 :]
                if size == 0:
                    self.done = True
                    break
                self._remaining = size
            elif self._remaining > 0:
                piece = buffer[: self._remaining]
                out.append(piece)
                self._remaining -= len(piece)
                buffer = buffer[len(piece) :]
            else:  # the CRLF after a chunk's data
                if len(buffer) < 2:
                    break
                if buffer[:2] != b"\r\n":
                    raise HttpError("chunk data not followed by CRLF")
                buffer = buffer[2:]
                self._remaining = -1
        self._buffer = buffer
        return b"".join(out)


class EventParser:
    """Turns an event-stream body into events (the WHATWG "event stream interpretation").

    Example:
        >>> parser = EventParser()
        >>> parser.feed(b"id: 7\\ndata: hi\\n\\n")
        [Event(data='hi', event='message', id='7')]
    """

    __slots__ = ("_data", "_event", "_partial", "last_id", "retry_ms")

    def __init__(self) -> None:
        self._partial = b""
        self._data: list[str] = []
        self._event = ""
        self.last_id = ""
        """The last event id set by the stream (what ``Last-Event-ID`` resumes from)."""
        self.retry_ms: int | None = None

    def feed(self, data: bytes) -> list[Event]:
        """Events completed by ``data``; comments and unknown fields are skipped."""
        text = self._partial + data if self._partial else data
        # A CR at the very end may be the first half of a CRLF split across two reads.
        held = b""
        if text.endswith(b"\r"):
            text, held = text[:-1], b"\r"
        lines = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        self._partial = lines.pop() + held
        events: list[Event] = []
        for raw in lines:
            if not raw:
                if self._data:
                    events.append(
                        Event("\n".join(self._data), self._event or "message", self.last_id)
                    )
                self._data = []
                self._event = ""
                continue
            line = raw.decode()
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "data":
                self._data.append(value)
            elif field == "event":
                self._event = value
            elif field == "id":
                if "\0" not in value:
                    self.last_id = value
            elif field == "retry" and value.isdigit():
                self.retry_ms = int(value)
        return events
