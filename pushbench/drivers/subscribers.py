"""Subscribers, one coroutine per transport; each feeds a :class:`Recorder`.

Every subscriber takes its receive timestamp as soon as the bytes are parsed, and reads the
publisher's scheduled send time from the envelope: latency is then end to end, transport included.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, NamedTuple

import aiohttp
import orjson

from pushbench.core.kinds import Transport
from pushbench.drivers.rawws import open_raw
from pushbench.drivers.recorder import Recorder, now_ns

__all__ = [
    "SUBSCRIBERS",
    "PollTiming",
    "Subscriber",
    "SubscriberContext",
    "long_poll",
    "short_poll",
    "sse",
    "ws_push",
]


@dataclass(frozen=True, slots=True)
class PollTiming:
    """How the polling subscribers pace their requests (the push transports ignore it)."""

    poll_interval_s: float | None = None
    """Short polling: seconds between one client's polls (required for it)."""
    long_poll_wait_s: float = 30.0
    """Long polling: how long the server may hold a request (its ``wait`` query parameter)."""


class SubscriberContext(NamedTuple):
    """What every subscriber coroutine is given: where, which room, where to record, the
    scenario's HTTP session, the event to set once subscribed, and the poll timing."""

    base: str
    """The target's ``http://host:port``."""
    room: str
    recorder: Recorder
    http: aiohttp.ClientSession
    ready: asyncio.Event
    timing: PollTiming


#: A subscriber coroutine of one transport.
Subscriber = Callable[[SubscriberContext], Coroutine[Any, Any, None]]


def _deliver(recorder: Recorder, message: dict[str, Any], received_ns: int) -> None:
    if "event" in message:
        recorder.error(f"server said: {message}")
        return
    recorder.deliver(message["publisher"], message["seq"], message["sent_ns"], received_ns)


async def ws_push(context: SubscriberContext) -> None:
    """WebSocket push: the server sends every message as soon as it is published."""
    base, room, recorder, _http, ready, _timing = context
    url = "ws" + base.removeprefix("http") + f"/ws/rooms/{room}"

    def on_message(payload: bytes) -> None:
        received = now_ns()
        _deliver(recorder, orjson.loads(payload), received)

    client = await open_raw(url, on_message=on_message)
    try:
        ready.set()
        await client.lost  # the scenario's end cancels this: getting past it is the peer's doing
        if client.protocol_error is not None:
            recorder.error(f"the server broke the WebSocket protocol: {client.protocol_error}")
        elif client.close_code is not None:
            recorder.error(f"server closed the socket with code {client.close_code}")
        else:
            recorder.error("the connection was lost without a close frame (the target stopped?)")
    finally:
        client.close()
        recorder.ws_received_bytes += client.received_bytes


async def sse(context: SubscriberContext) -> None:
    """Server-Sent Events: one long response, one ``data:`` line per message."""
    base, room, recorder, http, ready, _timing = context
    recorder.http_requests += 1
    async with http.get(f"{base}/rooms/{room}/events", timeout=_no_timeout()) as response:
        response.raise_for_status()
        ready.set()
        async for line in response.content:
            if line.startswith(b"data: "):
                received = now_ns()
                _deliver(recorder, orjson.loads(line[6:]), received)
            elif line.startswith(b"event: "):
                recorder.error(f"server sent SSE {line.decode().strip()}")


async def long_poll(context: SubscriberContext) -> None:
    """Long polling: a request waits at the server until a message exists, then comes back."""
    base, room, recorder, http, ready, timing = context
    cursor = 0
    url = f"{base}/rooms/{room}/messages"
    wait = f"{timing.long_poll_wait_s:g}"
    ready.set()  # the cursor starts at 0: nothing published from now on can be missed
    while True:
        recorder.http_requests += 1
        cursor = await _poll_once(http, url, cursor, recorder, wait)


async def short_poll(context: SubscriberContext) -> None:
    """Short polling every ``poll_interval_s``, each client at its own random phase."""
    base, room, recorder, http, ready, timing = context
    if not timing.poll_interval_s:
        raise ValueError("short polling needs a poll interval > 0")
    interval_ns = round(timing.poll_interval_s * 1e9)
    url = f"{base}/rooms/{room}/messages"
    cursor = 0
    ready.set()
    # Real clients are not synchronised: spread the polls over the interval.
    next_ns = now_ns() + random.randrange(interval_ns)
    while True:
        delay = next_ns - now_ns()
        if delay > 0:
            await asyncio.sleep(delay / 1e9)
        recorder.http_requests += 1
        cursor = await _poll_once(http, url, cursor, recorder, None)
        next_ns += interval_ns
        # A poll slower than the interval is followed by the next one at once, not by a burst.
        next_ns = max(next_ns, now_ns() - interval_ns)


async def _poll_once(
    http: aiohttp.ClientSession, url: str, cursor: int, recorder: Recorder, wait: str | None
) -> int:
    params = {"after": str(cursor), "limit": "1000"}
    if wait is not None:
        params["wait"] = wait
    async with http.get(url, params=params, timeout=_no_timeout()) as response:
        body = await response.read()
        received = now_ns()
        if response.status != 200:
            recorder.error(f"GET {response.url.path} -> {response.status}: {body[:200]!r}")
            # Back off a little so a failing server is not hammered in a tight loop.
            await asyncio.sleep(0.05)
            return cursor
    page = orjson.loads(body)
    if page["missed"]:
        recorder.error(f"server history no longer held {page['missed']} messages")
    for message in page["messages"]:
        _deliver(recorder, message, received)
    next_cursor: int = page["next"]
    return next_cursor


def _no_timeout() -> aiohttp.ClientTimeout:
    # The scenario bounds every run; a per-request timeout would only cut long polls short.
    return aiohttp.ClientTimeout(total=None, sock_connect=10)


#: The subscriber of every push transport (``kinds.PUSH_TRANSPORTS``; a test checks none is
#: missing).
SUBSCRIBERS: dict[Transport, Subscriber] = {
    Transport.WS: ws_push,
    Transport.SSE: sse,
    Transport.LONG_POLL: long_poll,
    Transport.SHORT_POLL: short_poll,
}
