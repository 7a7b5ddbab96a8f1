"""``/ws`` and ``/ws/rooms/{room}`` of the ``fastapi`` flavor, as a FastAPI user writes them.

``@router.websocket`` path operations on Starlette's ``WebSocket``, parameters declared with
``Path``/``Query``, the access check a dependency, the app's broker and metrics from
``websocket.app.state``; a room socket is a reader loop plus a writer task. Every frame goes
through the framework (routing, dependency solving, ``WebSocket``'s state checks): that cost is
what this flavor measures. What the sockets answer is the ``asgi`` flavor's, byte for byte
(:mod:`target_app.echo`, :mod:`target_app.rooms_ws`): the frames, close codes and reasons come
from :mod:`target_app.room_events`, :mod:`target_app.ws_params` and :mod:`target_app.access`.
"""

import asyncio
import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, WebSocket
from fastapi.exceptions import WebSocketRequestValidationError
from starlette import status
from starlette.websockets import WebSocketDisconnect, WebSocketDisconnected

from target_app.access import RATE_LIMIT_CLOSE, Access, PublishBucket, Refusal, refuse_handshake
from target_app.asgi_ws import close_reason
from target_app.broker import Broker, BrokerUnavailable, CursorAhead, TooManyRooms
from target_app.echo import precise_sleep
from target_app.limits import too_large
from target_app.metrics import Metrics, Tally
from target_app.room_events import (
    SLOW_SUBSCRIBER_CLOSE,
    SLOW_SUBSCRIBER_REASON,
    count_drop,
    error_frame,
    missed_frame,
    not_utf8,
    publish_frame,
    refusal_code,
)
from target_app.settings import ROOM_PATTERN, Settings
from target_app.subscription import Subscription, SubscriptionDropped
from target_app.ws_params import InvalidParameters

__all__ = ["add_websocket_handlers", "websocket_router"]

#: What the socket's peer may do to a send or close: leave (Starlette turns uvicorn's
#: ClientDisconnected into WebSocketDisconnect) or have closed already (WebSocketDisconnected).
_GONE = (WebSocketDisconnect, WebSocketDisconnected)


async def admitted(websocket: WebSocket) -> None:
    """Refuse the handshake (401 without the token, 403 from a foreign Origin) before anything.

    A dependency runs before FastAPI validates the parameters, so the order is the ``asgi``
    flavor's: a refused client learns nothing about its parameters.
    """
    access: Access = websocket.app.state.access
    refusal = access.handshake_refusal(websocket.scope)
    if refusal is not None:
        raise refusal


def websocket_router(settings: Settings) -> APIRouter:
    """The two WebSocket path operations; ``delay_ms`` is bounded by ``max_echo_delay_ms``."""
    router = APIRouter(dependencies=[Depends(admitted)])

    @router.websocket("/ws", name="echo")
    async def echo(
        websocket: WebSocket,
        delay_ms: Annotated[int, Query(ge=0, le=settings.max_echo_delay_ms)] = 0,
    ) -> None:
        """Text comes back as ``Your text was: {text}``, binary unchanged; 1009 over the limit."""
        await websocket.accept()
        app_settings: Settings = websocket.app.state.settings
        with contextlib.suppress(*_GONE):
            await _echo_loop(websocket, delay_ms / 1000, app_settings.max_message_bytes)

    @router.websocket("/ws/rooms/{room}", name="room")
    async def room_socket(
        websocket: WebSocket,
        room: Annotated[str, Path(pattern=ROOM_PATTERN)],
        after: Annotated[int | None, Query(ge=0)] = None,
        receive: bool = True,
    ) -> None:
        """Push the room's messages (history after ``after`` first); publish every frame."""
        await _serve_room(websocket, room, after, receive)

    return router


def add_websocket_handlers(app: FastAPI) -> None:
    """Answer a refused handshake and bad parameters as the ``asgi`` flavor does."""
    app.add_exception_handler(Refusal, _refused)  # type: ignore[arg-type]
    app.add_exception_handler(WebSocketRequestValidationError, _invalid_parameters)  # type: ignore[arg-type]


async def _refused(websocket: WebSocket, refusal: Refusal) -> None:
    # Through the WebSocket's own send: Starlette allows an HTTP denial before the accept.
    await refuse_handshake(websocket.scope, websocket.send, refusal)


async def _invalid_parameters(websocket: WebSocket, exc: WebSocketRequestValidationError) -> None:
    """Accept, then close 1008 with ``ws_params``' reason (FastAPI's own closes before the
    accept, which a client sees as a bare HTTP 403, and with the whole error in the reason)."""
    errors: list[dict[str, Any]] = [
        {"loc": list(error["loc"]), "msg": error["msg"]} for error in exc.errors()
    ]
    # The asgi flavor validates the path before the query: a bad room name is all it reports.
    path_errors = [error for error in errors if error["loc"][:1] == ["path"]]
    await websocket.accept()
    await _close(
        websocket, status.WS_1008_POLICY_VIOLATION, str(InvalidParameters(path_errors or errors))
    )


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    """Close (``reason`` cut to fit a close frame); a client already gone is not an error."""
    with contextlib.suppress(*_GONE, RuntimeError):
        await websocket.close(code, close_reason(reason))


async def _echo_loop(websocket: WebSocket, delay_s: float, max_bytes: int) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text: str | None = message.get("text")
        data: bytes | None = message.get("bytes")
        frame = text if text is not None else data
        if frame is None:
            continue
        if too_large(frame, max_bytes):
            await _close(websocket, status.WS_1009_MESSAGE_TOO_BIG, "message too big")
            return
        if delay_s:
            await precise_sleep(delay_s)
        if text is not None:
            await websocket.send_text(f"Your text was: {text}")
        else:
            await websocket.send_bytes(frame)  # type: ignore[arg-type]


async def _serve_room(websocket: WebSocket, room: str, after: int | None, receive: bool) -> None:
    broker: Broker = websocket.app.state.broker
    metrics: Metrics = websocket.app.state.metrics
    # Subscribe before accepting: every message published once the client sees the socket
    # open reaches it.
    subscription: Subscription | None = None
    if receive:
        try:
            subscription = await broker.subscribe(room, after)
        except (CursorAhead, TooManyRooms, BrokerUnavailable) as exc:
            if isinstance(exc, BrokerUnavailable):
                metrics.unavailable("ws")
            await websocket.accept()
            await _close(websocket, refusal_code(exc), str(exc))
            return
    # Counted open before the accept goes out (see target_app.rooms_ws).
    connections = metrics.connections["ws"]
    connections.inc()
    try:
        await websocket.accept()
    except BaseException:
        connections.dec()
        if subscription is not None:
            subscription.close()
        raise
    writer: asyncio.Task[None] | None = None
    try:
        if subscription is not None:
            writer = await _start_writer(websocket, subscription, metrics)
        await _read(websocket, room)
    except _GONE:
        return  # the client left while a reply was being sent
    finally:
        if subscription is not None:
            subscription.close()  # ends the writer's wait, too
        connections.dec()
        if writer is not None:
            writer.cancel()  # it may be stuck sending to a client that stopped reading
            with contextlib.suppress(asyncio.CancelledError):
                await writer


async def _start_writer(
    websocket: WebSocket, subscription: Subscription, metrics: Metrics
) -> asyncio.Task[None]:
    subscription.on_drop = count_drop(metrics, "ws")
    if subscription.missed:
        metrics.dropped("ws", "history", subscription.missed)
        await websocket.send_text(missed_frame(subscription.missed))
    return asyncio.create_task(_push(websocket, subscription, metrics.delivered["ws"]))


async def _push(websocket: WebSocket, subscription: Subscription, delivered: Tally) -> None:
    """The writer: sends each batch of the subscription's queue until it is closed.

    A client that stops reading only stalls this task; the broker keeps offering to its queue
    without waiting, and drops it once full: then the socket is closed with 1008.
    """
    try:
        while batch := await subscription.get_batch():
            for envelope in batch:
                await websocket.send_text(envelope.text)
            delivered.count += len(batch)
    except SubscriptionDropped:
        await _close(websocket, SLOW_SUBSCRIBER_CLOSE, SLOW_SUBSCRIBER_REASON)
    except _GONE:
        return


async def _read(websocket: WebSocket, room: str) -> None:
    """The reader: publishes every frame, answers a refused one with an error frame."""
    state = websocket.app.state
    broker: Broker = state.broker
    metrics: Metrics = state.metrics
    access: Access = state.access
    max_bytes: int = state.settings.max_message_bytes
    published = metrics.published["ws"]
    budget: PublishBucket | None = None  # made at the first frame: idle subscribers hold none
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text: str | None = message.get("text")
        frame: str | bytes | None = text if text is not None else message.get("bytes")
        if frame is None:
            continue
        if too_large(frame, max_bytes):
            await _close(websocket, status.WS_1009_MESSAGE_TOO_BIG, "message too big")
            return
        if budget is None:
            budget = access.publisher_bucket()
        if not budget.take(len(frame)):
            await _close(websocket, RATE_LIMIT_CLOSE, access.rate_limit_reason)
            return
        error = None if isinstance(frame, str) else not_utf8(frame)
        if error is None:
            error = await publish_frame(broker, metrics, room, frame)
        if error is None:
            published.count += 1
        else:
            # A bad frame is the client's mistake, not a reason to lose its subscription.
            await websocket.send_text(error_frame(error))
