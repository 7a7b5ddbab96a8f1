"""Bytes on the wire per event, *estimated* from the reference server's formats.

pushbench does not capture packets; these sizes come from the message formats and from one
request and response of each kind captured against the reference server (uvicorn 0.3x, an aiohttp
client, a 23-character room name). What is counted: message bodies, WebSocket framing, HTTP
headers and chunked encoding, and one TCP/IPv4 header (with timestamps) per message, request or
response. Not counted: TLS (~30 B per record plus handshakes), TCP acknowledgements, Ethernet
framing, and the larger headers (cookies, user agent) browsers send.

The formulas, with ``E = payload + ENVELOPE_OVERHEAD`` the envelope's JSON size:

- WebSocket delivery: ``E + frame header (2 B; 4 B above 125 B) + TCP/IP``
- SSE delivery: ``E + SSE_RECORD_OVERHEAD + TCP/IP``
- poll delivery (inside a response): ``E + 1`` (a comma)
- poll request and response: ``REQUEST_HEADERS + RESPONSE_HEADERS + POLL_BODY_OVERHEAD
  + 2 × TCP/IP`` (long polls add ``&wait=30``)
- publish (WebSocket, client to server): ``payload + PUBLISH_OVERHEAD + masked frame header
  (6 B; 8 B above 125 B) + TCP/IP``
- keep-alive: a WebSocket ping and its pong, or an SSE comment
"""

from __future__ import annotations

from typing import Final

from pushbench.core.kinds import POLLING_TRANSPORTS, Transport

__all__ = [
    "ENVELOPE_OVERHEAD",
    "FORMULAS",
    "delivery_bytes",
    "keepalive_bytes",
    "publish_bytes",
    "request_bytes",
]

#: The envelope's JSON around its payload: id, room, publisher, seq, sent_ns (measured 114 B with
#: a 23-character room and a one-digit id; ids grow).
ENVELOPE_OVERHEAD: Final = 120
#: A publish frame around its payload: publisher, seq, sent_ns, payload keys.
PUBLISH_OVERHEAD: Final = 75
#: IPv4 (20 B) + TCP (20 B) + TCP timestamps (12 B), once per message, request or response.
TCP_IP_HEADERS: Final = 52
#: ``GET /rooms/<room>/messages?after=<id>&limit=1000`` from aiohttp (measured 187 B).
REQUEST_HEADERS: Final = 190
#: uvicorn's status line, date, server, content-length and content-type (measured 126 B).
RESPONSE_HEADERS: Final = 126
#: ``{"room":...,"messages":[],"next":...,"missed":0}`` (measured 68 B).
POLL_BODY_OVERHEAD: Final = 70
#: ``id: <id>\ndata: `` and ``\n\n`` plus a chunk-size line and CRLF of chunked encoding.
SSE_RECORD_OVERHEAD: Final = 26
#: ``&wait=30`` on a long poll.
LONG_POLL_QUERY: Final = 8
#: A WebSocket ping (2 B header) and its masked pong (6 B), each in its own segment.
WS_PING_PONG: Final = 2 + 6 + 2 * TCP_IP_HEADERS
#: ``: keep-alive\n\n`` in a chunk.
SSE_KEEPALIVE: Final = 14 + 7 + TCP_IP_HEADERS

#: The formula behind each estimate, in words, for reports.
FORMULAS: Final = {
    Transport.WS: "per delivery: envelope (payload + 120 B) + 2–4 B frame + 52 B TCP/IP; "
    "per ping + pong: 112 B",
    Transport.SSE: "per delivery: envelope (payload + 120 B) + 26 B SSE record + 52 B TCP/IP; "
    "per keep-alive: 73 B",
    Transport.SHORT_POLL: "per request: 190 B request + 126 B response headers + 70 B body "
    "+ 2 × 52 B TCP/IP; per delivery: envelope (payload + 120 B) + 1 B",
    Transport.LONG_POLL: "per request: 198 B request + 126 B response headers + 70 B body "
    "+ 2 × 52 B TCP/IP; per delivery: envelope (payload + 120 B) + 1 B",
    "publish": "per publish: payload + 75 B + 6–8 B masked frame + 52 B TCP/IP",
}


def _frame_header(length: int, masked: bool) -> int:
    size = 2 if length < 126 else 4 if length < 65_536 else 10
    return size + (4 if masked else 0)


def delivery_bytes(transport: Transport, payload_bytes: int) -> int:
    """Bytes one delivered message adds on the wire (estimated; see the module docstring)."""
    envelope = payload_bytes + ENVELOPE_OVERHEAD
    if transport == Transport.WS:
        return envelope + _frame_header(envelope, masked=False) + TCP_IP_HEADERS
    if transport == Transport.SSE:
        return envelope + SSE_RECORD_OVERHEAD + TCP_IP_HEADERS
    return envelope + 1  # inside a poll response whose headers request_bytes counts


def request_bytes(transport: Transport) -> int:
    """Bytes of one HTTP poll and its response headers and empty body (0 for push transports)."""
    if transport not in POLLING_TRANSPORTS:
        return 0
    query = LONG_POLL_QUERY if transport == Transport.LONG_POLL else 0
    return REQUEST_HEADERS + query + RESPONSE_HEADERS + POLL_BODY_OVERHEAD + 2 * TCP_IP_HEADERS


def publish_bytes(payload_bytes: int) -> int:
    """Bytes of one publish over WebSocket, client to server."""
    frame = payload_bytes + PUBLISH_OVERHEAD
    return frame + _frame_header(frame, masked=True) + TCP_IP_HEADERS


def keepalive_bytes(transport: Transport) -> int:
    """Bytes of one keep-alive exchange: WebSocket ping + pong, or an SSE comment."""
    return {Transport.WS: WS_PING_PONG, Transport.SSE: SSE_KEEPALIVE}.get(transport, 0)
