"""The Redis broker: rooms shared by every worker process, through one Redis.

History and ids live in Redis (see :mod:`target_app.broker.redis_scripts`), so any worker answers
any poll identically. Fan-out: every publish is also sent on one pub/sub channel; each worker runs
one listener connection (:mod:`target_app.broker.redis_listener`) that hands each envelope to its
local subscribers and long polls (:mod:`target_app.broker.redis_rooms`). The publishing worker's
own subscribers are served by the listener too, so every subscriber sees a room in id order.

When Redis is lost, :meth:`RedisBroker.healthy` turns False and commands fail fast with
:class:`BrokerUnavailable`, while subscriptions stay open. The listener reconnects with a capped
exponential backoff, then re-reads each room after the last id it delivered: an exact catch-up
when history still holds it, otherwise a ``missed`` notice; if Redis came back empty, a
``reset`` notice (ids start again at 1).
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript

from target_app.broker.base import BrokerUnavailable, CursorAhead, Page, TooManyRooms
from target_app.broker.memory import ENTRY_OVERHEAD_BYTES
from target_app.broker.redis_listener import LOST, Listener
from target_app.broker.redis_rooms import Joining, RedisRoom
from target_app.broker.redis_scripts import EPOCH, PUBLISH, READ, RETIRED_ID_TTL_S, RedisKeys
from target_app.envelope import (
    Envelope,
    PublishRequest,
    encode_envelope_tail,
    envelope_id,
    notice,
    splice_id,
)
from target_app.subscription import Subscription

__all__ = ["RedisBroker", "redacted"]


def redacted(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


# A Redis that vanishes without closing its connections (host down, network cut) is noticed by
# TCP keepalive after about 10 s of silence rather than the system default of hours.
_KEEPALIVE = {
    option: value
    for name, value in (("TCP_KEEPIDLE", 5), ("TCP_KEEPINTVL", 2), ("TCP_KEEPCNT", 3))
    if (option := getattr(socket, name, None)) is not None
}


def _missed_notice(room: str) -> Callable[[int], Envelope]:
    def make(missed: int) -> Envelope:
        return notice(room, "missed", missed=missed)

    return make


def _ignore_state(healthy: bool, reconnected: bool) -> None:
    return None


class RedisBroker:
    """History in Redis streams, fan-out by Redis pub/sub: correct at any number of workers.

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://`` URL.
        prefix: put before every key and channel name.
        on_state: called with (healthy, reconnected) whenever health changes.
    """

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        history_size: int,
        send_queue_size: int,
        max_rooms: int,
        room_history_bytes: int = 16 * 1024 * 1024,
        history_bytes: int = 256 * 1024 * 1024,
        timeout_s: float = 5.0,
        max_connections: int = 64,
        reconnect_min_s: float = 0.05,
        reconnect_max_s: float = 2.0,
        on_state: Callable[[bool, bool], None] = _ignore_state,
    ) -> None:
        self.url = url
        self.shown_url = redacted(url)
        self._keys = RedisKeys(prefix)
        self._history_size = history_size
        self._send_queue_size = send_queue_size
        self._max_rooms = max_rooms
        self._room_history_bytes = room_history_bytes
        self._history_bytes = history_bytes
        self._timeout_s = timeout_s
        self._rooms: dict[str, RedisRoom] = {}
        self._epoch: str | None = None
        # Fail fast, never retry silently: a retried publish could be applied twice.
        options: dict[str, Any] = {
            # RESP2: with hiredis, pub/sub messages parse in ~2 µs each against ~5 µs as RESP3
            # push frames (measured); the replies this broker reads are the same in both.
            "protocol": 2,
            "decode_responses": True,
            "socket_connect_timeout": timeout_s,
            "socket_keepalive": True,
            "socket_keepalive_options": _KEEPALIVE,
            "retry": Retry(NoBackoff(), 0),
        }
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout_s,
            socket_timeout=timeout_s,
            **options,
        )
        self._client = client = Redis(connection_pool=pool)
        #: The listener connection's name in CLIENT LIST (unique per broker: one per worker).
        self.listener_name = f"{prefix}listener:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # Its own socket_timeout, never redis-py's default (5 s in redis-py 8, once none): the
        # listener bounds each read itself, and an idle channel must not time out (see Listener).
        self._listener_pool = ConnectionPool.from_url(
            url, client_name=self.listener_name, socket_timeout=timeout_s, **options
        )
        self._scripts: dict[str, AsyncScript] = {
            "publish": client.register_script(PUBLISH),
            "read": client.register_script(READ),
            "epoch": client.register_script(EPOCH),
        }
        self._listener = Listener(
            self._listener_pool,
            self._keys.channel,
            self._rooms,
            shown_url=self.shown_url,
            timeout_s=timeout_s,
            backoff=(reconnect_min_s, max(reconnect_min_s, reconnect_max_s)),
            catch_up=self._catch_up,
            on_change=on_state,
        )

    async def start(self) -> None:
        try:
            await self._listener.start()
        except LOST as exc:
            await self._release()
            raise BrokerUnavailable(f"cannot reach Redis at {self.shown_url}: {exc}") from None

    async def close(self) -> None:
        await self._listener.stop()
        for room in list(self._rooms.values()):
            for subscription in room.all_subscriptions():
                subscription.close()
        await self._release()

    async def _release(self) -> None:
        await self._client.aclose()
        await self._listener_pool.aclose()

    def healthy(self) -> bool:
        return self._listener.listening

    # -- commands ----------------------------------------------------------------------------

    async def _script(self, name: str, keys: list[str], args: list[Any]) -> Any:
        try:
            return await self._scripts[name](keys=keys, args=args)
        except LOST as exc:
            raise BrokerUnavailable(f"Redis at {self.shown_url} is unavailable: {exc}") from None

    async def _range(self, room: str, after: int, count: int) -> tuple[int, list[Envelope]]:
        """The room's last id and up to ``count`` envelopes after ``after``, atomically."""
        keys = self._keys
        reply = await self._script("read", [keys.last_id(room), keys.stream(room)], [after, count])
        texts: list[str] = reply[1:]
        return int(reply[0]), [Envelope(envelope_id(text), room, text) for text in texts]

    async def publish(self, room: str, request: PublishRequest) -> Envelope:
        # Encoded before the script takes an id: a message that cannot be encoded costs none.
        tail = encode_envelope_tail(room, request)
        keys = self._keys
        message_id = int(
            await self._script(
                "publish",
                [
                    keys.last_id(room),
                    keys.stream(room),
                    keys.history_bytes(room),
                    keys.rooms,
                    keys.total_bytes,
                    keys.clock,
                ],
                [
                    tail,
                    self._history_size,
                    self._max_rooms,
                    room,
                    keys.channel,
                    self._room_history_bytes,
                    self._history_bytes,
                    keys.prefix,
                    ENTRY_OVERHEAD_BYTES,
                    RETIRED_ID_TTL_S,
                ],
            )
        )
        return Envelope(message_id, room, splice_id(message_id, tail))

    async def read(self, room: str, after: int, limit: int) -> Page:
        last, messages = await self._range(room, after, limit)
        if after > last:
            raise CursorAhead(room, after, last)
        if not messages:
            # The room's head, or everything after the cursor was evicted: move past it.
            return Page([], last, last - after)
        texts = [envelope.text.encode() for envelope in messages]
        return Page(texts, messages[-1].id, messages[0].id - 1 - after)

    async def wait(self, room: str, after: int, limit: int, wait_s: float) -> Page:
        if wait_s <= 0:
            return await self.read(room, after, limit)
        state = self._local(room)
        state.waiters += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        try:
            while True:
                # Listen before reading: a message published during the read still wakes us.
                changed = state.changed_future()
                page = await self.read(room, after, limit)
                remaining = deadline - loop.time()
                if page.messages or page.missed or remaining <= 0:
                    return page
                # asyncio.wait never cancels the shared future when one waiter times out.
                await asyncio.wait((changed,), timeout=remaining)
                if not changed.done():
                    return page
        finally:
            state.waiters -= 1
            self._forget_if_idle(state)

    async def subscribe(self, room: str, after: int | None) -> Subscription:
        if not self._listener.listening:
            raise BrokerUnavailable(f"Redis at {self.shown_url} is unavailable (reconnecting)")
        state = self._local(room)
        join = Joining()
        state.joining[join] = None
        generation = self._listener.generation
        try:
            count = 0 if after is None else self._history_size
            last, backlog = await self._range(room, after or 0, count)
            if generation != self._listener.generation:
                raise BrokerUnavailable(f"lost Redis at {self.shown_url} while subscribing")
            if after is not None and after > last:
                raise CursorAhead(room, after, last)
        except BaseException:
            state.joining.pop(join, None)
            self._forget_if_idle(state)
            raise
        missed = 0 if after is None else (backlog[0].id if backlog else last + 1) - 1 - after

        def make(queue: list[Envelope], missed: int) -> Subscription:
            return Subscription(
                room,
                self._send_queue_size,
                on_close=lambda sub: self._leave(state, sub, join),
                backlog=queue,
                missed=missed,
            )

        return state.complete(join, last, backlog, missed, make)

    def _local(self, room: str) -> RedisRoom:
        state = self._rooms.get(room)
        if state is None:
            if len(self._rooms) >= self._max_rooms:
                raise TooManyRooms(f"the server holds its limit of {self._max_rooms} rooms")
            state = self._rooms[room] = RedisRoom(room)
        return state

    def _leave(self, state: RedisRoom, subscription: Subscription, join: Joining) -> None:
        state.leave(subscription, join)
        self._forget_if_idle(state)

    def _forget_if_idle(self, state: RedisRoom) -> None:
        if state.idle() and self._rooms.get(state.name) is state:
            del self._rooms[state.name]

    async def _catch_up(self) -> None:
        """Catch every local room up (the listener runs this after each subscription)."""
        # Pooled connections opened before an outage are dead: drop the idle ones first.
        await self._client.connection_pool.disconnect(inuse_connections=False)
        epoch = str(await self._script("epoch", [self._keys.epoch], [uuid.uuid4().hex]))
        lost_data = self._epoch is not None and epoch != self._epoch
        self._epoch = epoch
        for state in list(self._rooms.values()):
            if lost_data:
                state.reset(self._reset_notice(state.name))
            cursor = state.catch_up_cursor()
            if cursor is None:
                continue
            last, messages = await self._range(state.name, cursor, self._history_size)
            if last < cursor:
                # The room's ids went back although the epoch stayed: its keys were removed.
                state.reset(self._reset_notice(state.name))
                last, messages = await self._range(state.name, 0, self._history_size)
                cursor = 0
            first = messages[0].id if messages else last + 1
            if first > cursor + 1:
                state.gap(first, _missed_notice(state.name))
            for envelope in messages:
                state.receive(envelope)

    def _reset_notice(self, room: str) -> Envelope:
        return notice(
            room,
            "reset",
            detail=f"Redis at {self.shown_url} lost the room's history; ids start again at 1",
        )
