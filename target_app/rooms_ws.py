"""``/ws/rooms/{room}``: every new message of a room pushed; text frames sent in are published."""

import asyncio
import contextlib
from collections.abc import Callable
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect, status

from target_app.asgi_channel import channel
from target_app.broker import Broker, BrokerUnavailable, CursorAhead, TooManyRooms
from target_app.envelope import InvalidMessage, parse_publish
from target_app.limits import too_large
from target_app.metrics import Metrics
from target_app.rooms_http import RoomName
from target_app.subscription import Subscription, SubscriptionDropped

__all__ = ["SLOW_SUBSCRIBER_CLOSE", "close_reason", "rooms_ws_router"]

#: Close code for a subscriber that fell ``send_queue_size`` messages behind.
SLOW_SUBSCRIBER_CLOSE = status.WS_1008_POLICY_VIOLATION


def close_reason(text: str) -> str:
    """``text`` cut to the 123 UTF-8 bytes a close frame's reason may hold."""
    return text.encode()[:123].decode(errors="ignore")


async def _push(websocket: WebSocket, subscription: Subscription, metrics: Metrics) -> None:
    _, send = channel(websocket)
    delivered = metrics.delivered["ws"]
    try:
        while True:
            batch = await subscription.get_batch()
            if not batch:
                return
            for envelope in batch:
                await send({"type": "websocket.send", "text": envelope.text})
            delivered.count += len(batch)
    except SubscriptionDropped:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await websocket.close(
                SLOW_SUBSCRIBER_CLOSE, "slow subscriber: send queue overflowed, messages dropped"
            )
    except (WebSocketDisconnect, RuntimeError, OSError):
        return


def _count_drop(metrics: Metrics, transport: str) -> Callable[[Subscription], None]:
    def count(subscription: Subscription) -> None:
        metrics.slow_subscriber(transport, subscription.discarded)

    return count


def rooms_ws_router(max_message_bytes: int) -> APIRouter:
    """The room socket route, refusing frames over ``max_message_bytes``."""
    router = APIRouter()

    @router.websocket("/ws/rooms/{room}")
    async def room_socket(
        websocket: WebSocket,
        room: RoomName,
        after: Annotated[
            int | None, Query(ge=0, description="Replay history after this id first.")
        ] = None,
        receive: Annotated[
            bool, Query(description="false: publish only, nothing is pushed to this socket.")
        ] = True,
    ) -> None:
        """Subscribe to a room and publish into it over one socket."""
        broker: Broker = websocket.app.state.broker
        metrics: Metrics = websocket.app.state.metrics
        if not receive:
            await websocket.accept()
            metrics.connections["ws"].inc()
            try:
                with contextlib.suppress(WebSocketDisconnect):
                    await _publish_from(websocket, broker, room, max_message_bytes, metrics)
            finally:
                metrics.connections["ws"].dec()
            return
        # Subscribe before completing the handshake: once the client sees the socket open,
        # every message published from then on is guaranteed to reach it.
        try:
            subscription = await broker.subscribe(room, after)
        except (CursorAhead, TooManyRooms, BrokerUnavailable) as exc:
            await websocket.accept()
            if isinstance(exc, BrokerUnavailable):
                metrics.unavailable("ws")
            code = (
                status.WS_1008_POLICY_VIOLATION
                if isinstance(exc, CursorAhead)
                else status.WS_1013_TRY_AGAIN_LATER
            )
            await websocket.close(code, close_reason(str(exc)))
            return
        try:
            await websocket.accept()
        except BaseException:
            subscription.close()
            raise
        metrics.connections["ws"].inc()
        subscription.on_drop = _count_drop(metrics, "ws")
        if subscription.missed:
            metrics.dropped("ws", "history", subscription.missed)
            await websocket.send_text(
                orjson.dumps({"event": "missed", "missed": subscription.missed}).decode()
            )
        writer = asyncio.create_task(_push(websocket, subscription, metrics))
        try:
            await _publish_from(websocket, broker, room, max_message_bytes, metrics)
        except WebSocketDisconnect:
            pass
        finally:
            metrics.connections["ws"].dec()
            subscription.close()
            # The writer may be parked on a client that stopped reading: do not wait on it.
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    return router


async def _publish_from(
    websocket: WebSocket, broker: Broker, room: str, max_message_bytes: int, metrics: Metrics
) -> None:
    published = metrics.published["ws"]
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text: str | None = message.get("text")
        frame = text if text is not None else message.get("bytes")
        if frame is None:
            continue
        if too_large(frame, max_message_bytes):
            await websocket.close(status.WS_1009_MESSAGE_TOO_BIG, "message too big")
            return
        try:
            draft = parse_publish(frame)
        except InvalidMessage as exc:
            # A bad frame is the client's mistake, not a reason to lose its subscription.
            await websocket.send_text(
                orjson.dumps(
                    {"event": "error", "error": "invalid message", "detail": exc.detail}
                ).decode()
            )
            continue
        try:
            await broker.publish(room, draft)
        except BrokerUnavailable as exc:
            # Refused, not lost: the publisher learns at once and may send again.
            metrics.unavailable("ws")
            await websocket.send_text(
                orjson.dumps(
                    {"event": "error", "error": "broker unavailable", "detail": str(exc)}
                ).decode()
            )
            continue
        except TooManyRooms as exc:
            await websocket.send_text(orjson.dumps({"event": "error", "error": str(exc)}).decode())
            continue
        published.count += 1
