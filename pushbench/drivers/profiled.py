"""Publishers and subscribers for an app described by a target profile (``--profile``).

The app's messages are its own, so nothing here reads an envelope: publishers write a payload
token (:mod:`pushbench.core.payload_token`) into the profile's frame or body template, and every
receiver looks for tokens in whatever arrives. Each token found is a delivery (latency from the
token's scheduled time, integrity per publisher, exactly as for the reference server's envelope);
a frame, poll item or event with no token counts as *unexpected* — an app that sends its own
notices ("Client #3 left the chat") shows them there, never as deliveries.

The subscribers have the reference drivers' signature (:data:`~pushbench.drivers.subscribers.
Subscriber`), so :func:`~pushbench.drivers.scenario.run_scenario` runs either kind the same way:
same open-loop schedule, same readiness, same drain, same recorder.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import orjson
from websockets.asyncio.client import ClientConnection, connect

from pushbench.core.kinds import Transport
from pushbench.core.payload_token import find_tokens, make_token
from pushbench.core.target_profile import PollSpec, TargetProfile, fill
from pushbench.drivers.publisher import Sender
from pushbench.drivers.rawws import open_raw
from pushbench.drivers.recorder import Recorder, now_ns
from pushbench.drivers.subscribers import Subscriber, SubscriberContext
from pushbench.harness.client_auth import auth_headers

__all__ = [
    "FrameMaker",
    "ProfiledPublishers",
    "deliver_tokens",
    "profiled_frame_maker",
    "profiled_subscriber",
    "resolve_pointer",
]

#: What a publisher sends for one message: (publisher id, seq, scheduled ns, padding) → text.
FrameMaker = Callable[[str, int, int, str], str]


def deliver_tokens(recorder: Recorder, data: bytes | str, received_ns: int) -> int:
    """Record every token in ``data`` as a delivery; none at all: one unexpected arrival.

    Returns the number of tokens found.
    """
    tokens = find_tokens(data)
    if not tokens:
        recorder.unexpected_arrivals += 1
    for token in tokens:
        recorder.deliver(token.publisher, token.seq, token.scheduled_ns, received_ns)
    return len(tokens)


def profiled_frame_maker(template: str, room: str, clients: dict[str, int]) -> FrameMaker:
    """Publishers' messages: ``template`` filled with the token, padding, room and the
    publisher's client number (``clients``: publisher id → number)."""

    def make(publisher: str, seq: int, scheduled_ns: int, padding: str) -> str:
        token = make_token(publisher, seq, scheduled_ns)
        values = {"token": token, "payload": padding, "room": room}
        values["client"] = str(clients.get(publisher, 0))
        return fill(template, values)

    return make


class _HttpSender:
    """One publisher that sends each message as an HTTP request (``[publish.http]``)."""

    def __init__(self, http: aiohttp.ClientSession, method: str, url: str, kind: str) -> None:
        self._http, self._method, self._url = http, method, url
        self._headers = {"Content-Type": kind}

    async def send(self, message: str, /) -> None:
        async with self._http.request(
            self._method, self._url, data=message.encode(), headers=self._headers
        ) as response:
            if response.status >= 300:
                body = await response.read()
                raise ConnectionError(
                    f"{self._method} {self._url} -> {response.status}: {body[:200]!r}"
                )

    async def close(self) -> None:
        """Nothing to close: the session is the scenario's."""


class ProfiledPublishers:
    """The publishers of a profiled app: where messages go and how each is written.

    A WebSocket publisher's socket also receives whatever the app sends it (the documented chat
    broadcasts to every connection, the sender included); it is read and dropped, because a socket
    nobody reads stops the app's sends to it and, in a broadcast loop, to everyone after it.
    """

    def __init__(self, senders: list[Sender], make_frame: FrameMaker) -> None:
        self.senders = senders
        self.make_frame = make_frame
        self._readers: list[asyncio.Task[None]] = []

    @classmethod
    async def open(
        cls,
        profile: TargetProfile,
        base_url: str,
        room: str,
        count: int,
        first_client: int,
        http: aiohttp.ClientSession,
    ) -> ProfiledPublishers:
        """Connect ``count`` publishers, numbered from ``first_client`` (``{client}``)."""
        publish = profile.publish
        if publish is None:
            raise ValueError(f"profile {profile.name!r} has no [publish] section")
        names = {f"pub-{i}": first_client + i for i in range(count)}
        values = [{"room": room, "client": str(number)} for number in names.values()]
        if publish.ws is not None:
            ws_base = "ws" + base_url.removeprefix("http")
            sockets = await asyncio.gather(
                *(
                    connect(
                        ws_base + fill(publish.ws.path, v),
                        compression=None,
                        max_size=None,
                        ping_interval=None,
                        additional_headers=auth_headers(),
                    )
                    for v in values
                )
            )
            made = cls(list(sockets), profiled_frame_maker(publish.ws.frame, room, names))
            made._readers = [asyncio.create_task(_drop_incoming(ws)) for ws in sockets]
            return made
        assert publish.http is not None  # the profile's validator: exactly one of ws and http
        spec = publish.http
        senders: list[Sender] = [
            _HttpSender(http, spec.method, base_url + fill(spec.url, v), spec.content_type)
            for v in values
        ]
        return cls(senders, profiled_frame_maker(spec.body, room, names))

    async def close(self) -> None:
        """Stop reading and close every publisher's connection."""
        for reader in self._readers:
            reader.cancel()
        for sender in self.senders:
            with contextlib.suppress(Exception):
                await sender.close()


async def _drop_incoming(ws: ClientConnection) -> None:
    with contextlib.suppress(Exception):
        async for _ in ws:
            pass


def resolve_pointer(document: Any, pointer: str) -> Any:
    """RFC 6901 JSON pointer lookup (``""``: the document itself).

    Ten lines rather than a dependency: only lookup is needed, never patching.

    Raises:
        LookupError: nothing at ``pointer``.
    """
    node = document
    for raw in pointer.split("/")[1:] if pointer else ():
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise LookupError(f"no item {key!r} in a list of {len(node)} at {pointer!r}")
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            raise LookupError(f"nothing at {pointer!r} (no {key!r})")
    return node


def profiled_subscriber(
    profile: TargetProfile, transport: Transport, clients: Iterator[int] | None = None
) -> Subscriber:
    """The subscriber for ``transport`` as ``profile`` describes it.

    ``clients`` numbers the connections (``{client}`` in the path): 1, 2, 3... by default, so
    publishers can take the numbers after the subscribers'.

    Raises:
        ValueError: the profile offers no ``transport``.
    """
    numbers = clients if clients is not None else itertools.count(1)
    if transport == Transport.WS and profile.ws is not None:
        return _ws_subscriber(profile.ws.path, numbers)
    if transport == Transport.SSE and profile.sse is not None:
        return _sse_subscriber(profile.sse.url, numbers)
    if transport == Transport.SHORT_POLL and profile.short_poll is not None:
        return _poll_subscriber(profile.short_poll, numbers, long=False)
    if transport == Transport.LONG_POLL and profile.long_poll is not None:
        return _poll_subscriber(profile.long_poll, numbers, long=True)
    raise ValueError(f"profile {profile.name!r} offers no {transport} endpoint")


def _ws_subscriber(path: str, clients: Iterator[int]) -> Subscriber:
    async def subscribe(context: SubscriberContext) -> None:
        base, room, recorder, _http, ready, _timing = context
        target = fill(path, {"room": room, "client": str(next(clients))})
        url = "ws" + base.removeprefix("http") + target

        def on_message(payload: bytes) -> None:
            deliver_tokens(recorder, payload, now_ns())

        client = await open_raw(url, on_message=on_message)
        try:
            ready.set()
            await client.lost  # the scenario's end cancels this: getting past it is the app's doing
            code = client.close_code
            recorder.error(
                f"the app closed the socket with code {code}"
                if code is not None
                else "the connection was lost without a close frame (the app stopped?)"
            )
        finally:
            client.close()

    return subscribe


def _sse_subscriber(url_template: str, clients: Iterator[int]) -> Subscriber:
    async def subscribe(context: SubscriberContext) -> None:
        base, room, recorder, http, ready, _timing = context
        url = base + fill(url_template, {"room": room, "client": str(next(clients))})
        recorder.http_requests += 1
        async with http.get(url, timeout=_no_timeout()) as response:
            response.raise_for_status()
            ready.set()
            async for line in response.content:
                if line.startswith(b"data:"):
                    deliver_tokens(recorder, line[5:], now_ns())

    return subscribe


def _poll_subscriber(spec: PollSpec, clients: Iterator[int], *, long: bool) -> Subscriber:
    async def subscribe(context: SubscriberContext) -> None:
        base, room, recorder, http, ready, timing = context
        interval_s = 0.0 if long else timing.poll_interval_s
        if interval_s is None or (not long and interval_s <= 0):
            raise ValueError("short polling needs a poll interval > 0")
        values = {"room": room, "client": str(next(clients)), "wait": f"{spec.wait_s:g}"}
        cursor = spec.initial_cursor
        seen: set[tuple[str, int]] = set()  # no cursor: every poll sees the whole list again
        interval_ns = round(interval_s * 1e9)
        next_ns = now_ns() + (random.randrange(interval_ns) if interval_ns else 0)
        ready.set()
        while True:
            delay = next_ns - now_ns()
            if delay > 0:
                await asyncio.sleep(delay / 1e9)
            recorder.http_requests += 1
            url = base + fill(spec.url, {**values, "cursor": cursor})
            cursor = await _poll_once(http, url, spec, cursor, recorder, seen)
            next_ns = max(next_ns + interval_ns, now_ns() - interval_ns)

    return subscribe


async def _poll_once(
    http: aiohttp.ClientSession,
    url: str,
    spec: PollSpec,
    cursor: str,
    recorder: Recorder,
    seen: set[tuple[str, int]],
) -> str:
    async with http.get(url, timeout=_no_timeout()) as response:
        body = await response.read()
        received = now_ns()
    if response.status != 200:
        recorder.error(f"GET {response.url.path} -> {response.status}: {body[:200]!r}")
        return cursor
    try:
        document = orjson.loads(body)
        items = resolve_pointer(document, spec.messages)
        following = resolve_pointer(document, spec.cursor) if spec.cursor is not None else cursor
    except (orjson.JSONDecodeError, LookupError) as exc:
        recorder.error(f"GET {response.url.path}: {exc}")
        return cursor
    if not isinstance(items, list):
        recorder.error(f"GET {response.url.path}: {spec.messages!r} is not a list")
        return cursor
    for item in items:
        text = item if isinstance(item, str) else orjson.dumps(item)
        tokens = find_tokens(text)
        if not tokens:
            recorder.unexpected_arrivals += 1
        for token in tokens:
            if spec.cursor is None:
                key = (token.publisher, token.seq)
                if key in seen:
                    continue
                seen.add(key)
            recorder.deliver(token.publisher, token.seq, token.scheduled_ns, received)
    return str(following)


def _no_timeout() -> aiohttp.ClientTimeout:
    # The scenario bounds every run; a per-request timeout would only cut long polls short.
    return aiohttp.ClientTimeout(total=None, sock_connect=10)
