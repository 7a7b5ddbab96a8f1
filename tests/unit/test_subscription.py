"""``Subscription``: the bounded per-subscriber queue, its wake-ups and its release."""

from __future__ import annotations

import asyncio

import pytest

from target_app.envelope import Envelope
from target_app.subscription import Subscription, SubscriptionDropped


def envelope(i: int) -> Envelope:
    return Envelope(id=i, room="r", text=f'{{"id":{i}}}')


def subscription(maxsize: int = 10, backlog: list[Envelope] | None = None) -> Subscription:
    return Subscription("r", maxsize, on_close=lambda s: None, backlog=backlog)


def test_on_ready_fires_when_work_lands_in_an_empty_queue_with_no_writer_waiting() -> None:
    async def scenario() -> list[int]:
        sub = subscription()
        calls: list[int] = []
        sub.on_ready = lambda: calls.append(sub.pending)
        sub.offer(envelope(1))
        sub.offer(envelope(2))  # the queue was not empty: no second call
        assert [e.id for e in await sub.get_batch()] == [1, 2]
        sub.offer(envelope(3))
        return calls

    assert asyncio.run(scenario()) == [1, 1]


def test_a_parked_writer_is_woken_instead_of_on_ready() -> None:
    async def scenario() -> tuple[list[int], list[int]]:
        sub = subscription()
        calls: list[int] = []
        sub.on_ready = lambda: calls.append(1)
        writer = asyncio.create_task(sub.get_batch())
        await asyncio.sleep(0)  # let the writer park: one loop step, no timing involved
        assert sub.parked
        sub.offer(envelope(1))
        return [e.id for e in await writer], calls

    assert asyncio.run(scenario()) == ([1], [])


def test_release_ends_a_parked_wait_with_an_empty_batch() -> None:
    async def scenario() -> tuple[list[Envelope], bool]:
        sub = subscription()
        writer = asyncio.create_task(sub.get_batch())
        await asyncio.sleep(0)
        sub.release()
        return await writer, sub.closed

    assert asyncio.run(scenario()) == ([], False)


def test_a_message_offered_after_release_still_reaches_the_writer() -> None:
    async def scenario() -> list[int]:
        sub = subscription()
        calls: list[int] = []
        sub.on_ready = lambda: calls.append(1)
        writer = asyncio.create_task(sub.get_batch())
        await asyncio.sleep(0)
        sub.release()
        sub.offer(envelope(7))  # before the writer resumes: it must not be lost
        batch = await writer
        assert calls == [1]  # the transport was told too; its writer is still running
        return [e.id for e in batch]

    assert asyncio.run(scenario()) == [7]


def test_release_without_a_parked_writer_changes_nothing() -> None:
    async def scenario() -> list[int]:
        sub = subscription()
        sub.release()
        sub.offer(envelope(1))
        return [e.id for e in await sub.get_batch()]

    assert asyncio.run(scenario()) == [1]


def test_overflow_drops_the_subscriber_and_counts_what_it_lost() -> None:
    async def scenario() -> Subscription:
        sub = subscription(maxsize=2)
        dropped: list[int] = []
        sub.on_drop = lambda s: dropped.append(s.discarded)
        assert sub.offer(envelope(1))
        assert sub.offer(envelope(2))
        assert not sub.offer(envelope(3))
        assert dropped == [3]
        with pytest.raises(SubscriptionDropped):
            await sub.get_batch()
        return sub

    sub = asyncio.run(scenario())
    assert sub.dropped
    assert sub.closed


def test_the_resume_backlog_does_not_count_against_the_bound() -> None:
    async def scenario() -> list[int]:
        sub = subscription(maxsize=1, backlog=[envelope(1), envelope(2), envelope(3)])
        assert sub.offer(envelope(4))
        assert sub.pending == 4
        return [e.id for e in await sub.get_batch()]

    assert asyncio.run(scenario()) == [1, 2, 3, 4]


def test_close_ends_the_wait_with_an_empty_batch() -> None:
    async def scenario() -> list[Envelope]:
        sub = subscription()
        writer = asyncio.create_task(sub.get_batch())
        await asyncio.sleep(0)
        sub.close()
        return await writer

    assert asyncio.run(scenario()) == []
