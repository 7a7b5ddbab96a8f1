"""The Redis broker's rooms in one worker: local fan-out fed, in id order, by the listener.

Redis holds each room's history and ids; this worker keeps only the subscribers and long polls
it serves. Its one pub/sub listener hands every message of a room here through
:meth:`RedisRoom.receive`, in id order; catch-up reads after a reconnect come the same way, so
``last_id`` de-duplicates what both deliver.

A new subscription must see every message after its cursor exactly once although its backlog
is read from Redis while live messages keep arriving. It is registered (a :class:`Joining`)
before the read, buffering live messages; once the read returns the room's last id ``q``:

* if the buffer already reached ``q``, backlog + buffered messages after ``q`` are complete and
  the subscription joins the room's subscribers;
* otherwise messages up to ``q`` may still be on their way from pub/sub: the subscription waits
  in ``joining`` and skips ids up to ``q`` until the first later one arrives.
"""

from __future__ import annotations

from collections.abc import Callable

from target_app.broker.fanout import LocalRoom
from target_app.envelope import Envelope
from target_app.subscription import Subscription

__all__ = ["Joining", "RedisRoom"]


class Joining:
    """A subscription being set up; see the module docstring."""

    __slots__ = ("buffer", "subscription", "threshold")

    def __init__(self) -> None:
        #: Live messages received while the backlog read is in flight.
        self.buffer: list[Envelope] = []
        #: Set once the read returned: the subscription, skipping ids up to ``threshold``.
        self.subscription: Subscription | None = None
        self.threshold = 0


class RedisRoom(LocalRoom):
    """Subscribers and long polls of one room in this worker, fed by the pub/sub listener."""

    __slots__ = ("joining", "last_id", "waiters")

    def __init__(self, name: str) -> None:
        super().__init__(name)
        #: The highest id received from the listener (0: none since this room was created).
        self.last_id = 0
        self.joining: dict[Joining, None] = {}
        #: Long polls waiting on this room right now.
        self.waiters = 0

    def idle(self) -> bool:
        """Nobody in this worker subscribes to or waits on this room."""
        return not self.subscribers and not self.joining and not self.waiters

    def receive(self, envelope: Envelope) -> None:
        """One message of this room, in id order; ids already received are ignored."""
        if envelope.id <= self.last_id:
            return
        self.last_id = envelope.id
        self.deliver(envelope)
        if self.joining:
            self._feed_joining(envelope)

    def _feed_joining(self, envelope: Envelope) -> None:
        for join in list(self.joining):
            subscription = join.subscription
            if subscription is None:
                join.buffer.append(envelope)
            elif envelope.id > join.threshold:
                del self.joining[join]
                self.subscribers[subscription] = None
                subscription.offer(envelope)

    def complete(
        self,
        join: Joining,
        last: int,
        backlog: list[Envelope],
        missed: int,
        make: Callable[[list[Envelope], int], Subscription],
    ) -> Subscription:
        """Turn ``join`` into a subscription, given the room's ``last`` id when it was read.

        Args:
            join: registered with :meth:`Joining` before the read.
            last: the room's last id, read atomically with ``backlog``.
            backlog: the messages after the subscriber's cursor up to ``last``.
            missed: messages after the cursor that history no longer held.
            make: builds the subscription from its initial queue and ``missed``.
        """
        buffer = join.buffer
        subscription = make(backlog + [e for e in buffer if e.id > last], missed)
        if buffer and buffer[-1].id >= last:
            del self.joining[join]
            self.subscribers[subscription] = None
        else:
            join.buffer = []
            join.subscription = subscription
            join.threshold = last
        return subscription

    def leave(self, subscription: Subscription, join: Joining) -> None:
        """Forget a closed subscription wherever it is."""
        self.subscribers.pop(subscription, None)
        self.joining.pop(join, None)

    def all_subscriptions(self) -> list[Subscription]:
        """Every subscription of this room, joined or still joining."""
        joining = [j.subscription for j in self.joining if j.subscription is not None]
        return [*self.subscribers, *joining]

    def catch_up_cursor(self) -> int | None:
        """After a reconnect: read history from this id on (None: nobody needs anything)."""
        if self.subscribers:
            return self.last_id
        thresholds = [j.threshold for j in self.joining if j.subscription is not None]
        return min(thresholds) if thresholds else None

    def gap(self, first_kept: int, notice: Callable[[int], Envelope]) -> None:
        """History now starts at ``first_kept``: tell each subscriber how much it missed."""
        # Offering may drop a subscriber, which removes it from these dicts: iterate copies.
        if first_kept - 1 > self.last_id:
            for subscription in list(self.subscribers):
                subscription.offer(notice(first_kept - 1 - self.last_id))
        for join in list(self.joining):
            if join.subscription is not None and first_kept - 1 > join.threshold:
                join.subscription.offer(notice(first_kept - 1 - join.threshold))
                join.threshold = first_kept - 1
        self.last_id = max(self.last_id, first_kept - 1)

    def reset(self, notice: Envelope) -> None:
        """Redis lost the room (restarted empty): ids start again at 1 after ``notice``."""
        self.last_id = 0
        for subscription in self.all_subscriptions():
            subscription.offer(notice)
        for join in self.joining:
            join.threshold = 0
        self.wake()
