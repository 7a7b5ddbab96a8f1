"""One scenario: P open-loop publishers, S subscribers of one transport, fresh rooms (default one).

With ``rooms`` > 1 the subscribers and the publishers are dealt round-robin over the rooms
(subscriber j and publisher i in room ``j % rooms`` and ``i % rooms``), so fan-out (subscribers
per room) varies apart from the connected clients; each subscriber is owed its room's messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from websockets.exceptions import InvalidHandshake

from pushbench.core.histogram import LatencyHistogram
from pushbench.core.integrity import IntegrityCounts
from pushbench.core.intervals import DEFAULT_INTERVAL_S, IntervalGrid, IntervalSeries
from pushbench.core.kinds import Transport
from pushbench.core.payload_kind import DEFAULT_PAYLOAD_KIND, payload_maker
from pushbench.core.target_adapter import TargetAdapter
from pushbench.drivers.profiled import FrameMaker, ProfiledPublishers, profiled_subscriber
from pushbench.drivers.publisher import (
    PublishStats,
    connect_publishers,
    envelope_frame,
    publish_open_loop,
)
from pushbench.drivers.recorder import Recorder, Window, fold, now_ns
from pushbench.drivers.stalled import StalledSubscriber, open_stalled
from pushbench.drivers.subscribers import SUBSCRIBERS, PollTiming, SubscriberContext
from pushbench.harness.client_auth import auth_headers
from pushbench.harness.client_tls import client_context

__all__ = ["ScenarioRun", "ScenarioSpec", "run_scenario"]

#: Subscribers must all be connected within this many seconds, or the scenario fails.
READY_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    """What to run. Only ``transport`` (and its poll interval) differs between compared runs."""

    transport: Transport
    """A push transport (a member, or its string: it is made a member)."""
    rate_per_s: float = 100.0
    publishers: int = 2
    subscribers: int = 50
    payload_bytes: int = 64
    duration_s: float = 10.0
    warmup_s: float = 2.0
    poll_interval_s: float | None = None
    profile: TargetAdapter | None = None
    """How to drive an app of the user's own (``--profile``); None or ``reference``: the
    reference server, whose receivers read its envelope."""
    stalled_subscribers: int = 0
    """WebSocket subscribers that connect and never read (:mod:`pushbench.drivers.stalled`):
    not measured themselves; what they do to the measured subscribers is the point."""
    interval_s: float = DEFAULT_INTERVAL_S
    """Width of the intervals the measured window is cut into (``--interval``)."""
    rooms: int = 1
    """Rooms the subscribers and publishers are spread over; publishers must be a multiple, so
    each room gets the same publish rate (``rate_per_s`` is all rooms together)."""
    payload_kind: str = DEFAULT_PAYLOAD_KIND
    """What the payload holds (``--payload``, :mod:`pushbench.core.payload_kind`)."""
    ws_per_message_deflate: bool | None = None
    """Whether the WebSocket clients offered permessage-deflate (and the server took it);
    recorded in the params, None: not recorded. The clients follow
    :mod:`pushbench.harness.client_deflate`, which the command sets to match."""

    def __post_init__(self) -> None:
        if self.transport not in SUBSCRIBERS:
            raise ValueError(
                f"unknown transport {self.transport!r}; choose from {', '.join(SUBSCRIBERS)}"
            )
        object.__setattr__(self, "transport", Transport(self.transport))  # frozen: once, here
        if self.transport == Transport.SHORT_POLL and not self.poll_interval_s:
            raise ValueError("short-poll needs a poll interval > 0")
        for name in ("rate_per_s", "duration_s", "interval_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")
        payload_maker(self.payload_kind, 0)  # an unknown kind is refused here
        if self.publishers < 1 or self.subscribers < 1:
            raise ValueError("publishers and subscribers must be at least 1")
        if self.warmup_s < 0 or self.payload_bytes < 0:
            raise ValueError("warmup_s and payload_bytes must be >= 0")
        if self.stalled_subscribers < 0:
            raise ValueError("stalled_subscribers must be >= 0")
        if self.stalled_subscribers and self.transport != Transport.WS:
            raise ValueError("stalled subscribers are WebSocket clients: ws scenarios only")
        if self.rooms < 1 or self.subscribers < self.rooms or self.publishers % self.rooms:
            raise ValueError(
                "rooms must be at least 1, at most the subscribers, and divide the publishers"
            )
        if self.rooms > 1 and self.custom_profile:
            raise ValueError("rooms > 1 runs against the reference server only")
        profile = self.profile
        skipped = profile.skipped((self.transport,)) if profile and not profile.reference else {}
        if skipped:
            raise ValueError(skipped[self.transport])

    @property
    def custom_profile(self) -> bool:
        """Whether the target is a user's app (tokens in payloads), not the reference server."""
        return self.profile is not None and not self.profile.reference

    @property
    def name(self) -> str:
        """``ws``, ``sse``, ``long-poll``, or ``short-poll@<interval>``."""
        if self.transport == Transport.SHORT_POLL:
            return f"{self.transport}@{self.poll_interval_s:g}"
        return str(self.transport)

    def params(self) -> dict[str, Any]:
        """The scenario's parameters as the results document records them."""
        params: dict[str, Any] = {
            "rate_per_s": self.rate_per_s,
            "publishers": self.publishers,
            "subscribers": self.subscribers,
            "payload_bytes": self.payload_bytes,
            "duration_s": self.duration_s,
            "warmup_s": self.warmup_s,
        }
        if self.poll_interval_s is not None and self.transport == Transport.SHORT_POLL:
            params["poll_interval_s"] = self.poll_interval_s
        if self.profile is not None and self.custom_profile:
            params["profile"] = self.profile.name
        if self.stalled_subscribers:
            params["stalled_subscribers"] = self.stalled_subscribers
        if self.rooms != 1:  # one room: recorded as before rooms existed
            params["rooms"] = self.rooms
        params["payload_kind"] = self.payload_kind
        if self.ws_per_message_deflate is not None:
            params["ws_per_message_deflate"] = self.ws_per_message_deflate
        return params

    @property
    def fanout(self) -> float:
        """Subscribers per room (the subscriber count in one room)."""
        return self.subscribers / self.rooms

    @property
    def drain_s(self) -> float:
        """How long stragglers may take to arrive after the last publish."""
        return 2.0 + 2 * (self.poll_interval_s or 0.0)


@dataclass(slots=True)
class ScenarioRun:
    """What one scenario measured."""

    spec: ScenarioSpec
    window: Window
    histogram: LatencyHistogram
    integrity: IntegrityCounts
    http_requests: int | None
    publish: PublishStats
    errors: list[str] = field(default_factory=list)
    max_loop_lag_ns: int = 0
    interrupted: bool = False
    #: This process's CPU seconds and the wall seconds from first publish to end of drain.
    generator_cpu_s: float = 0.0
    generator_wall_s: float = 0.0
    #: The measured window over time (``spec.interval_s`` slices); its merge is ``histogram``.
    intervals: IntervalSeries | None = None
    #: WebSocket bytes the subscribers received after their handshakes, all together (frames
    #: as they crossed the socket: counted, not estimated); None: not a ws scenario.
    ws_received_bytes: int | None = None


async def run_scenario(
    base_url: str,
    spec: ScenarioSpec,
    progress: Callable[[float], None] | None = None,
    on_publishing: Callable[[bool], None] | None = None,
) -> ScenarioRun:
    """Run ``spec`` against the server at ``base_url``; cancellation keeps what was measured.

    When cancelled (Ctrl-C), the returned run has ``interrupted`` set and covers the messages
    sent so far. The caller decides what to do with a partial run. ``on_publishing(True)`` is
    called just before the first publish and ``on_publishing(False)`` once the last message has
    been drained (or the run was cut short), so a caller can sample the server over exactly the
    phase the generator's own CPU figure covers: no connection set-up, no teardown.
    """
    room = f"{spec.name.replace('@', '-')}-{uuid.uuid4().hex[:8]}"
    rooms = [room] if spec.rooms == 1 else [f"{room}-{k}" for k in range(spec.rooms)]
    window = Window()
    recorders = [Recorder(window) for _ in range(spec.subscribers)]
    stats = PublishStats(sent={})
    errors: list[str] = []
    lag = [0]
    usage = [0.0, 0.0]
    requests_at: list[int] = []
    interrupted = False
    subscribe = (
        profiled_subscriber(spec.profile, spec.transport)
        if spec.profile is not None and spec.custom_profile
        else SUBSCRIBERS[spec.transport]
    )
    timing = PollTiming(poll_interval_s=spec.poll_interval_s)
    connector = aiohttp.TCPConnector(limit=0, force_close=False, ssl=client_context())
    tasks: list[asyncio.Task[None]] = []
    publishers: list[Any] = []
    profiled: ProfiledPublishers | None = None
    stalled: list[StalledSubscriber] = []
    make_frame: FrameMaker = envelope_frame
    async with aiohttp.ClientSession(connector=connector, headers=auth_headers()) as http:
        try:
            readies = [asyncio.Event() for _ in recorders]
            tasks = [
                asyncio.create_task(
                    subscribe(
                        SubscriberContext(base_url, rooms[j % spec.rooms], rec, http, ready, timing)
                    )
                )
                for j, (rec, ready) in enumerate(zip(recorders, readies, strict=True))
            ]
            await _all_ready(readies, tasks)
            stalled = await _open_stalled(base_url, room, spec)
            if spec.profile is not None and spec.custom_profile:
                # Client numbers after the subscribers' (1..S): {client} is one per connection.
                first = spec.subscribers + 1
                profiled = await ProfiledPublishers.open(
                    spec.profile, base_url, room, spec.publishers, first, http
                )
                publishers, make_frame = profiled.senders, profiled.make_frame
            else:
                ws_base = "ws" + base_url.removeprefix("http")
                publishers = await _connect_spread(ws_base, rooms, spec.publishers)
            start = now_ns() + 50_000_000
            window.start_ns = start + round(spec.warmup_s * 1e9)
            window.end_ns = window.start_ns + round(spec.duration_s * 1e9)
            payload = "x" * spec.payload_bytes
            fresh = payload_maker(spec.payload_kind, spec.payload_bytes)
            if fresh is not None:  # a new payload per message (random: nothing repeats)
                make_frame = _fresh_payloads(make_frame, fresh)
            monitor = asyncio.create_task(_watch_loop_lag(lag))
            grid = IntervalGrid(window.start_ns, window.end_ns, round(spec.interval_s * 1e9))
            ticker = (
                None
                if spec.transport == Transport.WS
                else asyncio.create_task(_count_requests(grid, recorders, requests_at))
            )
            if on_publishing is not None:
                on_publishing(True)
            cpu_start, wall_start = time.process_time(), time.monotonic()
            try:
                # A target that stops reading its publishers' sockets (a broadcast loop stuck on
                # a client that never reads) blocks their sends: past the schedule's end plus
                # the drain time, publishing is given up and said, not waited for.
                give_up_s = (window.end_ns - now_ns()) / 1e9 + spec.drain_s
                try:
                    async with asyncio.timeout(give_up_s):
                        await _with_progress(
                            publish_open_loop(
                                publishers,
                                spec.rate_per_s,
                                start,
                                window.end_ns,
                                payload,
                                stats,
                                make_frame,
                            ),
                            start,
                            window.end_ns,
                            progress,
                        )
                except TimeoutError:
                    expected = expected_messages(spec)
                    errors.append(
                        f"publishing blocked: a send was still waiting {spec.drain_s:g} s after "
                        "the schedule's end (the target stopped reading its publishers); "
                        f"{expected - stats.sent_total} of the schedule's {expected} messages "
                        "never left"
                    )
                # The window lasts to its end even when the last message (scheduled up to one
                # publish interval before it) arrived sooner: the server's last sample then
                # covers the last interval.
                await asyncio.sleep(max(0, window.end_ns - now_ns()) / 1e9)
                await _drain(recorders, stats, spec.drain_s, tasks, spec.rooms)
            finally:
                monitor.cancel()
                if ticker is not None:
                    ticker.cancel()
                usage[0] = time.process_time() - cpu_start
                usage[1] = time.monotonic() - wall_start
                if on_publishing is not None:
                    on_publishing(False)
        except asyncio.CancelledError:
            interrupted = True
            errors.append("interrupted: results cover the messages sent until then")
        except (OSError, aiohttp.ClientError, TimeoutError, InvalidHandshake) as exc:
            # InvalidHandshake: a publisher refused at the handshake (401 without the token).
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                errors.extend(_task_error(task))
            for client in stalled:
                client.close()
            if profiled is not None:
                await profiled.close()
            else:
                for ws in publishers:
                    with contextlib.suppress(Exception):
                        await ws.close()
    if window.end_ns == 0:  # never started publishing
        window.start_ns = window.end_ns = now_ns()
    grid = IntervalGrid(window.start_ns, window.end_ns, round(spec.interval_s * 1e9))
    series, integrity = _fold_rooms(recorders, stats.sent, grid, stats.scheduled_ns, spec.rooms)
    series.start_epoch_s = time.time() - (now_ns() - window.start_ns) / 1e9
    histogram = series.whole()
    if stats.first_failure_ns is not None:  # first: it says when, the subscribers' errors echo it
        after_s = (stats.first_failure_ns - window.start_ns) / 1e9 + spec.warmup_s
        errors.append(
            f"publishing failed {after_s:.1f} s into the schedule (the target stopped "
            f"answering?): {stats.first_failure}"
        )
    for recorder in recorders:
        errors.extend(e for e in recorder.errors if e not in errors)
    http_requests = (
        None if spec.transport == Transport.WS else sum(r.http_requests for r in recorders)
    )
    if http_requests is not None:
        series.http_requests = _requests_per_interval(grid, requests_at, http_requests)
    return ScenarioRun(
        spec,
        window,
        histogram,
        integrity,
        http_requests,
        stats,
        errors[:50],
        lag[0],
        interrupted,
        generator_cpu_s=usage[0],
        generator_wall_s=usage[1],
        intervals=series,
        ws_received_bytes=sum(r.ws_received_bytes for r in recorders)
        if spec.transport == Transport.WS
        else None,
    )


def _fresh_payloads(make_frame: FrameMaker, fresh: Callable[[], str]) -> FrameMaker:
    """``make_frame`` with each message's payload drawn anew instead of the constant one."""

    def make(publisher: str, seq: int, scheduled_ns: int, _payload: str) -> str | bytes:
        return make_frame(publisher, seq, scheduled_ns, fresh())

    return make


async def _open_stalled(base_url: str, room: str, spec: ScenarioSpec) -> list[StalledSubscriber]:
    """The scenario's stalled subscribers, on the measured subscribers' endpoint (a profile's
    ``{client}`` numbers after the publishers': S + P + 1, ...)."""
    if not spec.stalled_subscribers:
        return []
    ws_base = "ws" + base_url.removeprefix("http")
    profile = spec.profile
    if profile is not None and spec.custom_profile:
        first = spec.subscribers + spec.publishers + 1
        paths = [
            profile.ws_subscribe_path(room, first + i) for i in range(spec.stalled_subscribers)
        ]
    else:
        paths = [f"/ws/rooms/{room}"] * spec.stalled_subscribers
    return list(await asyncio.gather(*(open_stalled(ws_base + path) for path in paths)))


async def _count_requests(
    grid: IntervalGrid, recorders: list[Recorder], counted: list[int]
) -> None:
    """At each interval edge, the subscribers' requests so far: once per interval, not per
    request, so polling costs nothing more per request than before intervals."""
    for edge in grid.edges():
        delay = (edge - now_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        counted.append(sum(r.http_requests for r in recorders))


def _requests_per_interval(grid: IntervalGrid, counted: list[int], total: int) -> list[int]:
    """Differences between the edge counts; an edge never reached (a cut-short run) takes the
    final total, so the last interval reached holds the rest."""
    edges = (counted + [total] * (grid.count + 1))[: grid.count + 1]
    return [max(0, edges[i + 1] - edges[i]) for i in range(grid.count)]


async def _connect_spread(ws_base: str, rooms: list[str], count: int) -> list[Any]:
    """``count`` publishers, publisher i in room ``i % len(rooms)`` (its index is its name)."""
    if len(rooms) == 1:
        return list(await connect_publishers(ws_base, rooms[0], count))
    per_room = [await connect_publishers(ws_base, r, count // len(rooms)) for r in rooms]
    return [per_room[i % len(rooms)][i // len(rooms)] for i in range(count)]


def _room_sent(sent: dict[str, int], room: int, rooms: int) -> dict[str, int]:
    """What a subscriber of ``room`` is owed: the publishers of that room (``pub-<i>``)."""
    if rooms == 1:
        return sent
    return {name: n for name, n in sent.items() if int(name.rsplit("-", 1)[1]) % rooms == room}


def _fold_rooms(
    recorders: list[Recorder],
    sent: dict[str, int],
    grid: IntervalGrid,
    scheduled: dict[str, array[int]],
    rooms: int,
) -> tuple[IntervalSeries, IntegrityCounts]:
    """:func:`fold` per room (each subscriber owed its room's messages), merged interval by
    interval."""
    if rooms == 1:
        return fold(recorders, sent, grid, scheduled)
    parts = []
    for room in range(rooms):
        owed = _room_sent(sent, room, rooms)
        times = {name: scheduled.get(name, array("q")) for name in owed}
        parts.append(fold(recorders[room::rooms], owed, grid, times))
    first = parts[0][0]
    for series, _ in parts[1:]:
        for index, histogram in enumerate(series.histograms):
            first.histograms[index].merge(histogram)
            first.sent[index] += series.sent[index]
            first.lost[index] += series.lost[index]
    return first, IntegrityCounts.total(counts for _, counts in parts)


async def _all_ready(readies: list[asyncio.Event], tasks: list[asyncio.Task[None]]) -> None:
    waiters: list[asyncio.Task[Any]] = [asyncio.create_task(ready.wait()) for ready in readies]
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            pending: set[asyncio.Task[Any]] = set(waiters)
            while pending:
                done, pending = await asyncio.wait(
                    pending | {t for t in tasks if not t.done()}, return_when="FIRST_COMPLETED"
                )
                failed = [t for t in tasks if t.done()]
                if failed:
                    raise ConnectionError(
                        "a subscriber could not connect: " + "; ".join(_task_error(failed[0]))
                    )
                pending -= done
                pending = {w for w in pending if w in waiters}
    finally:
        for waiter in waiters:
            waiter.cancel()


def _task_error(task: asyncio.Task[None]) -> list[str]:
    if not task.done() or task.cancelled():
        return []
    exc = task.exception()
    return [] if exc is None else [f"subscriber failed: {type(exc).__name__}: {exc}"]


async def _with_progress(
    work: Any, start_ns: int, end_ns: int, progress: Callable[[float], None] | None
) -> None:
    task = asyncio.ensure_future(work)
    if progress is None:
        await task
        return
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=0.25)
            progress(min(1.0, max(0.0, (now_ns() - start_ns) / (end_ns - start_ns))))
        await task
    finally:
        task.cancel()


async def _drain(
    recorders: list[Recorder],
    stats: PublishStats,
    drain_s: float,
    tasks: list[asyncio.Task[None]],
    rooms: int = 1,
) -> None:
    """Wait until every subscriber has every message of its room, a subscriber died, or
    ``drain_s``."""
    totals = [sum(_room_sent(stats.sent, j % rooms, rooms).values()) for j in range(rooms)]
    deadline = now_ns() + round(drain_s * 1e9)
    while now_ns() < deadline:
        if all(
            r.integrity.first_arrivals >= totals[j % rooms] for j, r in enumerate(recorders)
        ) or any(t.done() for t in tasks):
            return
        # A harness-side completion check: the condition is re-tested, the sleep only paces it.
        await asyncio.sleep(0.02)


async def _watch_loop_lag(worst: list[int]) -> None:
    """Track how late this event loop wakes up: a saturated generator shows here first."""
    interval_ns = 10_000_000
    while True:
        before = now_ns()
        await asyncio.sleep(interval_ns / 1e9)
        worst[0] = max(worst[0], now_ns() - before - interval_ns)


def expected_messages(spec: ScenarioSpec) -> int:
    """How many messages the schedule sends (for progress and sanity checks)."""
    return math.ceil((spec.warmup_s + spec.duration_s) * spec.rate_per_s)
