"""A property of every broker's history, shared by the memory (unit) and Redis (integration) runs.

Any sequence of publishes (some refused: integers a 64-bit encoder cannot hold) and reads with
any cursor must leave a room's ids consecutive, and every cursor must get exactly the kept
messages after it, in id order, and be told how many it missed: ``missed + delivered == last id
- cursor`` whenever the page was not cut by its ``limit``. Never a silent skip, never an error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

import orjson
from hypothesis import strategies as st

from target_app.broker import Page
from target_app.envelope import Envelope, InvalidMessage, PublishRequest, parse_publish

__all__ = ["ROOMS", "HistoryBroker", "Operation", "check_history", "operations"]

ROOMS = ("a", "b", "c", "d")
Operation = tuple[str, str, int, int]


class HistoryBroker(Protocol):
    async def publish(self, room: str, request: PublishRequest) -> Envelope: ...

    async def read(self, room: str, after: int, limit: int) -> Page: ...


_publish = st.tuples(
    st.just("publish"),
    st.sampled_from(ROOMS),
    st.one_of(
        st.integers(min_value=0, max_value=2**63 - 1),
        st.integers(min_value=2**63, max_value=2**80),  # refused
    ),
    st.integers(min_value=0, max_value=3_000),  # payload characters
)
_read = st.tuples(
    st.just("read"),
    st.sampled_from(ROOMS),
    st.integers(min_value=0, max_value=60),  # cursor (capped at the room's last id)
    st.integers(min_value=1, max_value=50),  # limit
)


def operations(max_size: int = 80) -> st.SearchStrategy[list[Operation]]:
    """Publishes and reads over a few rooms."""
    return st.lists(st.one_of(_publish, _read), max_size=max_size)


def _ids(page: Page) -> list[int]:
    return [orjson.loads(text)["id"] for text in page.messages]


async def check_history(
    broker: HistoryBroker,
    steps: list[Operation],
    after_each: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Run ``steps`` on ``broker``, checking every read, then every cursor of every room."""
    last: dict[str, int] = {}

    async def check_cursor(room: str, after: int, limit: int) -> None:
        page = await broker.read(room, after, limit)
        got = _ids(page)
        start = after + page.missed + 1
        assert got == list(range(start, start + len(got)))
        assert len(got) <= limit
        head = last.get(room, 0)
        if len(got) < limit:
            assert page.missed + len(got) == head - after
            assert page.next == head
        else:
            assert page.next == got[-1]

    for kind, room, number, size in steps:
        if kind == "publish":
            # An integer past 64 bits goes in seq (refused by validation) or in the payload
            # (refused by the broker's encoding, before it takes an id).
            form = b'{"seq":%d,"payload":"%s"}' if number % 2 else b'{"payload":[%d,"%s"]}'
            body = form % (number, b"x" * size)
            try:
                envelope = await broker.publish(room, parse_publish(body))
            except InvalidMessage:
                assert number >= 2**63
                continue
            assert envelope.id == last.get(room, 0) + 1  # no id is ever skipped
            last[room] = envelope.id
        else:
            await check_cursor(room, min(number, last.get(room, 0)), size)
        if after_each is not None:
            await after_each()
    for room, head in last.items():
        for after in range(head + 1):
            await check_cursor(room, after, 10_000)
