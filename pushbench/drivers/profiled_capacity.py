"""Capacity runs against an app described by a target profile: the raw clients of
:mod:`pushbench.drivers.capacity`, counting only what carries a payload token.

The reference server's capacity runs count frames: everything it sends is the measured message.
An arbitrary app also sends frames of its own (a greeting, "Client #3 left the chat", the
sender's own copy), so here every frame is searched for tokens
(:func:`~pushbench.core.payload_token.find_tokens`) and only tokens count; a frame without one is
*unexpected*. The reference path keeps its frame counting and pays no search.

Echo is closed loop, one message outstanding per connection, so integrity reads differently than
for a stream: the reply carrying the outstanding token is a round trip (its latency recorded,
the next message sent at once); a reply with the same connection's token of an earlier message
already answered is *duplicated*; a token this connection never sent (another publisher's, or a
later seq) is *wrong*, an error; and a message whose reply has not come within
``reply_timeout_s`` is *lost* and the connection sends its next one (a reply that still comes
later moves it from lost to late, never to duplicated). Every one of these counts in the window
and the interval its message was *sent* in (:mod:`pushbench.core.closed_loop`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from pushbench.core.intervals import DEFAULT_INTERVAL_S
from pushbench.core.payload_token import find_tokens, make_token
from pushbench.core.target_profile import PollSpec, PublishSpec, fill
from pushbench.drivers.capacity import CapacityRun, closed_loop_polls, closed_loop_run, counted_run
from pushbench.drivers.rawhttp import open_raw_http
from pushbench.drivers.rawws import RawClient, open_raw
from pushbench.drivers.round_trips import CLOCK, MeasuredWindow, RoundTrips, count_at_edges, drain
from pushbench.drivers.wsframes import encode_text
from pushbench.harness.client_auth import auth_headers
from pushbench.harness.client_tls import client_context

__all__ = ["token_echo_capacity", "token_fanout_capacity", "token_poll_capacity"]

_CLOCK = CLOCK


@dataclass(slots=True)
class _Tally:
    """What every echo connection adds to; reset when the measured window starts. Round
    trips, losses and late replies are raw samples by send time (filtered to the window
    afterwards); the rest are counts of replies received in the window."""

    samples: RoundTrips = field(default_factory=RoundTrips)
    duplicated: int = 0
    unexpected: int = 0
    wrong: int = 0

    def reset(self) -> None:
        self.samples.clear()
        self.duplicated = self.unexpected = self.wrong = 0

    @property
    def round_trips_ns(self) -> array[int]:
        """Every round trip's latency so far (ns)."""
        return self.samples.latencies_ns

    @property
    def lost(self) -> int:
        """Messages timed out so far, less those answered late."""
        return len(self.samples.failed_ns) - len(self.samples.recovered_ns)

    @property
    def late(self) -> int:
        """Timed-out messages answered after all."""
        return len(self.samples.recovered_ns)


class _Echoer:
    """One closed-loop echo connection: its outstanding token and what came back."""

    __slots__ = (
        "answered",
        "client",
        "make",
        "publisher",
        "sent_ns",
        "seq",
        "tally",
        "timed_out",
    )

    def __init__(self, publisher: str, make: Callable[[int, int], bytes], tally: _Tally) -> None:
        self.publisher, self.make, self.tally = publisher, make, tally
        self.client: RawClient | None = None
        self.seq = -1
        self.sent_ns = 0
        self.answered = True
        #: seq → the send time of a message counted lost (for a late reply).
        self.timed_out: dict[int, int] = {}

    def send_next(self) -> None:
        self.seq += 1
        self.answered = False
        self.sent_ns = _CLOCK()
        if self.client is not None:
            self.client.send(self.make(self.seq, self.sent_ns))

    def expire(self, now_ns: int, timeout_ns: int) -> None:
        if not self.answered and now_ns - self.sent_ns > timeout_ns:
            self.timed_out[self.seq] = self.sent_ns
            self.tally.samples.failed_ns.append(self.sent_ns)
            self.send_next()

    def on_message(self, payload: bytes) -> None:
        now = _CLOCK()
        tally = self.tally
        tokens = find_tokens(payload)
        if not tokens:
            tally.unexpected += 1
            return
        answered = False
        for token in tokens:
            if token.publisher != self.publisher or token.seq > self.seq:
                tally.wrong += 1
            elif token.seq == self.seq and not self.answered:
                tally.samples.latencies_ns.append(now - self.sent_ns)
                tally.samples.sent_ns.append(self.sent_ns)
                self.answered = answered = True
            elif token.seq in self.timed_out:
                tally.samples.recovered_ns.append(self.timed_out.pop(token.seq))
            else:
                tally.duplicated += 1
        if answered:
            self.send_next()


async def token_echo_capacity(
    ws_base: str,
    path: str,
    frame: str,
    connections: int = 50,
    payload_bytes: int = 64,
    duration_s: float = 5.0,
    warmup_s: float = 1.0,
    reply_timeout_s: float = 1.0,
    interval_s: float = DEFAULT_INTERVAL_S,
) -> CapacityRun:
    """Closed-loop echo of payload tokens on ``connections`` sockets of ``path`` (a profile's
    echo path template), each message ``frame`` filled with a fresh token: round trips/s,
    their latency, and lost / duplicated / unexpected / wrong replies (see the module doc)."""
    tally = _Tally()
    padding = "x" * payload_bytes
    run_id = uuid.uuid4().hex[:6]

    def maker(publisher: str, client: int) -> Callable[[int, int], bytes]:
        fixed = {"payload": padding, "room": f"echo-{run_id}", "client": str(client)}

        def make(seq: int, sent_ns: int) -> bytes:
            token = make_token(publisher, seq, sent_ns)
            return encode_text(fill(frame, {**fixed, "token": token}).encode())

        return make

    echoers = [
        _Echoer(f"e{run_id}-{i}", maker(f"e{run_id}-{i}", i + 1), tally) for i in range(connections)
    ]
    urls = [
        ws_base + fill(path, {"room": f"echo-{run_id}", "client": str(i + 1)})
        for i in range(connections)
    ]
    clients = await asyncio.gather(
        *(open_raw(url, on_message=e.on_message) for url, e in zip(urls, echoers, strict=True))
    )
    timeout_ns = round(reply_timeout_s * 1e9)

    async def watchdog() -> None:
        # A pacing cadence, not a synchronisation: a quarter of the timeout between checks.
        while True:
            await asyncio.sleep(reply_timeout_s / 4)
            now = _CLOCK()
            for echoer in echoers:
                echoer.expire(now, timeout_ns)

    watch = asyncio.create_task(watchdog())
    try:
        for echoer, client in zip(echoers, clients, strict=True):
            echoer.client = client
            echoer.send_next()
        await asyncio.sleep(warmup_s)  # the warm-up itself: a fixed span of wall time
        tally.reset()
        window = MeasuredWindow.opening_now(duration_s, interval_s)
        await window.close()
        end = window.grid.end_ns

        def outstanding() -> list[_Echoer]:
            return [e for e in echoers if not e.answered and e.sent_ns < end]

        # The watchdog settles every message sent in the window within the reply timeout.
        await drain(lambda: bool(outstanding()), reply_timeout_s * 1.25 + 0.1)
        tally.samples.failed_ns.extend(e.sent_ns for e in outstanding())
        run = closed_loop_run(tally.samples, window, sum(c.closed for c in clients))
        run.duplicated, run.unexpected = tally.duplicated, tally.unexpected
        if tally.wrong:
            run.errors.append(
                f"{tally.wrong} replies carried a token their connection was not waiting for "
                "(another connection's, or one never sent)"
            )
        return run
    finally:
        watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch
        for client in clients:
            client.close()


class _Counter:
    """A subscriber's tally: tokens found, frames without one; ``then`` runs per frame."""

    __slots__ = ("then", "tokens", "unexpected")

    def __init__(self, then: Callable[[], None] | None = None) -> None:
        self.tokens = 0
        self.unexpected = 0
        self.then = then

    def on_message(self, payload: bytes) -> None:
        found = len(find_tokens(payload))
        if found:
            self.tokens += found
        else:
            self.unexpected += 1
        if self.then is not None:
            self.then()


async def token_fanout_capacity(
    ws_base: str,
    ws_path: str,
    publish: PublishSpec,
    subscribers: int = 100,
    payload_bytes: int = 64,
    duration_s: float = 5.0,
    warmup_s: float = 1.0,
    window: int = 64,
    interval_s: float = DEFAULT_INTERVAL_S,
) -> CapacityRun:
    """One publisher (the profile's ``publish``: a frame or an HTTP request), ``subscribers``
    sockets of ``ws_path``; deliveries = tokens found over all subscribers (read at every
    interval's edge).

    As in :func:`~pushbench.drivers.capacity.fanout_capacity`, the publisher keeps at most
    ``window`` messages ahead of the first subscriber, counted in tokens (the app's own frames
    do not pace it).
    """
    room = f"capacity-{uuid.uuid4().hex[:8]}"
    padding = "x" * payload_bytes
    publisher_client = subscribers + 1
    sent = [0]
    wake = asyncio.Event()
    pacer = _Counter()
    counters = [pacer, *(_Counter() for _ in range(subscribers - 1))]

    def url(template: str, client: int) -> str:
        return fill(template, {"room": room, "client": str(client)})

    template = publish.template

    def make(publisher: str, seq: int, scheduled_ns: int, padding: str) -> str:
        values = {"room": room, "client": str(publisher_client), "payload": padding}
        return fill(template, {**values, "token": make_token(publisher, seq, scheduled_ns)})

    subs = await asyncio.gather(
        *(
            open_raw(ws_base + url(ws_path, i + 1), on_message=c.on_message)
            for i, c in enumerate(counters)
        )
    )
    # A publisher socket also receives (the documented chat echoes to its sender): counted, dropped.
    ws_publisher = (
        await open_raw(ws_base + url(publish.ws.path, publisher_client))
        if publish.ws is not None
        else None
    )
    http = (
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=client_context()), headers=auth_headers()
        )
        if publish.http is not None
        else None
    )
    failures: list[str] = []

    async def post(message: str) -> None:
        assert http is not None
        assert publish.http is not None
        target = "http" + ws_base.removeprefix("ws") + url(publish.http.url, publisher_client)
        headers = {"Content-Type": publish.http.content_type}
        async with http.request(
            publish.http.method, target, data=message.encode(), headers=headers
        ) as response:
            if response.status >= 300:
                failures.append(f"{publish.http.method} {target} -> {response.status}")

    def refill() -> None:
        # Per frame of the pacing subscriber, in its callback (as the reference's fan-out does).
        assert ws_publisher is not None
        while sent[0] - pacer.tokens < window:
            message = make("cap", sent[0], time.monotonic_ns(), padding)
            sent[0] += 1
            ws_publisher.send(encode_text(message.encode()))

    async def pump() -> None:
        # HTTP publishes cannot be sent from a callback: a task tops the window up in batches.
        while True:
            deficit = window - (sent[0] - pacer.tokens)
            batch = []
            for _ in range(max(deficit, 0)):
                batch.append(post(make("cap", sent[0], time.monotonic_ns(), padding)))
                sent[0] += 1
            if batch:
                await asyncio.gather(*batch)
            await wake.wait()
            wake.clear()

    if ws_publisher is not None:
        pacer.then = refill
        refill()
        pumping = None
    else:
        pacer.then = wake.set
        pumping = asyncio.create_task(pump())
    try:
        await asyncio.sleep(warmup_s)  # the warm-up itself
        unexpected_before = sum(c.unexpected for c in counters)
        measured = MeasuredWindow.opening_now(duration_s, interval_s)
        counts = await count_at_edges(measured.grid, lambda: sum(c.tokens for c in counters))
        run = counted_run(measured, counts, sum(s.closed for s in subs))
        run.unexpected = sum(c.unexpected for c in counters) - unexpected_before
        if failures:
            run.errors.append(f"{len(failures)} publishes failed: {failures[0]}")
        if pumping is not None and pumping.done() and pumping.exception() is not None:
            run.errors.append(f"the publisher failed: {pumping.exception()!r}")
        return run
    finally:
        if pumping is not None:
            pumping.cancel()
            with contextlib.suppress(BaseException):
                await pumping
        for client in [*subs, *([ws_publisher] if ws_publisher else [])]:
            client.close()
        if http is not None:
            await http.close()


async def token_poll_capacity(
    http_base: str,
    spec: PollSpec,
    pollers: int = 20,
    duration_s: float = 5.0,
    warmup_s: float = 1.0,
    interval_s: float = DEFAULT_INTERVAL_S,
) -> CapacityRun:
    """Closed-loop short polls of the profile's poll URL at its initial cursor, of a room
    nobody publishes to (the common idle case, as the reference's poll capacity asks):
    requests answered 2xx per second."""
    room = f"poll-{uuid.uuid4().hex[:8]}"
    numbers = itertools.count(1)
    headers = auth_headers()
    samples = RoundTrips()
    clients = await asyncio.gather(
        *(
            open_raw_http(
                http_base
                + fill(
                    spec.url,
                    {"room": room, "client": str(next(numbers)), "cursor": spec.initial_cursor},
                ),
                headers,
                samples,
            )
            for _ in range(pollers)
        )
    )
    return await closed_loop_polls(clients, samples, duration_s, warmup_s, interval_s)
