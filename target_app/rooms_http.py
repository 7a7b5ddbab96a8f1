"""Rooms over plain HTTP: publish with ``POST``, receive by short poll or long poll."""

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status

from target_app.access import Access
from target_app.asgi_ws import Receive
from target_app.broker import Broker, Page
from target_app.envelope import InvalidMessage, PublishRequest, parse_publish
from target_app.limits import read_bounded_body
from target_app.metrics import Metrics
from target_app.settings import ROOM_PATTERN, Settings

__all__ = ["RoomName", "page_body", "rooms_http_router", "wait_unless_gone"]

RoomName = Annotated[
    str, Path(pattern=ROOM_PATTERN, description="1-64 characters: letters, digits, '_', '.', '-'.")
]

_PUBLISH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": PublishRequest.model_json_schema()}},
    }
}


def page_body(room: str, page: Page) -> bytes:
    """A poll answer as JSON, splicing in the envelopes' ready-made encodings."""
    return b'{"room":"%s","messages":[%s],"next":%d,"missed":%d}' % (
        room.encode(),
        b",".join(page.messages),
        page.next,
        page.missed,
    )


async def wait_unless_gone(receive: Receive, waiting: Coroutine[Any, Any, Page]) -> Page | None:
    """Await a long poll, but give up as soon as its client disconnects (None).

    A parked long poll whose client left would otherwise hold its slot (and uvicorn's graceful
    shutdown) for the whole ``wait``. ``receive`` is the request's ASGI ``receive``.
    """
    wait_task = asyncio.ensure_future(waiting)
    gone = asyncio.ensure_future(_disconnect(receive))
    try:
        await asyncio.wait((wait_task, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if not wait_task.done():
        wait_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await wait_task
        return None
    return wait_task.result()


async def _disconnect(receive: Receive) -> None:
    # The (empty) GET body comes first; after it, receive() blocks until the client leaves.
    while (await receive())["type"] != "http.disconnect":
        pass


class _ClientGone(HTTPException):
    def __init__(self) -> None:
        # Never seen by anyone: the client is gone. 499 is nginx's "client closed request".
        super().__init__(499, "client closed the request")


def rooms_http_router(settings: Settings) -> APIRouter:
    """``POST`` and ``GET /rooms/{room}/messages``, bounded by ``settings``."""
    router = APIRouter(tags=["rooms"])

    @router.post(
        "/rooms/{room}/messages",
        status_code=status.HTTP_201_CREATED,
        openapi_extra=_PUBLISH_BODY,
        responses={
            403: {"description": "A browser Origin the server does not allow."},
            413: {"description": "Body over the message size limit."},
            415: {"description": "Content-Type is not application/json."},
            429: {"description": "Over the client's publish rate limit (see Retry-After)."},
            503: {"description": "The broker is unavailable (for example Redis is down)."},
        },
    )
    async def publish(request: Request, room: RoomName) -> Response:
        """Publish one message; answers with its envelope, including the server id."""
        access: Access = request.app.state.access
        access.check_publish(request)
        body = await read_bounded_body(request, settings.max_message_bytes)
        access.charge_publish(request, len(body))
        broker: Broker = request.app.state.broker
        try:
            # The broker encodes the message before it takes an id, and may refuse it too.
            envelope = await broker.publish(room, parse_publish(body))
        except InvalidMessage as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.detail) from None
        metrics: Metrics = request.app.state.metrics
        metrics.published["http"].count += 1
        return Response(envelope.text, status.HTTP_201_CREATED, media_type="application/json")

    @router.get(
        "/rooms/{room}/messages",
        responses={
            200: {
                "description": "Messages after the cursor; `next` is the cursor for the next "
                "poll; `missed` counts messages history no longer holds.",
            },
            409: {"description": "Cursor ahead of the room (server restarted?)."},
            503: {"description": "The broker is unavailable (for example Redis is down)."},
        },
    )
    async def poll(
        request: Request,
        room: RoomName,
        after: Annotated[int, Query(ge=0, description="Return messages with id > after.")] = 0,
        limit: Annotated[int, Query(ge=1, le=settings.max_poll_limit)] = 100,
        wait: Annotated[
            float,
            Query(
                ge=0,
                le=settings.max_wait_s,
                description="Long poll: wait up to this many seconds for a first message.",
            ),
        ] = 0.0,
    ) -> Response:
        """Short poll (``wait=0``) or long poll (``wait>0``) for messages after a cursor."""
        broker: Broker = request.app.state.broker
        metrics: Metrics = request.app.state.metrics
        if wait > 0:
            transport = "long_poll"
            waiting = metrics.connections[transport]
            waiting.inc()
            try:
                waited = await wait_unless_gone(
                    request.receive, broker.wait(room, after, limit, wait)
                )
            finally:
                waiting.dec()
            if waited is None:
                raise _ClientGone
            page = waited
        else:
            transport = "short_poll"
            page = await broker.read(room, after, limit)
        metrics.delivered[transport].count += len(page.messages)
        if page.missed:
            metrics.dropped(transport, "history", page.missed)
        return Response(page_body(room, page), media_type="application/json")

    return router
