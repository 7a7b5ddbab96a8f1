"""``/rooms/{room}/events`` of the ``fastapi`` flavor: FastAPI's own Server-Sent Events.

A path operation with ``response_class=EventSourceResponse`` that ``yield``\\ s
:class:`~fastapi.sse.ServerSentEvent`\\ s; FastAPI encodes each one, runs the generator in a
producer task and inserts its keep-alives (``fastapi.routing``). The subscription is a ``yield``
dependency, so a refused one is a 409/503 before the stream starts, and it is closed when the
response ends. The bytes on the wire equal the ``asgi`` flavor's :mod:`target_app.sse`.

Keep-alive: FastAPI pings a stream idle for its fixed ``fastapi.sse._PING_INTERVAL`` (15 s),
which no setting reaches; the generator pings on its own after ``sse_keepalive_s`` idle, so the
setting still applies (a shorter interval keeps FastAPI's timer from ever firing; a longer one is
capped at FastAPI's 15 s). A private module global patched process-wide would be the alternative,
and would reach into every FastAPI app of the process.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from target_app.envelope import NOTICE_ID, Envelope, split_notice
from target_app.metrics import Metrics
from target_app.room_events import SLOW_SUBSCRIBER_REASON, missed_data
from target_app.rooms_http import RoomName
from target_app.sse import AfterQuery, LastEventIdHeader, open_subscription
from target_app.subscription import Subscription, SubscriptionDropped

__all__ = ["event_source_router"]

#: Reconnect quickly: a resumed stream loses nothing thanks to Last-Event-ID.
_RETRY = ServerSentEvent(retry=1000)
_PING = ServerSentEvent(comment="ping")
_DROPPED = ServerSentEvent(event="dropped", raw_data=f'{{"error":"{SLOW_SUBSCRIBER_REASON}"}}')


async def room_subscription(
    request: Request,
    room: RoomName,
    after: AfterQuery = None,
    last_event_id: LastEventIdHeader = None,
) -> AsyncIterator[Subscription]:
    """The room's subscription, closed once the response is over."""
    metrics: Metrics = request.app.state.metrics
    cursor = last_event_id if last_event_id is not None else after
    subscription = await open_subscription(request.app.state.broker, metrics, room, cursor)
    try:
        yield subscription
    finally:
        subscription.close()


def _event(envelope: Envelope) -> ServerSentEvent:
    if envelope.id == NOTICE_ID:
        event, data = split_notice(envelope.text)
        return ServerSentEvent(event=event, raw_data=data)
    return ServerSentEvent(raw_data=envelope.text, id=str(envelope.id))


def event_source_router(keepalive_s: float) -> APIRouter:
    """The SSE path operation; idle streams get a ``: ping`` every ``keepalive_s`` seconds."""
    router = APIRouter(tags=["rooms"])

    @router.get(
        "/rooms/{room}/events",
        response_class=EventSourceResponse,
        responses={
            200: {"description": "An endless event stream."},
            409: {"description": "Resume cursor ahead of the room (server restarted?)."},
            503: {"description": "Too many rooms, or the broker is unavailable."},
        },
    )
    async def events(
        request: Request, subscription: Annotated[Subscription, Depends(room_subscription)]
    ) -> AsyncIterator[ServerSentEvent]:
        """Every new message of the room as an SSE event whose ``id`` is the message id."""
        metrics: Metrics = request.app.state.metrics
        delivered = metrics.delivered["sse"]
        metrics.connections["sse"].inc()
        try:
            yield _RETRY
            if subscription.missed:
                metrics.dropped("sse", "history", subscription.missed)
                yield ServerSentEvent(event="missed", raw_data=missed_data(subscription.missed))
            while True:
                try:
                    async with asyncio.timeout(keepalive_s):
                        batch = await subscription.get_batch()
                except TimeoutError:
                    yield _PING
                    continue
                except SubscriptionDropped:
                    yield _DROPPED
                    return
                if not batch:
                    return
                # Counted before the yields: FastAPI's producer task and two one-item streams
                # sit between a yield and the wire, so the generator may resume only once the
                # client has read the whole batch.
                delivered.count += len(batch)
                for envelope in batch:
                    yield _event(envelope)
        finally:
            metrics.connections["sse"].dec()

    return router
