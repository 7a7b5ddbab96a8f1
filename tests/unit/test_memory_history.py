"""The memory broker's history, in process (no sockets): gap-free ids, byte bounds, room lifecycle.

Hypothesis drives any sequence of publishes (some refused), reads and evictions through
:func:`tests.history_model.check_history` (the Redis broker runs the same property), and any JSON
text through the envelope parser.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import deque
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from target_app.broker import CursorAhead, MemoryBroker, TooManyRooms
from target_app.broker.memory import ENTRY_OVERHEAD_BYTES, _Room
from target_app.envelope import InvalidMessage, PublishRequest, encode_envelope, parse_publish
from tests.history_model import Operation, check_history, operations


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def ids(texts: list[bytes]) -> list[int]:
    return [orjson.loads(text)["id"] for text in texts]


def broker(**bounds: int) -> MemoryBroker:
    history_size = bounds.pop("history_size", 1_000)
    max_rooms = bounds.pop("max_rooms", 100)
    return MemoryBroker(history_size, 100, max_rooms, **bounds)


async def publish_all(target: MemoryBroker, room: str, count: int, payload: Any = "x") -> None:
    for seq in range(count):
        await target.publish(room, PublishRequest(publisher="p", seq=seq, payload=payload))


@pytest.mark.parametrize(
    "body",
    [
        b'{"seq":99999999999999999999}',
        b'{"sent_ns":99999999999999999999}',
        b'{"payload":[1,{"n":-99999999999999999999}]}',
        b'{"payload":NaN}',
        b'{"payload":{"x":[1e999]}}',
    ],
)
def test_unencodable_publish_is_refused_before_an_id(body: bytes) -> None:
    with pytest.raises(InvalidMessage) as refused:
        encode_envelope(1, "room", parse_publish(body))
    assert refused.value.detail[0]["loc"][-1] in {"seq", "sent_ns", "payload"}


def test_a_refused_publish_takes_no_id() -> None:
    """A request built without parsing is still encoded before the broker takes an id."""
    target = broker()

    async def scenario() -> list[int]:
        await publish_all(target, "r", 3)
        with pytest.raises(InvalidMessage):
            await target.publish("r", PublishRequest(payload=2**70))
        await publish_all(target, "r", 3)
        return ids((await target.read("r", 0, 100)).messages)

    assert run(scenario()) == [1, 2, 3, 4, 5, 6]


def test_the_history_lookup_survives_a_gap_in_ids() -> None:
    """Ids are consecutive today; should a hole ever appear, no cursor skips or fails."""
    room = _Room("r", 0)
    for message_id in (1, 2, 3, 5, 6, 7):
        room.history.append((message_id, b"%d" % message_id))
    room.last_id = 7
    for after, expected in [(0, [1, 2, 3, 5, 6, 7]), (3, [5, 6, 7]), (4, [5, 6, 7]), (5, [6, 7])]:
        page = room.page(after, 100)
        assert [int(text) for text in page.messages] == expected
        assert (page.next, page.missed) == (7, 0)
    assert room.page(7, 100).messages == []


def test_room_history_is_bounded_in_bytes_oldest_first() -> None:
    payload = "é" * 1000  # 2 bytes each in UTF-8
    target = broker(room_history_bytes=10 * 2_200, history_bytes=10**9)
    run(publish_all(target, "r", 50, payload))
    page = run(target.read("r", 0, 1_000))
    kept = ids(page.messages)
    assert kept == list(range(51 - len(kept), 51))
    assert page.missed == 50 - len(kept)
    assert 5 <= len(kept) <= 10
    assert target.history_bytes <= 10 * 2_200


def test_server_history_is_bounded_in_bytes_across_rooms() -> None:
    payload = "🙂" * 1000  # held as 4,000 UTF-8 bytes, not 4,000 UCS-4 characters in a str
    entry = 4_000 + 100 + ENTRY_OVERHEAD_BYTES
    target = broker(room_history_bytes=20 * entry, history_bytes=30 * entry)

    async def scenario() -> None:
        for room in ("a", "b", "c"):
            await publish_all(target, room, 20, payload)

    run(scenario())
    assert target.history_bytes <= 30 * entry
    a, c = run(target.read("a", 0, 1_000)), run(target.read("c", 0, 1_000))
    # The oldest messages went first: room a lost most, the newest room none.
    assert a.missed > 0
    assert (c.missed, len(c.messages)) == (0, 20)
    assert a.missed + len(a.messages) == 20


def test_idle_rooms_are_evicted_to_make_room_and_their_cursors_told() -> None:
    target = broker(max_rooms=3)

    async def scenario() -> None:
        for room in ("a", "b", "c"):
            await publish_all(target, room, 2)
        await target.read("a", 0, 10)  # a is used again: b is now the least recently used
        await publish_all(target, "d", 1)
        assert target.room_count == 3
        evicted = await target.read("b", 0, 10)
        assert (evicted.messages, evicted.next, evicted.missed) == ([], 2, 2)
        assert len((await target.read("a", 0, 10)).messages) == 2
        with pytest.raises(CursorAhead):
            await target.read("b", 3, 10)
        # Ids go on where they stopped: an old cursor is never answered from a new count.
        await publish_all(target, "b", 1)
        again = await target.read("b", 0, 10)
        assert (ids(again.messages), again.missed) == ([3], 2)

    run(scenario())


def test_rooms_in_use_are_never_evicted() -> None:
    target = broker(max_rooms=2)

    async def scenario() -> None:
        one = await target.subscribe("a", None)
        two = await target.subscribe("b", None)
        with pytest.raises(TooManyRooms):
            await publish_all(target, "c", 1)
        two.close()
        await publish_all(target, "c", 1)  # b is idle now and makes room
        await publish_all(target, "a", 1)
        assert [e.id for e in await one.get_batch()] == [1]

    run(scenario())


def test_eviction_bookkeeping_stays_bounded() -> None:
    """Messages a room evicts itself leave entries in the server's order; they are compacted."""
    target = broker(history_size=5)
    run(publish_all(target, "r", 20_000))
    order: deque[Any] = target._order
    assert len(order) <= 5 + 1025
    kept = run(target.read("r", 0, 100)).messages
    assert len(kept) == 5
    assert target.history_bytes == sum(len(text) + ENTRY_OVERHEAD_BYTES for text in kept)


# -- properties --------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    steps=operations(),
    history_size=st.integers(min_value=1, max_value=20),
    room_kib=st.integers(min_value=8, max_value=40),
    server_kib=st.integers(min_value=40, max_value=120),
    max_rooms=st.integers(min_value=1, max_value=4),
)
def test_every_cursor_sees_each_kept_message_once_and_is_told_the_rest(
    steps: list[Operation], history_size: int, room_kib: int, server_kib: int, max_rooms: int
) -> None:
    target = broker(
        history_size=history_size,
        max_rooms=max_rooms,
        room_history_bytes=room_kib * 1024,
        history_bytes=server_kib * 1024,
    )

    async def within_budget() -> None:
        assert target.history_bytes <= server_kib * 1024

    run(check_history(target, steps, within_budget))


_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


def _encodable(value: Any) -> bool:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, int):
        return -(2**63) <= value <= 2**64 - 1
    if isinstance(value, float):
        return math.isfinite(value)
    items = value.values() if isinstance(value, dict) else value
    return all(_encodable(item) for item in items)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(payload=_json_values, seq=st.integers(min_value=-5, max_value=2**70))
def test_a_publish_is_refused_or_its_payload_comes_back_exactly(payload: Any, seq: int) -> None:
    """Any JSON text: refused with a readable detail, or delivered with the very same values."""
    body = json.dumps({"publisher": "p", "seq": seq, "payload": payload}, allow_nan=True)
    if not (_encodable(payload) and 0 <= seq <= 2**63 - 1):
        with pytest.raises(InvalidMessage) as refused:
            encode_envelope(7, "room", parse_publish(body))
        assert refused.value.detail[0]["loc"][-1] in {"seq", "payload"}
        return
    envelope = orjson.loads(encode_envelope(7, "room", parse_publish(body)).text)
    assert envelope == {
        "id": 7,
        "room": "room",
        "publisher": "p",
        "seq": seq,
        "sent_ns": None,
        "payload": payload,
    }
