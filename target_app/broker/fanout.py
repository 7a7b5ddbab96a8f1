"""A room's subscribers and long-poll waiters in this process: what every broker fans out to.

The memory broker keeps a room's history next to it; the Redis broker keeps only this part locally
and feeds it from its pub/sub listener. Either way delivery never awaits: a full subscriber is
dropped (and removes itself), never waited on.
"""

from __future__ import annotations

import asyncio

from target_app.envelope import Envelope
from target_app.subscription import Subscription

__all__ = ["LocalRoom"]


class LocalRoom:
    """Push subscribers and long-poll waiters of one room, in this worker process."""

    __slots__ = ("changed", "name", "subscribers")

    def __init__(self, name: str) -> None:
        self.name = name
        self.subscribers: dict[Subscription, None] = {}  # insertion-ordered set
        # Created only while a long poll waits, so publishing to a room nobody waits on is free.
        self.changed: asyncio.Future[None] | None = None

    def deliver(self, envelope: Envelope) -> None:
        """Offer ``envelope`` to every subscriber and wake every waiting long poll."""
        for subscription in list(self.subscribers):
            subscription.offer(envelope)
        # wake(), inlined: this runs once per message.
        changed = self.changed
        if changed is not None:
            self.changed = None
            changed.set_result(None)

    def wake(self) -> None:
        """Wake every waiting long poll (they re-read the room)."""
        changed = self.changed
        if changed is not None:
            self.changed = None
            changed.set_result(None)

    def changed_future(self) -> asyncio.Future[None]:
        """The future the next :meth:`deliver` (or :meth:`wake`) resolves; shared by waiters."""
        if self.changed is None:
            self.changed = asyncio.get_running_loop().create_future()
        return self.changed

    def discard(self, subscription: Subscription) -> None:
        """Forget ``subscription`` (its ``on_close``)."""
        self.subscribers.pop(subscription, None)
