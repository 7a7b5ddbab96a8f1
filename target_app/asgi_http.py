"""The HTTP transports as plain ASGI: publish, short poll, long poll and SSE (``asgi`` flavor).

:class:`~target_app.reference_app.ReferenceApp` hands ``POST``/``GET /rooms/{room}/messages`` and
``GET /rooms/{room}/events`` straight to :class:`RoomsHTTP`, ahead of FastAPI's middleware,
router and dependency solving, as it hands over the WebSocket endpoints: in the ``asgi`` flavor
every transport is served at the same level, so a comparison of transports compares transports,
not how much framework each one passed through. The routes of :mod:`target_app.rooms_http` and
:mod:`target_app.sse` stay registered and serve these paths through the full stack when the
shortcut does not apply (a ``root_path``; ``HEAD``, other methods, other paths fall through).

Both ways answer alike, byte for byte (``tests/unit/test_asgi_http.py`` checks a matrix of
requests on both): the same access rules (:mod:`target_app.access`: token first, since no
middleware runs here, then Origin, JSON content type, size while streaming, rate limit), the
same parameter rules and 422 bodies (:mod:`target_app.http_params`), the same 201/200 bodies,
409/413/415/429/503 answers (error bodies rendered by Starlette's ``JSONResponse``, as the
routes' exception handlers render them: they are not the hot path), the same SSE stream and the
same metrics. Only the 200 and 201 answers and the stream are written by hand.

Measured on this machine (2 shared vCPUs, other jobs running), empty short polls of a room's head
over 50 keep-alive connections, ``pushbench serverbench --ws-impl websockets-sansio --idle 0
--repeat 3`` (server and client pinned to a CPU each): the reference server 19,822 requests/s
against the bare ASGI poll app's 22,944 (0.86, run ``20261201-094500-serverbench-382c``; 0.84 in
``20261201-093923-serverbench-ffa2``), where the FastAPI routes served 4,409 against 18,113
(0.24, ``20261201-091030-serverbench-ec63``). The handler is at the floor: the bare app's own
poll handler called from the same place measured the same (0.87, ``...-094107-...-f482``), and
called before ``ReferenceApp.__call__`` 1.01 (``...-094312-...-a1f5``): at these rates every µs
per request costs the closed loop several per cent. In process (``benchmarks/micro``, group
``asgi-empty-poll``, harness included): 30.6 µs per empty poll here, 189.0 µs through the
FastAPI route, 26.4 µs for the bare app (the broker read ~0.9 µs of the difference, parameters
~0.6 µs).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.responses import JSONResponse

from target_app.access import Access, unauthorized_response
from target_app.asgi_ws import Receive, Scope, Send
from target_app.broker import Broker, BrokerUnavailable, CursorAhead, Page, TooManyRooms
from target_app.envelope import InvalidMessage, parse_publish
from target_app.http_params import (
    EventsParser,
    InvalidRequest,
    PollParser,
    header_values,
    query_values,
    room_name,
)
from target_app.limits import BodyTooLarge, read_body_within
from target_app.metrics import Metrics
from target_app.rooms_http import page_body, wait_unless_gone
from target_app.settings import Settings
from target_app.sse import DROPPED, KEEPALIVE, RETRY, format_events, missed_event
from target_app.subscription import Subscription, SubscriptionDropped

__all__ = ["RoomsHTTP"]

_JSON = (b"content-type", b"application/json")
_SSE_HEADERS = [
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
    (b"content-type", b"text/event-stream; charset=utf-8"),
]
_AUTHORIZATION = frozenset({b"authorization"})
_PUBLISH_HEADERS = frozenset(
    {b"authorization", b"origin", b"host", b"content-type", b"content-length"}
)
_EVENTS_HEADERS = frozenset({b"authorization", b"last-event-id"})


async def _send_json(send: Send, response: JSONResponse) -> None:
    status, headers = response.status_code, response.raw_headers
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


async def _send_detail(
    send: Send, status: int, detail: Any, headers: dict[str, str] | None = None
) -> None:
    # As FastAPI's HTTPException handler: {"detail": ...}, the exception's headers first.
    await _send_json(send, JSONResponse({"detail": detail}, status, headers))


async def _send_body(send: Send, status: int, body: bytes) -> None:
    # As Starlette's Response(body, status, media_type="application/json").
    headers = [(b"content-length", b"%d" % len(body)), _JSON]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RoomsHTTP:
    """The HTTP endpoints of the rooms, served from the scope with no framework in between."""

    __slots__ = (
        "_events",
        "_poll",
        "access",
        "broker",
        "keepalive_s",
        "max_message_bytes",
        "metrics",
        "token_required",
    )

    def __init__(self, settings: Settings, broker: Broker, metrics: Metrics, access: Access):
        self.broker = broker
        self.metrics = metrics
        self.access = access
        self.token_required = access.token_required
        self.max_message_bytes = settings.max_message_bytes
        self.keepalive_s = settings.sse_keepalive_s
        self._poll = PollParser(settings.max_poll_limit, settings.max_wait_s)
        self._events = EventsParser()

    def _unauthorized(self, headers: dict[bytes, str], scope: Scope) -> bool:
        return not self.access.authorized(headers.get(b"authorization"), scope["query_string"])

    async def poll(self, raw_room: str, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /rooms/{room}/messages``: a short poll, or a long poll with ``wait>0``."""
        if self.token_required and self._unauthorized(
            header_values(scope["headers"], _AUTHORIZATION), scope
        ):
            await _send_json(send, unauthorized_response())
            return
        query = query_values(scope["query_string"])
        try:
            room, after, limit, wait_s = self._poll.parse(raw_room, query)
        except InvalidRequest as exc:
            await _send_json(send, exc.response())
            return
        try:
            if wait_s > 0:
                transport = "long_poll"
                page = await self._long_poll(room, after, limit, wait_s, receive)
                if page is None:
                    return  # the client left: nobody to answer
            else:
                transport = "short_poll"
                page = await self.broker.read(room, after, limit)
        except (CursorAhead, BrokerUnavailable, TooManyRooms) as exc:
            # The route's handler counts by the raw parameter: any wait=, even 0, is long_poll.
            counted = "long_poll" if query.get("wait") else "short_poll"
            await self._broker_refused(send, exc, counted)
            return
        self.metrics.delivered[transport].count += len(page.messages)
        if page.missed:
            self.metrics.dropped(transport, "history", page.missed)
        # _send_body inlined: one coroutine less on the hottest path of the HTTP transports.
        body = page_body(room, page)
        headers = [(b"content-length", b"%d" % len(body)), _JSON]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _long_poll(
        self, room: str, after: int, limit: int, wait_s: float, receive: Receive
    ) -> Page | None:
        waiting = self.metrics.connections["long_poll"]
        waiting.inc()
        try:
            return await wait_unless_gone(receive, self.broker.wait(room, after, limit, wait_s))
        finally:
            waiting.dec()

    async def _broker_refused(self, send: Send, exc: Exception, transport: str) -> None:
        # As the app's exception handlers (target_app.main).
        if isinstance(exc, CursorAhead):
            await _send_json(send, JSONResponse({"detail": str(exc), "last_id": exc.last_id}, 409))
            return
        if isinstance(exc, BrokerUnavailable):
            self.metrics.unavailable(transport)
        await _send_detail(send, 503, str(exc))

    async def publish(self, raw_room: str, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /rooms/{room}/messages``: publish one message, answer its envelope (201)."""
        headers = header_values(scope["headers"], _PUBLISH_HEADERS)
        if self.token_required and self._unauthorized(headers, scope):
            await _send_json(send, unauthorized_response())
            return
        errors: list[dict[str, Any]] = []
        room = room_name(raw_room, errors)
        if errors:
            await _send_json(send, InvalidRequest(errors).response())
            return
        refusal = self.access.publish_refusal(
            headers.get(b"origin"), headers.get(b"host"), headers.get(b"content-type", "")
        )
        if refusal is not None:
            await _send_detail(send, refusal.status_code, refusal.detail)
            return
        try:
            body = await read_body_within(
                receive, headers.get(b"content-length"), self.max_message_bytes
            )
        except BodyTooLarge as exc:
            await _send_detail(send, 413, exc.detail)
            return
        if body is None:
            return  # the client left before its body was in
        client = scope.get("client")
        retry_after_s = self.access.publish_retry_after_s(client[0] if client else "", len(body))
        if retry_after_s is not None:
            await _send_detail(
                send, 429, self.access.rate_limit_reason, {"Retry-After": str(retry_after_s)}
            )
            return
        await self._publish(room, body, send)

    async def _publish(self, room: str, body: bytes, send: Send) -> None:
        try:
            # The broker encodes the message before it takes an id, and may refuse it too.
            envelope = await self.broker.publish(room, parse_publish(body))
        except InvalidMessage as exc:
            await _send_detail(send, 422, exc.detail)
            return
        except (BrokerUnavailable, TooManyRooms) as exc:
            await self._broker_refused(send, exc, "http")
            return
        self.metrics.published["http"].count += 1
        await _send_body(send, 201, envelope.text.encode())

    async def events(self, raw_room: str, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /rooms/{room}/events``: every new message as an SSE event, until the client
        leaves, the subscriber falls too far behind, or the server shuts down."""
        headers = header_values(scope["headers"], _EVENTS_HEADERS)
        if self.token_required and self._unauthorized(headers, scope):
            await _send_json(send, unauthorized_response())
            return
        try:
            room, cursor = self._events.parse(
                raw_room, query_values(scope["query_string"]), headers.get(b"last-event-id")
            )
        except InvalidRequest as exc:
            await _send_json(send, exc.response())
            return
        try:
            subscription = await self.broker.subscribe(room, cursor)
        except CursorAhead as exc:
            await _send_detail(send, 409, str(exc))  # the route's HTTPException: no last_id
            return
        except (TooManyRooms, BrokerUnavailable) as exc:
            await self._broker_refused(send, exc, "sse")
            return
        metrics = self.metrics
        subscription.on_drop = lambda dropped: metrics.slow_subscriber("sse", dropped.discarded)
        # As Starlette's StreamingResponse under ASGI 2.3 (uvicorn's): the client leaving ends
        # the stream, seen by a task waiting for http.disconnect.
        watcher = asyncio.ensure_future(_close_on_disconnect(receive, subscription))
        try:
            # A fresh list: a wrapping middleware may edit a response's headers in place.
            start = {"type": "http.response.start", "status": 200, "headers": list(_SSE_HEADERS)}
            await send(start)
            if await self._stream(subscription, send, watcher):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            subscription.close()

    async def _stream(
        self, subscription: Subscription, send: Send, watcher: asyncio.Future[None]
    ) -> bool:
        """The records of :mod:`target_app.sse`'s stream; False when the client left."""
        connections = self.metrics.connections["sse"]
        delivered = self.metrics.delivered["sse"]
        connections.inc()
        try:
            await _chunk(send, RETRY)
            if subscription.missed:
                self.metrics.dropped("sse", "history", subscription.missed)
                await _chunk(send, missed_event(subscription.missed))
            while True:
                try:
                    async with asyncio.timeout(self.keepalive_s):
                        batch = await subscription.get_batch()
                except TimeoutError:
                    await _chunk(send, KEEPALIVE)
                    continue
                except SubscriptionDropped:
                    await _chunk(send, DROPPED)
                    return True
                if not batch:
                    # Closed: by the client leaving (no more to send), or the server's shutdown.
                    return not watcher.done()
                delivered.count += len(batch)
                await _chunk(send, format_events([(e.id, e.text) for e in batch]))
        finally:
            connections.dec()


async def _chunk(send: Send, data: bytes) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": True})


async def _close_on_disconnect(receive: Receive, subscription: Subscription) -> None:
    # The (empty) GET body comes first; after it, receive() returns once the client leaves.
    while (await receive())["type"] != "http.disconnect":
        pass
    subscription.close()
