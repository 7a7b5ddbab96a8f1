"""Open-loop publishers: messages leave on a fixed schedule, whatever the server does.

Each message carries its *scheduled* send time as ``sent_ns``. When the server (or this process)
stalls, the messages still due are sent late but keep their schedule, so the stall shows up as
latency instead of silently lowering the offered load (coordinated omission).
"""

from __future__ import annotations

import asyncio
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import orjson
from websockets.asyncio.client import ClientConnection, connect

from pushbench.drivers.pacer import Pacer
from pushbench.drivers.recorder import now_ns
from pushbench.harness.client_auth import auth_headers
from pushbench.harness.client_deflate import websockets_compression
from pushbench.harness.client_tls import client_ssl

__all__ = ["PublishStats", "Sender", "connect_publishers", "envelope_frame", "publish_open_loop"]


@dataclass(slots=True)
class PublishStats:
    """What the publishers attempted and sent, and how far behind schedule they fell.

    ``attempted`` counts every message the schedule sent off; ``sent`` (per publisher id) the
    ones written without an error, which are the only ones subscribers are owed. A failed
    message is not retried: its slot in the schedule has passed.
    """

    sent: dict[str, int]
    max_lag_ns: int = 0
    #: How far behind its schedule each message left, ns (the harness's own share of latency).
    lateness_ns: array[int] = field(default_factory=lambda: array("q"))
    attempted: int = 0
    failed: int = 0
    #: When the first send failed (``now_ns`` clock) and why, to say when the target went away.
    first_failure_ns: int | None = None
    first_failure: str = ""
    #: Per publisher, the scheduled send time of each seq sent (index = seq): what places a
    #: message owed, or lost, in its interval.
    scheduled_ns: dict[str, array[int]] = field(default_factory=dict)

    @property
    def sent_total(self) -> int:
        """Messages sent, over all publishers."""
        return sum(self.sent.values())

    def fail(self, exc: Exception, when_ns: int) -> None:
        """Count one failed send, keeping the first failure's time and reason."""
        self.failed += 1
        if self.first_failure_ns is None:
            self.first_failure_ns = when_ns
            self.first_failure = f"{type(exc).__name__}: {exc}"


async def connect_publishers(ws_base: str, room: str, count: int) -> list[ClientConnection]:
    """``count`` publish-only sockets to ``room``."""
    url = f"{ws_base}/ws/rooms/{room}?receive=false"
    return list(
        await asyncio.gather(
            *(
                connect(
                    url,
                    compression=websockets_compression(),
                    max_size=None,
                    ping_interval=None,
                    additional_headers=auth_headers(),
                    ssl=client_ssl(url),
                )
                for _ in range(count)
            )
        )
    )


class Sender(Protocol):
    """Where a publisher's messages go: a WebSocket, or an HTTP request per message."""

    async def send(self, message: str | bytes, /) -> None: ...

    async def close(self) -> None: ...


def envelope_frame(publisher: str, seq: int, scheduled_ns: int, payload: str) -> str:
    """The reference server's publish envelope (its receivers read these fields back)."""
    return orjson.dumps(
        {"publisher": publisher, "seq": seq, "sent_ns": scheduled_ns, "payload": payload}
    ).decode()


async def publish_open_loop(
    sockets: Sequence[Sender],
    rate_per_s: float,
    start_ns: int,
    end_ns: int,
    payload: str,
    stats: PublishStats,
    make_frame: Callable[[str, int, int, str], str | bytes] = envelope_frame,
) -> None:
    """Send message k at ``start_ns + k / rate`` until ``end_ns``, round-robin over ``sockets``.

    ``make_frame(publisher, seq, scheduled_ns, payload)`` writes each message: the reference
    envelope, or a target profile's template with the payload token in it.
    """
    interval_ns = round(1e9 / rate_per_s)
    pacer = Pacer()
    try:
        await _publish(sockets, interval_ns, start_ns, end_ns, payload, stats, make_frame, pacer)
    finally:
        pacer.close()


async def _publish(
    sockets: Sequence[Sender],
    interval_ns: int,
    start_ns: int,
    end_ns: int,
    payload: str,
    stats: PublishStats,
    make_frame: Callable[[str, int, int, str], str | bytes],
    pacer: Pacer,
) -> None:
    names = [f"pub-{index}" for index in range(len(sockets))]
    for name in names:
        stats.sent.setdefault(name, 0)
        stats.scheduled_ns.setdefault(name, array("q"))
    k = 0
    while True:
        scheduled = start_ns + k * interval_ns
        if scheduled >= end_ns:
            return
        now = now_ns()
        if scheduled > now:
            await pacer.sleep_until(scheduled)
            now = now_ns()
        # Everything already due goes out now, each with its own scheduled time.
        while scheduled <= now and scheduled < end_ns:
            index = k % len(sockets)
            name = names[index]
            seq = stats.sent[name]
            frame = make_frame(name, seq, scheduled, payload)
            stats.attempted += 1
            try:
                await sockets[index].send(frame)
            except Exception as exc:  # whatever the socket raises, the message was not sent
                stats.fail(exc, now_ns())
            else:
                stats.sent[name] = seq + 1
                stats.scheduled_ns[name].append(scheduled)
            stats.max_lag_ns = max(stats.max_lag_ns, now - scheduled)
            stats.lateness_ns.append(now - scheduled)
            k += 1
            scheduled = start_ns + k * interval_ns
