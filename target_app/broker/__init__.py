"""Brokers: where room history lives and how messages fan out to subscribers."""

from __future__ import annotations

from target_app.broker.base import Broker, BrokerUnavailable, CursorAhead, Page, TooManyRooms
from target_app.broker.memory import MemoryBroker
from target_app.settings import Settings

__all__ = [
    "Broker",
    "BrokerUnavailable",
    "CursorAhead",
    "MemoryBroker",
    "Page",
    "TooManyRooms",
    "create_broker",
]


def create_broker(settings: Settings) -> Broker:
    """The broker ``settings.broker_url`` names.

    Raises:
        ValueError: the URL names no broker this server has.
    """
    if settings.broker_url == "memory":
        return MemoryBroker(settings.history_size, settings.send_queue_size, settings.max_rooms)
    raise ValueError(
        f"unsupported broker {settings.broker_url!r}: this server offers 'memory' "
        "(one worker process)"
    )
