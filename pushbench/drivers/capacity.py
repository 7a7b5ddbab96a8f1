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

from pushbench.drivers.rawhttp import open_raw_http
from pushbench.drivers.rawws import RawClient, open_raw
from pushbench.drivers.wsframes import encode_text
from pushbench.harness.client_auth import auth_headers
from pushbench.harness.client_tls import client_context

__all__ = ["CapacityRun", "echo_capacity", "fanout_capacity", "idle_connections", "poll_capacity"]


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

    @property
    def per_s(self) -> float:
        return self.messages / self.duration_s if self.duration_s > 0 else 0.0


async def _measure(clients: list[RawClient], warmup_s: float, duration_s: float) -> CapacityRun:
    await asyncio.sleep(warmup_s)
    before = sum(c.frames for c in clients)
    start = time.perf_counter()
    # The measured interval itself: a fixed span of wall time, not a synchronisation.
    await asyncio.sleep(duration_s)
    counted = sum(c.frames for c in clients) - before
    elapsed = time.perf_counter() - start
    return CapacityRun(counted, elapsed, sum(c.closed for c in clients))


async def echo_capacity(
    ws_base: str,
    connections: int = 50,
    payload_bytes: int = 64,
    duration_s: float = 5.0,
    warmup_s: float = 1.0,
) -> CapacityRun:
    """Closed-loop echo on ``connections`` sockets: each sends again as soon as its echo lands."""
    payload = b"x" * payload_bytes
    frame = encode_text(payload)  # prebuilt; compressed per message under permessage-deflate
    round_trips: array[int] = array("q")
    record = round_trips.append
    clock = time.perf_counter_ns

    def again(client: RawClient) -> None:
        now = clock()
        record(now - client.sent_ns)
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
        await asyncio.sleep(warmup_s)
        del round_trips[:]
        run = await _measure(list(clients), 0.0, duration_s)
        run.round_trips_ns = array("q", round_trips)
        return run
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
) -> CapacityRun:
    """One publisher, ``subscribers`` push sockets; deliveries counted over all subscribers.

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
        return await _measure(clients, warmup_s, duration_s)
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
) -> CapacityRun:
    """Closed-loop short polling: ``pollers`` keep-alive connections, each asking again as soon
    as its answer lands (:mod:`pushbench.drivers.rawhttp`).

    Every poll is ``GET /rooms/{room}/messages?after=<last>`` on a room seeded with a few
    messages, so each answer is the common idle case: nothing new. Counts requests per second
    (``messages`` = requests answered 2xx in the measured interval).
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
    clients = await asyncio.gather(
        *(open_raw_http(f"{url}?after={last}", headers) for _ in range(pollers))
    )
    try:
        for client in clients:
            client.start()
        # Fixed spans of wall time: the warm-up and the measured interval themselves.
        await asyncio.sleep(warmup_s)
        before, start = sum(c.ok for c in clients), time.perf_counter()
        failed_before = sum(c.failed for c in clients)
        await asyncio.sleep(duration_s)
        counted, elapsed = sum(c.ok for c in clients) - before, time.perf_counter() - start
        failed = sum(c.failed for c in clients) - failed_before
    finally:
        for client in clients:
            client.close()
    broken = sum(1 for c in clients if c.error is not None)
    return CapacityRun(counted, elapsed, dropped_connections=broken + failed)
