"""Open-loop publishers count what they attempted, sent and failed (fake sockets, no network)."""

from __future__ import annotations

import asyncio
from typing import Any

from pushbench.drivers.publisher import PublishStats, publish_open_loop
from pushbench.drivers.recorder import now_ns


class _DyingSocket:
    """Accepts ``alive`` frames, then raises as a socket whose peer has gone away."""

    def __init__(self, alive: int) -> None:
        self.alive = alive
        self.frames: list[str] = []

    async def send(self, frame: str) -> None:
        if len(self.frames) >= self.alive:
            raise ConnectionResetError("peer gone")
        self.frames.append(frame)


def test_failed_sends_are_counted_not_dropped() -> None:
    sockets = [_DyingSocket(alive=10), _DyingSocket(alive=30)]
    stats = PublishStats(sent={})
    start = now_ns()
    # 100 messages due over 50 ms, round-robin over both sockets: 50 each.
    end = start + 50_000_000
    schedule: Any = sockets  # duck-typed: publish_open_loop only calls send()
    asyncio.run(publish_open_loop(schedule, 2000.0, start, end, "x", stats))
    assert stats.attempted == 100
    assert stats.sent == {"pub-0": 10, "pub-1": 30}
    assert stats.sent_total == 40
    assert stats.failed == 60
    assert stats.first_failure == "ConnectionResetError: peer gone"
    assert stats.first_failure_ns is not None
    assert start <= stats.first_failure_ns <= now_ns()
    # Sequence numbers stay gapless per publisher: only sent messages are owed to subscribers.
    assert [f'"seq":{i},' in frame for i, frame in enumerate(sockets[1].frames)] == [True] * 30


def test_a_healthy_schedule_sends_every_attempt() -> None:
    stats = PublishStats(sent={})
    start = now_ns()
    socket: Any = _DyingSocket(alive=1_000)
    asyncio.run(publish_open_loop([socket], 1000.0, start, start + 20_000_000, "x", stats))
    assert (stats.attempted, stats.sent_total, stats.failed) == (20, 20, 0)
    assert stats.first_failure_ns is None
