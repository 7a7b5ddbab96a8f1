"""RedisBroker against a real Redis, in-process: the same semantics as the memory broker.

Two brokers on one prefix stand for two worker processes: what one publishes the other's
subscribers and polls must see, in id order, exactly once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from target_app.broker import BrokerUnavailable, CursorAhead, MemoryBroker
from target_app.broker.redis import RedisBroker, redacted
from target_app.broker.redis_rooms import Joining, RedisRoom
from target_app.envelope import Envelope, PublishRequest, encode_envelope
from target_app.subscription import Subscription
from tests.conftest import timeout
from tests.history_model import ROOMS, Operation, check_history, operations

pytestmark = pytest.mark.anyio

BrokerFactory = Callable[..., Awaitable[RedisBroker]]


@pytest.fixture
async def make_broker(redis_url: str, redis_prefix: str) -> AsyncIterator[BrokerFactory]:
    """Started brokers on the test's prefix (each one stands for a worker process)."""
    started: list[RedisBroker] = []

    async def make(**options: Any) -> RedisBroker:
        fields: dict[str, Any] = {
            "prefix": redis_prefix,
            "history_size": 100,
            "send_queue_size": 1000,
            "max_rooms": 100,
            "reconnect_min_s": 0.01,
            "reconnect_max_s": 0.1,
        }
        broker = RedisBroker(options.pop("url", redis_url), **{**fields, **options})
        await broker.start()
        started.append(broker)
        return broker

    yield make
    for broker in started:
        await broker.close()


def request(seq: int, payload: Any = "x") -> PublishRequest:
    return PublishRequest(publisher="p", seq=seq, sent_ns=seq * 10, payload=payload)


async def ids_until(subscription: Subscription, last: int) -> list[int]:
    """Ids (notices as 0) delivered until id ``last`` arrives."""
    got: list[int] = []
    while not got or got[-1] != last:
        batch = await asyncio.wait_for(subscription.get_batch(), timeout(5))
        assert batch, "subscription closed"
        got += [envelope.id for envelope in batch]
    return got


async def test_envelopes_match_the_memory_broker_byte_for_byte(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    memory = MemoryBroker(100, 100, 100)
    for seq in range(3):
        payload = {"text": 'héllo "quoted" ✓', "n": [seq, None, 1.5]}
        sent = await broker.publish("room", request(seq, payload))
        assert sent.id == seq + 1
        assert sent.text == encode_envelope(seq + 1, "room", request(seq, payload)).text
        assert sent.text == (await memory.publish("room", request(seq, payload))).text
    page = await broker.read("room", 0, 10)
    assert page.messages == (await memory.read("room", 0, 10)).messages


async def test_pages_next_missed_and_cursor_ahead_like_memory(make_broker: BrokerFactory) -> None:
    broker = await make_broker(history_size=5)
    memory = MemoryBroker(5, 100, 100)
    assert await broker.read("empty", 0, 10) == await memory.read("empty", 0, 10)
    for seq in range(12):
        await broker.publish("r", request(seq))
        await memory.publish("r", request(seq))
    for after, limit in [(0, 100), (2, 3), (7, 100), (8, 2), (11, 5), (12, 5)]:
        ours, theirs = await broker.read("r", after, limit), await memory.read("r", after, limit)
        assert (ours.next, ours.missed) == (theirs.next, theirs.missed), (after, limit)
        assert ours.messages == theirs.messages
    with pytest.raises(CursorAhead) as ahead:
        await broker.read("r", 13, 10)
    assert ahead.value.last_id == 12
    with pytest.raises(CursorAhead):
        await broker.read("never-published", 1, 10)
    with pytest.raises(CursorAhead):
        await broker.subscribe("r", 20)


async def test_two_workers_share_ids_history_and_fan_out(make_broker: BrokerFactory) -> None:
    one, two = await make_broker(), await make_broker()
    on_one, on_two = await one.subscribe("r", None), await two.subscribe("r", None)
    ids = [(await (one if seq % 2 else two).publish("r", request(seq))).id for seq in range(20)]
    assert ids == list(range(1, 21))
    assert await ids_until(on_one, 20) == ids
    assert await ids_until(on_two, 20) == ids
    assert (await one.read("r", 5, 100)).messages == (await two.read("r", 5, 100)).messages


async def test_subscribe_while_publishing_loses_and_repeats_nothing(
    make_broker: BrokerFactory,
) -> None:
    """Backlog read and live messages overlap; ids make the hand-over exact."""
    subscriber_side, publisher_side = await make_broker(), await make_broker()
    total = 300

    async def publish_all() -> None:
        for seq in range(total):
            await publisher_side.publish("r", request(seq))

    publishing = asyncio.create_task(publish_all())
    subscriptions: list[tuple[int | None, Subscription]] = []
    while not publishing.done() and len(subscriptions) < 40:
        after = (await subscriber_side.read("r", 0, 1)).next if len(subscriptions) % 2 else None
        cursor = None if after is None else max(0, after - 3)
        subscriptions.append((cursor, await subscriber_side.subscribe("r", cursor)))
        await asyncio.sleep(0)
    await publishing
    assert len(subscriptions) >= 5
    for cursor, subscription in subscriptions:
        got = await ids_until(subscription, total)
        first = got[0]
        if cursor is not None:
            assert first == cursor + 1
        assert got == list(range(first, total + 1))


async def test_long_poll_is_woken_by_another_worker(make_broker: BrokerFactory) -> None:
    one, two = await make_broker(), await make_broker()
    waiting = asyncio.create_task(one.wait("r", 0, 10, timeout(10)))
    done, _ = await asyncio.wait({waiting}, timeout=0.1)
    assert not done
    await two.publish("r", request(0, "wake"))
    page = await asyncio.wait_for(waiting, timeout(5))
    assert [orjson.loads(text)["id"] for text in page.messages] == [1]
    empty = await one.wait("r", 1, 10, 0.05)
    assert (empty.messages, empty.next) == ([], 1)


async def test_room_limit_is_shared_by_all_workers(make_broker: BrokerFactory) -> None:
    """A new room past the cap evicts the least recently published room, for every worker."""
    one, two = await make_broker(max_rooms=2), await make_broker(max_rooms=2)
    await one.publish("a", request(0))
    await two.publish("b", request(0))
    await one.publish("c", request(0))
    evicted = await two.read("a", 0, 10)
    assert (evicted.messages, evicted.next, evicted.missed) == ([], 1, 1)
    # Its ids go on (no cursor is ever answered from a restarted count); "b" is evicted now.
    assert (await two.publish("a", request(1))).id == 2
    assert (await one.read("b", 0, 10)).missed == 1
    assert len((await one.read("c", 0, 10)).messages) == 1


async def test_slow_subscriber_is_dropped_without_stalling_others(
    make_broker: BrokerFactory,
) -> None:
    broker = await make_broker(send_queue_size=5)
    slow, fast = await broker.subscribe("r", None), await broker.subscribe("r", None)
    reader = asyncio.create_task(ids_until(fast, 30))
    for seq in range(30):
        await broker.publish("r", request(seq))
    assert await reader == list(range(1, 31))
    assert slow.dropped
    assert slow.discarded > 0


class HealthLog:
    """A broker's ``on_state`` calls, (healthy, reconnected), to await one by one."""

    def __init__(self) -> None:
        self._changes: asyncio.Queue[tuple[bool, bool]] = asyncio.Queue()

    def __call__(self, healthy: bool, reconnected: bool) -> None:
        self._changes.put_nowait((healthy, reconnected))

    async def next(self) -> tuple[bool, bool]:
        return await asyncio.wait_for(self._changes.get(), timeout(5))


async def _listener_client_id(url: str, broker: RedisBroker) -> int:
    client = aioredis.from_url(url)
    try:
        for entry in await client.client_list(_type="pubsub"):
            if entry.get("name") == broker.listener_name:
                return int(entry["id"])
    finally:
        await client.aclose()
    raise AssertionError("listener connection not found")


async def test_lost_listener_catches_up_exactly_or_says_what_it_missed(
    make_broker: BrokerFactory, redis_url: str, redis_prefix: str
) -> None:
    """A worker cut off from pub/sub re-reads history: exact while it holds, else 'missed'."""
    health = HealthLog()
    cut_off = await make_broker(history_size=5, on_state=health)
    assert await health.next() == (True, False)
    publisher = await make_broker(history_size=5)
    subscription = await cut_off.subscribe("r", None)
    await publisher.publish("r", request(0))
    assert await ids_until(subscription, 1) == [1]

    # Hold the reconnect until the test has published: history then no longer holds it all.
    release = asyncio.Event()
    connect = cut_off._listener._connect

    async def held_connect() -> Any:
        await release.wait()
        return await connect()

    cut_off._listener._connect = held_connect  # type: ignore[method-assign]
    killer = aioredis.from_url(redis_url)
    await killer.client_kill_filter(_id=await _listener_client_id(redis_url, cut_off))
    await killer.aclose()
    assert await health.next() == (False, False)
    assert not cut_off.healthy()
    with pytest.raises(BrokerUnavailable):
        await cut_off.subscribe("r", 0)
    for seq in range(1, 12):  # ids 2..12; history keeps 8..12
        await publisher.publish("r", request(seq))
    release.set()
    batches: list[Any] = []
    while not batches or batches[-1].id != 12:
        batches += await asyncio.wait_for(subscription.get_batch(), timeout(5))
    assert batches[0].text == '{"event":"missed","missed":6}'
    assert [e.id for e in batches[1:]] == [8, 9, 10, 11, 12]
    assert await health.next() == (True, True)
    assert cut_off.healthy()

    # Lost while history still holds everything: an exact catch-up, no notice.
    cut_off._listener._connect = held_connect  # type: ignore[method-assign]
    release.clear()
    killer = aioredis.from_url(redis_url)
    await killer.client_kill_filter(_id=await _listener_client_id(redis_url, cut_off))
    await killer.aclose()
    assert await health.next() == (False, False)
    for seq in range(12, 15):
        await publisher.publish("r", request(seq))
    release.set()
    assert await ids_until(subscription, 15) == [13, 14, 15]


async def test_redis_that_lost_its_data_is_announced_as_a_reset(
    make_broker: BrokerFactory, redis_url: str, redis_prefix: str
) -> None:
    health = HealthLog()
    broker = await make_broker(on_state=health)
    assert await health.next() == (True, False)
    subscription = await broker.subscribe("r", None)
    for seq in range(3):
        await broker.publish("r", request(seq))
    assert await ids_until(subscription, 3) == [1, 2, 3]
    client = aioredis.from_url(redis_url)
    await client.delete(*[key async for key in client.scan_iter(match=redis_prefix + "*")])
    await client.client_kill_filter(_id=await _listener_client_id(redis_url, broker))
    await client.aclose()
    assert await health.next() == (False, False)
    assert await health.next() == (True, True)
    assert (await broker.publish("r", request(3))).id == 1
    batch = await asyncio.wait_for(subscription.get_batch(), timeout(5))
    assert batch[0].id == 0
    assert '"event":"reset"' in batch[0].text
    if len(batch) == 1:
        batch += await asyncio.wait_for(subscription.get_batch(), timeout(5))
    assert [e.id for e in batch[1:]] == [1]
    with pytest.raises(CursorAhead):
        await broker.read("r", 3, 10)


async def test_unreachable_redis_fails_start_with_the_url() -> None:
    broker = RedisBroker(
        "redis://:secret@127.0.0.1:1/0",
        prefix="x:",
        history_size=10,
        send_queue_size=10,
        max_rooms=10,
        timeout_s=1,
    )
    with pytest.raises(BrokerUnavailable) as refused:
        await broker.start()
    assert "cannot reach Redis at redis://:***@127.0.0.1:1/0" in str(refused.value)
    assert "secret" not in str(refused.value)
    assert redacted("redis://u:p@h:1/0") == "redis://u:***@h:1/0"


# -- the local hand-over, without Redis: deterministic interleavings ----------------------------


def _envelope(message_id: int) -> Envelope:
    return Envelope(message_id, "r", f'{{"id":{message_id},"room":"r"}}')


def _queued(subscription: Subscription) -> list[int]:
    return [e.id for e in subscription._queue]


def _join(room: RedisRoom, after: int, last: int, live: list[int]) -> Subscription:
    """Subscribe after ``after`` while ids ``live`` arrive during the read (which saw ``last``)."""
    join = Joining()
    room.joining[join] = None
    for message_id in live:
        room.receive(_envelope(message_id))
    backlog = [_envelope(i) for i in range(after + 1, last + 1)]
    return room.complete(
        join, last, backlog, 0, lambda queue, missed: Subscription("r", 100, lambda s: None, queue)
    )


def test_live_messages_that_overtake_the_read_are_kept_once() -> None:
    room = RedisRoom("r")
    room.last_id = 4
    subscription = _join(room, after=2, last=6, live=[5, 6, 7])
    assert _queued(subscription) == [3, 4, 5, 6, 7]
    assert subscription in room.subscribers
    room.receive(_envelope(7))  # a duplicate (catch-up overlap) is ignored
    room.receive(_envelope(8))
    assert _queued(subscription) == [3, 4, 5, 6, 7, 8]


def test_messages_still_in_flight_after_the_read_are_skipped_once() -> None:
    room = RedisRoom("r")
    room.last_id = 4
    subscription = _join(room, after=2, last=6, live=[])
    assert _queued(subscription) == [3, 4, 5, 6]
    assert subscription not in room.subscribers
    for message_id in (5, 6, 7):  # 5 and 6 were in the backlog already
        room.receive(_envelope(message_id))
    assert _queued(subscription) == [3, 4, 5, 6, 7]
    assert subscription in room.subscribers


def test_gap_and_reset_notices_reach_joined_and_joining_subscribers() -> None:
    room = RedisRoom("r")
    joined = _join(room, after=0, last=0, live=[1])
    joining = _join(room, after=1, last=1, live=[])
    room.gap(5, lambda missed: Envelope(0, "r", f'{{"event":"missed","missed":{missed}}}'))
    for message_id in (5, 6):
        room.receive(_envelope(message_id))
    assert _queued(joined) == [1, 0, 5, 6]
    assert _queued(joining) == [0, 5, 6]
    room.reset(Envelope(0, "r", '{"event":"reset"}'))
    room.receive(_envelope(1))
    assert _queued(joined)[-2:] == [0, 1]
    assert _queued(joining)[-2:] == [0, 1]


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    steps=operations(max_size=40),
    history_size=st.integers(min_value=1, max_value=20),
    room_kib=st.integers(min_value=8, max_value=40),
    server_kib=st.integers(min_value=40, max_value=120),
    max_rooms=st.integers(min_value=1, max_value=4),
)
def test_every_cursor_sees_each_kept_message_once_and_is_told_the_rest(
    redis_url: str,
    steps: list[Operation],
    history_size: int,
    room_kib: int,
    server_kib: int,
    max_rooms: int,
) -> None:
    """The memory broker's history property (tests/history_model.py), on Redis."""
    prefix = f"pbtest-{uuid.uuid4().hex[:10]}:"

    async def scenario() -> None:
        broker = RedisBroker(
            redis_url,
            prefix=prefix,
            history_size=history_size,
            send_queue_size=100,
            max_rooms=max_rooms,
            room_history_bytes=room_kib * 1024,
            history_bytes=server_kib * 1024,
        )
        client = aioredis.from_url(redis_url)
        await broker.start()

        async def within_budget() -> None:
            held = int(await client.get(f"{prefix}history-bytes") or 0)
            assert 0 <= held <= server_kib * 1024
            rooms = [f"{prefix}r:{room}:b" for room in ROOMS]
            assert held == sum(int(value or 0) for value in await client.mget(rooms))

        try:
            await check_history(broker, steps, within_budget)
        finally:
            await broker.close()
            keys = await client.keys(f"{prefix}*")
            if keys:
                await client.delete(*keys)
            await client.aclose()

    asyncio.run(scenario())
