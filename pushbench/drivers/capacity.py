"""Server capacity runs with the raw client: echo round trips/s, fan-out deliveries/s, idle cost."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from pushbench.core.closed_loop import closed_loop_series, counted_series, in_window, tally
from pushbench.core.intervals import DEFAULT_INTERVAL_S, IntervalSeries
from pushbench.drivers.rawhttp import RawHttpClient, open_raw_http
from pushbench.drivers.rawws import RawClient, open_raw
from pushbench.drivers.round_trips import (
    CLOCK,
    MeasuredWindow,
    RoundTrips,
    count_at_edges,
    drain,
)
from pushbench.drivers.wsframes import encode_text
from pushbench.harness.client_auth import auth_headers
from pushbench.harness.client_tls import client_context

__all__ = [
    "CapacityRun",
    "closed_loop_polls",
    "closed_loop_run",
    "counted_run",
    "echo_capacity",
    "fanout_capacity",
    "idle_connections",
    "poll_capacity",
]


@dataclass(slots=True)
class CapacityRun:
    """Messages counted over a measured interval (and echo round-trip times, if measured).

    The integrity counts are the token-counting runs' (:mod:`pushbench.drivers.
    profiled_capacity`); the reference server's frame-counting runs leave them 0.
    """

    messages: int
    duration_s: float
    dropped_connections: int = 0
    round_trips_ns: array[int] = field(default_factory=lambda: array("q"))
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    #: Echo replies that came after their message was counted lost (then not lost).
    late: int = 0
    errors: list[str] = field(default_factory=list)
    #: The measured window over time; its intervals add up to ``messages`` and ``lost``, and
    #: their histograms merge to ``round_trips_ns``'s. None: not recorded.
    intervals: IntervalSeries | None = None
    #: CPU seconds spent bucketing the raw samples after the window: not load generation, so
    #: :func:`~pushbench.workloads.measure_capacity` leaves it out of the generator's CPU.
    bookkeeping_cpu_s: float = 0.0

    @property
    def per_s(self) -> float:
        return self.messages / self.duration_s if self.duration_s > 0 else 0.0


def closed_loop_run(
    samples: RoundTrips, window: MeasuredWindow, dropped: int, *, requests: bool = False
) -> CapacityRun:
    """A closed loop's run from its raw samples: every figure counts the messages *sent* in
    the window (:mod:`pushbench.core.closed_loop`), so its intervals add up to it exactly."""
    cpu_before = time.process_time()
    grid = window.grid
    series = closed_loop_series(
        grid,
        samples.sent_ns,
        samples.latencies_ns,
        samples.failed_ns,
        samples.recovered_ns,
        requests=requests,
        start_epoch_s=window.start_epoch_s,
    )
    round_trips = in_window(grid, samples.sent_ns, samples.latencies_ns)
    run = CapacityRun(len(round_trips), window.duration_s, dropped, round_trips)
    run.lost = sum(series.lost)
    run.late = sum(tally(grid, samples.recovered_ns))
    run.intervals = series
    run.bookkeeping_cpu_s = time.process_time() - cpu_before
    return run


def counted_run(window: MeasuredWindow, at_edges: list[int], dropped: int) -> CapacityRun:
    """A run that counts deliveries at the window's interval edges (fan-out)."""
    series = counted_series(window.grid, at_edges, start_epoch_s=window.start_epoch_s)
    run = CapacityRun(at_edges[-1] - at_edges[0], window.duration_s, dropped)
    run.intervals = series
    return run


async def _measure(
    clients: list[RawClient], warmup_s: float, duration_s: float, interval_s: float
) -> CapacityRun:
    """Frames counted over all ``clients`` in the window, read at each interval's edge."""
    await asyncio.sleep(warmup_s)  # the warm-up itself: a fixed span of wall time
    window = MeasuredWindow.opening_now(duration_s, interval_s)
    counts = await count_at_edges(window.grid, lambda: sum(c.frames for c in clients))
    return counted_run(window, counts, sum(c.closed for c in clients))


def _outstanding(clients: list[RawClient], end_ns: int) -> bool:
    """Some open connection still waits for the answer to a message sent before ``end_ns``."""
    return any(c.sent_ns < end_ns and not c.closed for c in clients)


async def echo_capacity(
    ws_base: str,
    connections: int = 50,
    payload_bytes: int = 64,
    duration_s: float = 5.0,
    warmup_s: float = 1.0,
    interval_s: float = DEFAULT_INTERVAL_S,
) -> CapacityRun:
    """Closed-loop echo on ``connections`` sockets: each sends again as soon as its echo lands.

    A round trip counts in the window (and its interval) its message was sent in; the messages
    still out when the window ends get :data:`~pushbench.drivers.round_trips.DRAIN_LIMIT_S` to
    come back, then count as lost.
    """
    payload = b"x" * payload_bytes
    frame = encode_text(payload)  # prebuilt; compressed per message under permessage-deflate
    samples = RoundTrips()
    record_latency = samples.latencies_ns.append
    record_sent = samples.sent_ns.append
    clock = CLOCK

    def again(client: RawClient) -> None:
        now = clock()
        sent = client.sent_ns
        record_latency(now - sent)
        record_sent(sent)
        client.sent_ns = now
        if client.deflate is None:
            client.send(frame)
        else:
            client.send_text(payload)

    clients = await asyncio.gather(*(open_raw(f"{ws_base}/ws", again) for _ in range(connections)))
    try:
        for client in clients:
            client.sent_ns = clock()
            client.send_text(payload)
        await asyncio.sleep(warmup_s)  # the warm-up itself: a fixed span of wall time
        samples.clear()
        window = MeasuredWindow.opening_now(duration_s, interval_s)
        await window.close()
        end = window.grid.end_ns
        await drain(lambda: _outstanding(clients, end))
        samples.failed_ns.extend(c.sent_ns for c in clients if c.sent_ns < end)
        return closed_loop_run(samples, window, sum(c.closed for c in clients))
    finally:
        for client in clients:
            client.close()


async def fanout_capacity(
    ws_base: str,
    subscribers: int = 100,
    payload_bytes: int = 64,
    duration_s: float = 5.0,
    warmup_s: float = 1.0,
    window: int = 64,
    interval_s: float = DEFAULT_INTERVAL_S,
) -> CapacityRun:
    """One publisher, ``subscribers`` push sockets; deliveries counted over all subscribers
    (read at every interval's edge: fan-out frames are counted, not timed).

    The publisher keeps at most ``window`` messages ahead of the first subscriber, so the server
    runs flat out without queues growing until slow-subscriber drops kick in.
    """
    room = f"capacity-{uuid.uuid4().hex[:8]}"
    body = orjson.dumps({"publisher": "cap", "payload": "x" * payload_bytes})
    frame = encode_text(body)
    publisher = await open_raw(f"{ws_base}/ws/rooms/{room}?receive=false")
    # Compressed per message (the context kept) when permessage-deflate was negotiated.
    send = publisher.send_text if publisher.deflate is not None else publisher.send
    message = body if publisher.deflate is not None else frame
    sent = [0]

    def refill(client: RawClient) -> None:
        # Called by the pacing subscriber per delivery: top the window back up.
        while sent[0] - client.frames - 1 < window:
            send(message)
            sent[0] += 1

    pacer = await open_raw(f"{ws_base}/ws/rooms/{room}", refill)
    others = await asyncio.gather(
        *(open_raw(f"{ws_base}/ws/rooms/{room}") for _ in range(subscribers - 1))
    )
    clients = [pacer, *others]
    try:
        for _ in range(window):
            send(message)
            sent[0] += 1
        return await _measure(clients, warmup_s, duration_s, interval_s)
    finally:
        for client in [*clients, publisher]:
            client.close()


async def idle_connections(
    ws_base: str, count: int, batch: int = 500, path: str | Callable[[int], str] | None = None
) -> list[RawClient]:
    """Open ``count`` idle sockets to ``path`` (default: subscriptions to a new room; a
    callable: the path of the n-th socket, for a profile's ``{client}``), in batches so the
    listen backlog never overflows."""
    path = path or f"/ws/rooms/idle-{uuid.uuid4().hex[:8]}"
    path_of = path if callable(path) else (lambda _n, fixed=path: fixed)
    clients: list[RawClient] = []
    try:
        for start in range(0, count, batch):
            clients += await asyncio.gather(
                *(
                    open_raw(f"{ws_base}{path_of(n)}")
                    for n in range(start, start + min(batch, count - start))
                )
            )
    except BaseException:
        for client in clients:
            with contextlib.suppress(Exception):
                client.close()
        raise
    return clients


async def poll_capacity(
    http_base: str,
    pollers: int = 20,
    duration_s: float = 5.0,
    warmup_s: float = 1.0,
    seed_messages: int = 10,
    interval_s: float = DEFAULT_INTERVAL_S,
) -> CapacityRun:
    """Closed-loop short polling: ``pollers`` keep-alive connections, each asking again as soon
    as its answer lands (:mod:`pushbench.drivers.rawhttp`).

    Every poll is ``GET /rooms/{room}/messages?after=<last>`` on a room seeded with a few
    messages, so each answer is the common idle case: nothing new. Counts requests per second
    (``messages`` = requests sent in the measured window and answered 2xx; ``lost``: the rest).
    """
    import aiohttp  # here: the raw-socket workloads above do not need it

    room = f"poll-{uuid.uuid4().hex[:8]}"
    url = f"{http_base}/rooms/{room}/messages"
    last = 0
    connector = aiohttp.TCPConnector(ssl=client_context())
    async with aiohttp.ClientSession(connector=connector, headers=auth_headers()) as http:
        for i in range(seed_messages):
            async with http.post(url, json={"publisher": "poll", "seq": i, "payload": i}) as r:
                r.raise_for_status()
                last = max(last, int((await r.json())["id"]))
    headers = auth_headers()
    samples = RoundTrips()
    clients = await asyncio.gather(
        *(open_raw_http(f"{url}?after={last}", headers, samples) for _ in range(pollers))
    )
    return await closed_loop_polls(clients, samples, duration_s, warmup_s, interval_s)


async def closed_loop_polls(
    clients: list[RawHttpClient],
    samples: RoundTrips,
    duration_s: float,
    warmup_s: float,
    interval_s: float,
) -> CapacityRun:
    """Run ``clients`` (recording into ``samples``) in a closed loop over the warm-up and the
    window; every request sent in the window counts, answered 2xx or lost."""
    try:
        for client in clients:
            client.start()
        await asyncio.sleep(warmup_s)  # the warm-up itself: a fixed span of wall time
        samples.clear()
        window = MeasuredWindow.opening_now(duration_s, interval_s)
        failed_before = sum(c.failed for c in clients)
        await window.close()
        end = window.grid.end_ns
        await drain(lambda: any(c.sent_ns < end and not c.closed for c in clients))
        failed = sum(c.failed for c in clients) - failed_before
        samples.failed_ns.extend(c.sent_ns for c in clients if c.sent_ns < end)
    finally:
        for client in clients:
            client.close()
    broken = sum(1 for c in clients if c.error is not None)
    return closed_loop_run(samples, window, broken + failed, requests=True)
