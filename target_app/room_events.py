"""What a room socket tells its client, whichever framework serves it.

Both server flavors' room sockets (:mod:`target_app.rooms_ws`, plain ASGI, and
:mod:`target_app.fastapi_ws`, Starlette's ``WebSocket``) publish through :func:`publish_frame` and
send these frames and close codes, so the two answer a client byte for byte alike: only the path
from the socket to this module differs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from starlette import status

from target_app.broker import Broker, BrokerUnavailable, CursorAhead, TooManyRooms
from target_app.envelope import InvalidMessage, parse_publish
from target_app.metrics import Metrics
from target_app.subscription import Subscription

__all__ = [
    "SLOW_SUBSCRIBER_CLOSE",
    "SLOW_SUBSCRIBER_REASON",
    "count_drop",
    "error_frame",
    "missed_data",
    "missed_frame",
    "not_utf8",
    "publish_frame",
    "refusal_code",
]

#: Close code for a subscriber that fell ``send_queue_size`` messages behind.
SLOW_SUBSCRIBER_CLOSE = status.WS_1008_POLICY_VIOLATION
#: ... and its reason; the SSE ``dropped`` event carries the same words.
SLOW_SUBSCRIBER_REASON = "slow subscriber: send queue overflowed, messages dropped"


def error_frame(fields: dict[str, Any]) -> str:
    """The ``{"event":"error",...}`` frame answering a refused publish."""
    return orjson.dumps({"event": "error", **fields}).decode()


def missed_data(missed: int) -> str:
    """The data of a resume's ``missed`` notice (the SSE event's ``data:``)."""
    return orjson.dumps({"missed": missed}).decode()


def missed_frame(missed: int) -> str:
    """The ``{"event":"missed",...}`` frame a resumed socket gets first."""
    return orjson.dumps({"event": "missed", "missed": missed}).decode()


def not_utf8(frame: bytes) -> dict[str, Any] | None:
    """The error event's fields for a binary frame that is not UTF-8, else None."""
    try:
        frame.decode()
    except UnicodeDecodeError as exc:
        # The shape of the validation errors of any other invalid message.
        msg = f"binary frame is not UTF-8 at byte {exc.start}: frames carry UTF-8 JSON"
        return {
            "error": "invalid message",
            "detail": [{"type": "json_invalid", "loc": [], "msg": msg}],
        }
    return None


async def publish_frame(
    broker: Broker, metrics: Metrics, room: str, frame: str | bytes
) -> dict[str, Any] | None:
    """Publish one frame; the error event's fields when it was refused."""
    try:
        # The broker encodes the message before it takes an id, and may refuse it too.
        await broker.publish(room, parse_publish(frame))
    except InvalidMessage as exc:
        return {"error": "invalid message", "detail": exc.detail}
    except BrokerUnavailable as exc:
        metrics.unavailable("ws")
        return {"error": "broker unavailable", "detail": str(exc)}
    except TooManyRooms as exc:
        return {"error": str(exc)}
    return None


def refusal_code(exc: CursorAhead | TooManyRooms | BrokerUnavailable) -> int:
    """The close code of a subscription the broker refused: 1008 for the client's cursor, else
    1013 (try again later)."""
    if isinstance(exc, CursorAhead):
        return status.WS_1008_POLICY_VIOLATION
    return status.WS_1013_TRY_AGAIN_LATER


def count_drop(metrics: Metrics, transport: str) -> Callable[[Subscription], None]:
    """A :attr:`Subscription.on_drop` counting the dropped subscriber under ``transport``."""

    def count(subscription: Subscription) -> None:
        metrics.slow_subscriber(transport, subscription.discarded)

    return count
