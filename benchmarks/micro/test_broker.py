"""The memory broker alone: fan-out of one publish, and the history lookup behind every poll."""

from __future__ import annotations

import asyncio

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.micro.conftest import Loop
from benchmarks.micro.sync import run_now
from target_app.broker import MemoryBroker, Page
from target_app.envelope import PublishRequest
from target_app.subscription import Subscription

ROOM = "bench"
HISTORY = 10_000


@pytest.mark.benchmark(group="fanout-memory-broker")
@pytest.mark.parametrize("subscribers", [1, 100, 1_000])
def test_fanout_memory_broker(benchmark: BenchmarkFixture, payload: str, subscribers: int) -> None:
    """``publish`` of one message (encode once, append to history, offer to every queue), then
    each subscriber's writer taking its batch of one — without tasks or sockets."""
    broker = MemoryBroker(history_size=HISTORY, send_queue_size=1_000, max_rooms=10)
    loop = asyncio.new_event_loop()
    try:
        subs: list[Subscription] = [
            loop.run_until_complete(broker.subscribe(ROOM, None)) for _ in range(subscribers)
        ]
    finally:
        loop.close()
    request = PublishRequest(publisher="bench", seq=0, payload=payload)

    def publish_and_drain() -> int:
        run_now(broker.publish(ROOM, request))
        taken = 0
        for sub in subs:
            taken += len(run_now(sub.get_batch()))
        return taken

    assert benchmark(publish_and_drain) == subscribers
    assert not any(sub.dropped for sub in subs)


@pytest.fixture(scope="module")
def full_broker() -> MemoryBroker:
    """A room whose history is full: 20,000 published, the last 10,000 kept."""
    broker = MemoryBroker(history_size=HISTORY, send_queue_size=1, max_rooms=10)
    request = PublishRequest(publisher="bench", seq=0, payload="x" * 64)
    for _ in range(2 * HISTORY):
        run_now(broker.publish(ROOM, request))
    return broker


_CURSORS = {
    # (after, limit, messages expected)
    "up-to-date": (2 * HISTORY, 100, 0),
    "one-new": (2 * HISTORY - 1, 100, 1),
    "mid-history-100": (HISTORY + HISTORY // 2, 100, 100),
    "behind-history-missed": (10, 100, 100),
}


@pytest.mark.benchmark(group="history-cursor")
@pytest.mark.parametrize("cursor", list(_CURSORS))
def test_history_cursor(
    benchmark: BenchmarkFixture, full_broker: MemoryBroker, cursor: str
) -> None:
    """The page one poll reads: cursor → index in a full history (ids are contiguous)."""
    after, limit, expected = _CURSORS[cursor]
    page = benchmark(lambda: run_now(full_broker.read(ROOM, after, limit)))
    assert len(page.messages) == expected


@pytest.mark.benchmark(group="long-poll-wake")
@pytest.mark.parametrize("waiters", [1, 100, 1_000])
def test_long_poll_wake(benchmark: BenchmarkFixture, loop: Loop, waiters: int) -> None:
    """One publish into a full room answering ``waiters`` long polls parked at the newest id:
    the shared future's wake-up, then every waiter re-reading its page from history."""
    broker = MemoryBroker(history_size=HISTORY, send_queue_size=1, max_rooms=10)
    request = PublishRequest(publisher="bench", seq=0, payload="x" * 64)
    for _ in range(2 * HISTORY):
        run_now(broker.publish(ROOM, request))

    async def park() -> list[asyncio.Task[Page]]:
        after = (await broker.read(ROOM, 0, 1)).next  # a cursor behind history: next = first
        last = after
        while (page := await broker.read(ROOM, last, 1_000)).messages:
            last = page.next
        tasks = [asyncio.create_task(broker.wait(ROOM, last, 100, 60.0)) for _ in range(waiters)]
        await asyncio.sleep(0)  # every waiter parks on the room's future
        return tasks

    async def publish_and_answer(tasks: list[asyncio.Task[Page]]) -> int:
        await broker.publish(ROOM, request)
        pages = await asyncio.gather(*tasks)
        return sum(len(page.messages) for page in pages)

    def setup() -> tuple[tuple[list[asyncio.Task[Page]]], dict[str, object]]:
        return (loop.run(park()),), {}

    # pedantic: every round needs fresh parked waiters, made untimed in setup. (pytest-benchmark
    # leaves pedantic's signature unannotated.)
    answered = benchmark.pedantic(  # type: ignore[no-untyped-call]
        lambda tasks: loop.run(publish_and_answer(tasks)),
        setup=setup,
        rounds=200 if waiters < 1_000 else 40,
    )
    assert answered == waiters
