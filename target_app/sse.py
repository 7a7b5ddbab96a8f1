"""``/rooms/{room}/events``: Server-Sent Events, resumable with ``Last-Event-ID``."""

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse
from pydantic import WithJsonSchema
from starlette.background import BackgroundTask

from target_app.broker import Broker, BrokerUnavailable, CursorAhead, TooManyRooms
from target_app.envelope import NOTICE_ID, split_notice
from target_app.metrics import Metrics
from target_app.room_events import SLOW_SUBSCRIBER_REASON, count_drop
from target_app.rooms_http import RoomName
from target_app.subscription import Subscription, SubscriptionDropped

__all__ = [
    "CURSOR_SCHEMA",
    "DROPPED",
    "KEEPALIVE",
    "RETRY",
    "AfterQuery",
    "LastEventIdHeader",
    "format_events",
    "missed_event",
    "open_subscription",
    "sse_router",
]

#: A cursor is documented as an integer, not "integer or null": a query parameter or header
#: cannot carry JSON null (a client leaves it out), and a generated "null" was refused with 422.
CURSOR_SCHEMA = WithJsonSchema({"type": "integer", "minimum": 0})

#: The SSE route's two resume cursors, declared once for both flavors' routes.
AfterQuery = Annotated[
    int | None, CURSOR_SCHEMA, Query(ge=0, description="Replay history after this id first.")
]
LastEventIdHeader = Annotated[
    int | None,
    CURSOR_SCHEMA,
    Header(ge=0, description="Sent by EventSource on reconnect; wins over `after`."),
]

#: FastAPI's keep-alive comment (``fastapi.sse.KEEPALIVE_COMMENT``), so both flavors send it.
KEEPALIVE = b": ping\n\n"

#: A stream's first record: reconnect quickly, a resumed stream loses nothing (Last-Event-ID).
RETRY = b"retry: 1000\n\n"

#: A stream's last record when its subscriber fell too far behind.
DROPPED = f'event: dropped\ndata: {{"error":"{SLOW_SUBSCRIBER_REASON}"}}\n\n'.encode()


def format_events(batch: list[tuple[int, str]]) -> bytes:
    """SSE ``data``/``id`` records for (id, JSON text) pairs, as one chunk.

    The bytes are FastAPI's own SSE encoding (``fastapi.sse.format_sse_event``: ``data:`` before
    ``id:``), so both server flavors send the same stream. A notice (id
    :data:`~target_app.envelope.NOTICE_ID`) becomes an ``event:`` record instead, e.g.
    ``event: missed`` with ``data: {"missed":3}``.
    """
    return "".join(
        f"data: {text}\nid: {mid}\n\n" if mid != NOTICE_ID else _notice_record(text)
        for mid, text in batch
    ).encode()


def missed_event(missed: int) -> bytes:
    """The record telling a resumed stream that ``missed`` messages left history before it."""
    return f'event: missed\ndata: {{"missed":{missed}}}\n\n'.encode()


def _notice_record(text: str) -> str:
    event, data = split_notice(text)
    return f"event: {event}\ndata: {data}\n\n"


async def _stream(
    subscription: Subscription, keepalive_s: float, metrics: Metrics
) -> AsyncIterator[bytes]:
    delivered = metrics.delivered["sse"]
    # Counted from the first chunk: a response that is never streamed never opened anything.
    metrics.connections["sse"].inc()
    try:
        yield RETRY
        if subscription.missed:
            metrics.dropped("sse", "history", subscription.missed)
            yield missed_event(subscription.missed)
        while True:
            try:
                async with asyncio.timeout(keepalive_s):
                    batch = await subscription.get_batch()
            except TimeoutError:
                yield KEEPALIVE
                continue
            except SubscriptionDropped:
                yield DROPPED
                return
            if not batch:
                return
            delivered.count += len(batch)
            yield format_events([(envelope.id, envelope.text) for envelope in batch])
    finally:
        metrics.connections["sse"].dec()
        subscription.close()


async def open_subscription(
    broker: Broker, metrics: Metrics, room: str, cursor: int | None
) -> Subscription:
    """An SSE stream's subscription, its drops counted; 409 / 503 as ``HTTPException``s.

    Shared by the StreamingResponse route here and FastAPI's ``EventSourceResponse`` route of
    the fastapi flavor (``target_app.fastapi_sse``): the same refusals, bodies and metrics.
    """
    try:
        subscription = await broker.subscribe(room, cursor)
    except CursorAhead as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except (TooManyRooms, BrokerUnavailable) as exc:
        if isinstance(exc, BrokerUnavailable):
            metrics.unavailable("sse")
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    subscription.on_drop = count_drop(metrics, "sse")
    return subscription


def sse_router(keepalive_s: float) -> APIRouter:
    """The SSE route; idle streams get a comment every ``keepalive_s`` seconds."""
    router = APIRouter(tags=["rooms"])

    @router.get(
        "/rooms/{room}/events",
        response_class=StreamingResponse,
        responses={
            200: {"content": {"text/event-stream": {}}, "description": "An endless event stream."},
            409: {"description": "Resume cursor ahead of the room (server restarted?)."},
            503: {"description": "Too many rooms, or the broker is unavailable."},
        },
    )
    async def events(
        request: Request,
        room: RoomName,
        after: AfterQuery = None,
        last_event_id: LastEventIdHeader = None,
    ) -> StreamingResponse:
        """Every new message of the room as an SSE event whose ``id`` is the message id."""
        metrics: Metrics = request.app.state.metrics
        cursor = last_event_id if last_event_id is not None else after
        subscription = await open_subscription(request.app.state.broker, metrics, room, cursor)
        return StreamingResponse(
            _stream(subscription, keepalive_s, metrics),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            background=BackgroundTask(subscription.close),
        )

    return router
