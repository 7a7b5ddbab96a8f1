"""What every broker offers the transports: publish, read a page, wait for one, subscribe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from target_app.envelope import Envelope, PublishRequest
from target_app.subscription import Subscription

__all__ = ["Broker", "BrokerUnavailable", "CursorAhead", "Page", "TooManyRooms"]


@dataclass(frozen=True, slots=True)
class Page:
    """One poll's answer.

    Attributes:
        messages: the UTF-8 JSON of the messages with ids after the cursor, in id order.
        next: the cursor to send as ``after`` next time.
        missed: messages after the cursor that history no longer holds (0 when nothing was lost).
    """

    messages: list[bytes]
    next: int
    missed: int


class CursorAhead(ValueError):
    """A cursor beyond the room's last id: it comes from another server or a restarted one."""

    def __init__(self, room: str, after: int, last_id: int) -> None:
        super().__init__(
            f"cursor after={after} is ahead of room {room!r}, whose last id is {last_id}; "
            "the server may have restarted: resume from after=0"
        )
        self.last_id = last_id


class TooManyRooms(RuntimeError):
    """Creating one more room would pass the configured ``max_rooms``."""


class BrokerUnavailable(RuntimeError):
    """The broker cannot serve (for example its backing store is unreachable)."""


class Broker(Protocol):
    """The message store and fan-out behind every transport."""

    name: str

    async def start(self) -> None:
        """Connect; raise :class:`BrokerUnavailable` with a clear message when it cannot."""

    async def close(self) -> None:
        """Release everything; subscriptions end."""

    def healthy(self) -> bool:
        """Whether the broker can serve right now."""

    async def publish(self, room: str, request: PublishRequest) -> Envelope:
        """Give the message the room's next id, keep it in history, offer it to subscribers."""

    async def read(self, room: str, after: int, limit: int) -> Page:
        """At most ``limit`` messages with ids greater than ``after`` (a short poll)."""

    async def wait(self, room: str, after: int, limit: int, wait_s: float) -> Page:
        """Like :meth:`read`, but waits up to ``wait_s`` seconds for a first message."""

    async def subscribe(self, room: str, after: int | None) -> Subscription:
        """Push every new message; with ``after``, first replay history after that id."""
