"""A push subscriber's bounded send queue.

The broker offers each new message to every subscription without awaiting anything, so one slow
subscriber can never stall a room: when its queue is full it is marked dropped and the room forgets
it. The transport's writer drains the queue in batches; a writer that need not stay parked
(the WebSocket push) sets :attr:`Subscription.on_ready` to be told when work arrives, and may be
sent away with :meth:`Subscription.release` while the queue is empty.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from target_app.envelope import Envelope

__all__ = ["Subscription", "SubscriptionDropped"]


class SubscriptionDropped(Exception):
    """The subscriber fell more than its queue size behind and was dropped."""


class Subscription:
    """Messages waiting to be pushed to one subscriber, bounded by ``maxsize``."""

    __slots__ = (
        "_limit",
        "_on_close",
        "_queue",
        "_released",
        "_waiter",
        "closed",
        "discarded",
        "dropped",
        "maxsize",
        "missed",
        "on_drop",
        "on_ready",
        "room",
    )

    def __init__(
        self,
        room: str,
        maxsize: int,
        on_close: Callable[[Subscription], None],
        backlog: list[Envelope] | None = None,
        missed: int = 0,
    ) -> None:
        self.room = room
        self.maxsize = maxsize
        #: Messages the requested resume cursor asked for that history no longer holds.
        self.missed = missed
        self.dropped = False
        #: Messages thrown away when the subscriber was dropped (its queue and the one offered).
        self.discarded = 0
        #: Called once when the subscriber is dropped (the transport counts it).
        self.on_drop: Callable[[Subscription], None] | None = None
        #: Called when a message lands in an empty queue and no writer waits for it.
        self.on_ready: Callable[[], None] | None = None
        self.closed = False
        # The resume backlog comes from history already in memory, so it does not count against
        # the bound: only messages that arrive while the subscriber is behind do. A list, not a
        # deque: it is only ever appended to and taken whole, and it is 10 times smaller empty
        # (an idle subscriber holds one).
        self._queue: list[Envelope] = list(backlog) if backlog else []
        self._limit = maxsize + len(self._queue)
        self._waiter: asyncio.Future[None] | None = None
        self._released = False
        self._on_close = on_close

    def offer(self, envelope: Envelope) -> bool:
        """Queue one message without blocking; False when this offer dropped the subscriber."""
        if self.closed:
            return True
        if len(self._queue) >= self._limit:
            self.dropped = True
            self.discarded = len(self._queue) + 1
            self._queue.clear()
            self.close()
            if self.on_drop is not None:
                self.on_drop(self)
            return False
        self._queue.append(envelope)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        elif len(self._queue) == 1 and self.on_ready is not None:
            self.on_ready()
        return True

    @property
    def pending(self) -> int:
        """Messages queued and not yet taken."""
        return len(self._queue)

    @property
    def parked(self) -> bool:
        """Whether a writer is waiting in :meth:`get_batch` on an empty queue."""
        return self._waiter is not None

    def release(self) -> None:
        """End a :meth:`get_batch` waiting on an empty queue with an empty batch.

        A message that arrives before the writer resumes is still returned to it; otherwise the
        next one calls :attr:`on_ready` again.
        """
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            self._released = True
            if not waiter.done():
                waiter.set_result(None)

    async def get_batch(self) -> list[Envelope]:
        """Every queued message, waiting for at least one.

        Returns an empty batch once the subscription is closed, or when :meth:`release` ended
        the wait.

        Raises:
            SubscriptionDropped: the subscriber was dropped as too slow.
        """
        while not self._queue:
            if self.dropped:
                raise SubscriptionDropped(self.room)
            if self.closed or self._released:
                self._released = False
                return []
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            await waiter
        self._released = False
        batch = self._queue
        self._queue = []
        self._limit = self.maxsize
        return batch

    def close(self) -> None:
        """Detach from the room and wake the writer (idempotent)."""
        if self.closed:
            return
        self.closed = True
        self._on_close(self)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
