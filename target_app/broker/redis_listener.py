"""The Redis broker's pub/sub listener: one connection per worker, fanning out to local rooms.

It reads every envelope published on the channel and hands it to the local room it belongs to
(rooms this worker does not serve are skipped). When the connection is lost it reports the
broker unhealthy, wakes waiting long polls, and reconnects with a capped exponential backoff;
after each (re)subscription, before reading any pub/sub message, it runs ``catch_up`` so that
every local subscriber gets what was published while nobody listened.

An idle channel is normal and must cost nothing: silence is never a reason to reconnect. After
``timeout_s`` of silence the listener sends one PING on the same connection; only a PING left
unanswered for another ``timeout_s`` (a Redis that hangs) counts as a loss. A Redis that crashes
resets the connection at once, and one whose host vanishes is noticed by TCP keepalive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import ConnectionPool
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import RedisError

from target_app.broker.base import BrokerUnavailable
from target_app.broker.redis_rooms import RedisRoom
from target_app.envelope import Envelope, envelope_id

__all__ = ["LOST", "Listener", "room_of"]

logger = logging.getLogger("uvicorn.error")

#: Errors that mean "Redis cannot answer right now".
LOST = (RedisError, OSError, TimeoutError, BrokerUnavailable)
_ROOM_FIELD = ',"room":"'


def room_of(text: str) -> str:
    """The room of an envelope's text."""
    # Envelopes start with {"id":<n>,"room":"<room>": room names need no JSON escaping.
    start = text.index(_ROOM_FIELD) + len(_ROOM_FIELD)
    return text[start : text.index('"', start)]


class Listener:
    """The pub/sub connection of one worker, kept alive for the broker's lifetime."""

    def __init__(
        self,
        pool: ConnectionPool,
        channel: str,
        rooms: dict[str, RedisRoom],
        *,
        shown_url: str,
        timeout_s: float,
        backoff: tuple[float, float],
        catch_up: Callable[[], Awaitable[None]],
        on_change: Callable[[bool, bool], None],
    ) -> None:
        self._pool = pool
        self._channel = channel
        self._rooms = rooms
        self._shown_url = shown_url
        self._timeout_s = timeout_s
        self._backoff = backoff
        self._catch_up = catch_up
        self._on_change = on_change
        self._task: asyncio.Task[None] | None = None
        #: Whether messages flow right now.
        self.listening = False
        #: Bumped whenever the connection is lost: a subscribe that spans a bump must retry.
        self.generation = 0

    async def start(self) -> None:
        """Subscribe once (raising what Redis raised), then keep listening in a task."""
        connection = await self._connect()
        self._set(True)
        self._task = asyncio.create_task(self._listen(connection), name="redis-listener")

    async def stop(self) -> None:
        """Stop listening and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._set(False)

    def _set(self, listening: bool, reconnected: bool = False) -> None:
        self.listening = listening
        self._on_change(listening, reconnected)

    async def _connect(self) -> AbstractConnection:
        connection: AbstractConnection = self._pool.make_connection()  # type: ignore[no-untyped-call]
        try:
            await connection.connect()  # type: ignore[no-untyped-call]
            await connection.send_command("SUBSCRIBE", self._channel)
            # No explicit timeout: the pool's socket_timeout applies, and a timeout raises
            # (an explicit one would return None and subscribe silently to nothing).
            await connection.read_response(push_request=True)
            # From here on pub/sub messages queue up on the connection while we catch up.
            await self._catch_up()
        except BaseException:
            await connection.disconnect()
            raise
        return connection

    async def _listen(self, connection: AbstractConnection | None) -> None:
        delay = self._backoff[0]
        while True:
            if connection is None:
                try:
                    connection = await self._connect()
                except LOST as exc:
                    logger.debug("Redis at %s still unavailable: %s", self._shown_url, exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._backoff[1])
                    continue
                delay = self._backoff[0]
                self._set(True, reconnected=True)
                logger.warning("Redis at %s is back; subscribers caught up", self._shown_url)
            try:
                await self._pump(connection)
            except LOST as exc:
                logger.warning("lost Redis at %s (%s); reconnecting", self._shown_url, exc)
            finally:
                await connection.disconnect()
            connection = None
            self.generation += 1
            self._set(False)
            # Waiting long polls re-read now: they answer 503 rather than wait out their time.
            for state in list(self._rooms.values()):
                state.wake()

    async def _pump(self, connection: AbstractConnection) -> None:
        read = connection.read_response
        rooms = self._rooms
        timeout_s = self._timeout_s
        pinged = False
        while True:
            # An explicit timeout returns None on silence instead of raising and disconnecting.
            reply = await read(timeout=timeout_s, disconnect_on_error=False, push_request=True)
            if reply is None:
                if pinged:
                    raise TimeoutError(f"no answer to PING within {timeout_s} s")
                await connection.send_command("PING")
                pinged = True
                continue
            pinged = False
            if not isinstance(reply, list) or reply[0] != "message":
                continue
            text: str = reply[2]
            state = rooms.get(room_of(text))
            if state is not None:
                state.receive(Envelope(envelope_id(text), state.name, text))
