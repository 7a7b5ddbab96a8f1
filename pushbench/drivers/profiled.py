"""Publishers and subscribers for an app of the user's own, through its target adapter.

The app's messages are its own, so nothing here reads an envelope: publishers write a payload
token (:mod:`pushbench.core.payload_token`) into what the adapter encodes, and every receiver
asks the adapter for the tokens in whatever arrives. The adapter is a TOML profile
(:class:`~pushbench.core.target_profile.TargetProfile`) or a Python class
(:class:`~pushbench.core.target_adapter.Adapter`): the drivers see only
:class:`~pushbench.core.target_adapter.TargetAdapter`. Each token found is a delivery (latency
from the token's scheduled time, integrity per publisher, exactly as for the reference server's
envelope); a frame, poll item or event with no token counts as *unexpected* — an app that sends
its own notices ("Client #3 left the chat") shows them there, never as deliveries.

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

import aiohttp
from websockets.asyncio.client import ClientConnection, connect

from pushbench.core.json_pointer import resolve_pointer
from pushbench.core.kinds import Transport
from pushbench.core.payload_token import Token, make_token
from pushbench.core.target_adapter import TargetAdapter
from pushbench.drivers.publisher import Sender
from pushbench.drivers.rawws import open_raw
from pushbench.drivers.recorder import Recorder, now_ns
from pushbench.drivers.subscribers import Subscriber, SubscriberContext
from pushbench.harness.client_auth import auth_headers
from pushbench.harness.client_deflate import websockets_compression
from pushbench.harness.client_tls import client_ssl

__all__ = [
    "FrameMaker",
    "ProfiledPublishers",
    "deliver_tokens",
    "profiled_frame_maker",
    "profiled_subscriber",
    "resolve_pointer",
]

#: What a publisher sends for one message: (publisher id, seq, scheduled ns, padding) → frame
#: or body (text, or bytes: a binary frame).
FrameMaker = Callable[[str, int, int, str], str | bytes]
#: An adapter's token scan.
TokenFinder = Callable[[str | bytes], list[Token]]


def deliver_tokens(
    recorder: Recorder, data: bytes | str, received_ns: int, find: TokenFinder
) -> int:
    """Record every token ``find`` sees in ``data`` as a delivery; none: one unexpected arrival.

    Returns the number of tokens found.
    """
    tokens = find(data)
    if not tokens:
        recorder.unexpected_arrivals += 1
    for token in tokens:
        recorder.deliver(token.publisher, token.seq, token.scheduled_ns, received_ns)
    return len(tokens)


def profiled_frame_maker(adapter: TargetAdapter, room: str, clients: dict[str, int]) -> FrameMaker:
    """Publishers' messages: the adapter's encoding of the token, padding, room and the
    publisher's client number (``clients``: publisher id → number)."""
    encode = adapter.encode_publish

    def make(publisher: str, seq: int, scheduled_ns: int, padding: str) -> str | bytes:
        token = make_token(publisher, seq, scheduled_ns)
        return encode(token, padding, room, clients.get(publisher, 0))

    return make


class _HttpSender:
    """One publisher that sends each message as an HTTP request (``[publish.http]``)."""

    def __init__(self, http: aiohttp.ClientSession, method: str, url: str, kind: str) -> None:
        self._http, self._method, self._url = http, method, url
        self._headers = {"Content-Type": kind}

    async def send(self, message: str | bytes, /) -> None:
        body = message.encode() if isinstance(message, str) else message
        async with self._http.request(
            self._method, self._url, data=body, headers=self._headers
        ) as response:
            if response.status >= 300:
                answer = await response.read()
                raise ConnectionError(
                    f"{self._method} {self._url} -> {response.status}: {answer[:200]!r}"
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
        profile: TargetAdapter,
        base_url: str,
        room: str,
        count: int,
        first_client: int,
        http: aiohttp.ClientSession,
    ) -> ProfiledPublishers:
        """Connect ``count`` publishers, numbered from ``first_client`` (``{client}``)."""
        names = {f"pub-{i}": first_client + i for i in range(count)}
        targets = [profile.publish_target(room, number) for number in names.values()]
        make = profiled_frame_maker(profile, room, names)
        if all(target.kind == "ws" for target in targets):
            ws_base = "ws" + base_url.removeprefix("http")
            sockets = await asyncio.gather(
                *(
                    connect(
                        ws_base + target.path,
                        compression=websockets_compression(),
                        max_size=None,
                        ping_interval=None,
                        additional_headers=auth_headers(),
                        ssl=client_ssl(ws_base),
                    )
                    for target in targets
                )
            )
            made = cls(list(sockets), make)
            made._readers = [asyncio.create_task(_drop_incoming(ws)) for ws in sockets]
            return made
        if any(target.kind != "http" for target in targets):
            raise ValueError(f"{profile.name!r}: publishers mix ws and http targets")
        senders: list[Sender] = [
            _HttpSender(http, t.method, base_url + t.path, t.content_type) for t in targets
        ]
        return cls(senders, make)

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


def profiled_subscriber(
    profile: TargetAdapter, transport: Transport, clients: Iterator[int] | None = None
) -> Subscriber:
    """The subscriber for ``transport`` as ``profile`` (a profile or an adapter) speaks it.

    ``clients`` numbers the connections (``{client}`` in the path): 1, 2, 3... by default, so
    publishers can take the numbers after the subscribers'.

    Raises:
        ValueError: the profile offers no ``transport``.
    """
    numbers = clients if clients is not None else itertools.count(1)
    skipped = profile.skipped((transport,))
    if skipped:
        raise ValueError(skipped[transport])
    if transport == Transport.WS:
        return _ws_subscriber(profile, numbers)
    if transport == Transport.SSE:
        return _sse_subscriber(profile, numbers)
    if transport in (Transport.SHORT_POLL, Transport.LONG_POLL):
        return _poll_subscriber(profile, transport, numbers)
    raise ValueError(f"{profile.name!r}: no subscriber for {transport}")


def _ws_subscriber(adapter: TargetAdapter, clients: Iterator[int]) -> Subscriber:
    find = adapter.find_tokens

    async def subscribe(context: SubscriberContext) -> None:
        base, room, recorder, _http, ready, _timing = context
        url = "ws" + base.removeprefix("http") + adapter.ws_subscribe_path(room, next(clients))

        def on_message(payload: bytes) -> None:
            deliver_tokens(recorder, payload, now_ns(), find)

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


def _sse_subscriber(adapter: TargetAdapter, clients: Iterator[int]) -> Subscriber:
    find = adapter.find_tokens

    async def subscribe(context: SubscriberContext) -> None:
        base, room, recorder, http, ready, _timing = context
        url = base + adapter.sse_path(room, next(clients))
        recorder.http_requests += 1
        async with http.get(url, timeout=_no_timeout()) as response:
            response.raise_for_status()
            ready.set()
            async for line in response.content:
                if line.startswith(b"data:"):
                    deliver_tokens(recorder, line[5:], now_ns(), find)

    return subscribe


def _poll_subscriber(
    adapter: TargetAdapter, transport: Transport, clients: Iterator[int]
) -> Subscriber:
    long = transport == Transport.LONG_POLL

    async def subscribe(context: SubscriberContext) -> None:
        base, room, recorder, http, ready, timing = context
        interval_s = 0.0 if long else timing.poll_interval_s
        if interval_s is None or (not long and interval_s <= 0):
            raise ValueError("short polling needs a poll interval > 0")
        client = next(clients)
        cursor = adapter.initial_cursor(transport)
        seen: set[tuple[str, int]] = set()  # no cursor: every poll sees the whole list again
        interval_ns = round(interval_s * 1e9)
        next_ns = now_ns() + (random.randrange(interval_ns) if interval_ns else 0)
        ready.set()
        while True:
            delay = next_ns - now_ns()
            if delay > 0:
                await asyncio.sleep(delay / 1e9)
            recorder.http_requests += 1
            url = base + adapter.poll_path(transport, room, client, cursor, None)
            cursor = await _poll_once(http, url, adapter, transport, cursor, recorder, seen)
            next_ns = max(next_ns + interval_ns, now_ns() - interval_ns)

    return subscribe


async def _poll_once(
    http: aiohttp.ClientSession,
    url: str,
    adapter: TargetAdapter,
    transport: Transport,
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
        page = adapter.parse_poll(transport, body)
    except (ValueError, LookupError) as exc:  # orjson.JSONDecodeError is a ValueError
        recorder.error(f"GET {response.url.path}: {exc}")
        return cursor
    for item in page.items:
        tokens = adapter.find_tokens(item)
        if not tokens:
            recorder.unexpected_arrivals += 1
        for token in tokens:
            if page.cursor is None:
                key = (token.publisher, token.seq)
                if key in seen:
                    continue
                seen.add(key)
            recorder.deliver(token.publisher, token.seq, token.scheduled_ns, received)
    return cursor if page.cursor is None else page.cursor


def _no_timeout() -> aiohttp.ClientTimeout:
    # The scenario bounds every run; a per-request timeout would only cut long polls short.
    return aiohttp.ClientTimeout(total=None, sock_connect=10)
