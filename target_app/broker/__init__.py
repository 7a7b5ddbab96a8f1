"""Brokers: where room history lives and how messages fan out to subscribers."""

from __future__ import annotations

from collections.abc import Callable

from target_app.broker.base import Broker, BrokerUnavailable, CursorAhead, Page, TooManyRooms
from target_app.broker.memory import MemoryBroker
from target_app.settings import REDIS_SCHEMES, Settings

__all__ = [
    "Broker",
    "BrokerUnavailable",
    "CursorAhead",
    "MemoryBroker",
    "Page",
    "TooManyRooms",
    "create_broker",
]


def _ignore_state(healthy: bool, reconnected: bool) -> None:
    return None


def create_broker(
    settings: Settings, on_state: Callable[[bool, bool], None] = _ignore_state
) -> Broker:
    """The broker ``settings.broker_url`` names.

    Args:
        settings: the server's settings.
        on_state: told (healthy, reconnected) whenever the broker's health changes.

    Raises:
        ValueError: the URL names no broker this server has.
    """
    if settings.broker_url == "memory":
        return MemoryBroker(
            settings.history_size,
            settings.send_queue_size,
            settings.max_rooms,
            room_history_bytes=settings.room_history_max_bytes,
            history_bytes=settings.history_max_bytes,
        )
    if settings.broker_url.startswith(REDIS_SCHEMES):
        # Imported here: the memory broker must not need the redis package loaded.
        from target_app.broker.redis import RedisBroker

        return RedisBroker(
            settings.broker_url,
            prefix=settings.redis_prefix,
            history_size=settings.history_size,
            room_history_bytes=settings.room_history_max_bytes,
            history_bytes=settings.history_max_bytes,
            send_queue_size=settings.send_queue_size,
            max_rooms=settings.max_rooms,
            timeout_s=settings.redis_timeout_s,
            max_connections=settings.redis_max_connections,
            reconnect_min_s=settings.redis_reconnect_min_s,
            reconnect_max_s=settings.redis_reconnect_max_s,
            on_state=on_state,
        )
    raise ValueError(
        f"unsupported broker {settings.broker_url!r}: this server offers 'memory' "
        "(one worker process) or a redis:// URL"
    )
