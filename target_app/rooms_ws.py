"""``/ws/rooms/{room}``: every new message of a room pushed; frames sent in are published.

A binary frame is published like a text frame when it carries UTF-8 JSON: the size limit and the
validation are the same, and a client that encodes JSON to bytes (``orjson.dumps`` does) need not
decode it first. One that is not UTF-8 gets an ``invalid message`` error frame saying so, and the
socket stays open.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette import status

from target_app.access import RATE_LIMIT_CLOSE, Access, PublishBucket, refuse_handshake
from target_app.asgi_ws import Receive, Scope, Send, accept, close, handshake, send_text
from target_app.broker import Broker, BrokerUnavailable, CursorAhead, TooManyRooms
from target_app.limits import too_large
from target_app.metrics import Metrics
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
from target_app.subscription import Subscription, SubscriptionDropped
from target_app.ws_params import InvalidParameters, room_name, room_query

__all__ = ["SLOW_SUBSCRIBER_CLOSE", "RoomSocket"]

#: How long a subscriber's writer task outlives its last message (see ``_Pusher``).
WRITER_LINGER_S = 1.0


class RoomSocket:
    """``/ws/rooms/{room}?after=&receive=`` as a plain ASGI endpoint.

    Subscribes to the room (replaying history after ``after`` first) and publishes every frame
    (text, or binary UTF-8 JSON) the client sends; ``receive=false`` only publishes. Bad
    parameters and a resume cursor past the room's last id close with 1008, an unavailable
    broker or too many rooms with 1013, each with the reason; a subscriber ``send_queue_size``
    messages behind is closed with 1008. A handshake without the token or from a foreign Origin
    is refused, and a socket publishing over its rate limits is closed with 1008
    (:mod:`target_app.access`).
    """

    __slots__ = ("_count_drop", "access", "broker", "max_message_bytes", "metrics")

    def __init__(
        self, broker: Broker, metrics: Metrics, max_message_bytes: int, access: Access
    ) -> None:
        self.broker = broker
        self.metrics = metrics
        self.max_message_bytes = max_message_bytes
        self.access = access
        self._count_drop = count_drop(metrics, "ws")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.serve(scope["path_params"]["room"], scope, receive, send)

    async def serve(self, raw_room: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one socket for the room named ``raw_room`` (not yet validated)."""
        if not await handshake(receive):
            return
        refusal = self.access.handshake_refusal(scope)
        if refusal is not None:
            await refuse_handshake(scope, send, refusal)
            return
        try:
            room = room_name(raw_room)
            query = room_query(scope.get("query_string", b""))
        except InvalidParameters as exc:
            await accept(send)
            await close(send, status.WS_1008_POLICY_VIOLATION, str(exc))
            return
        # Subscribe before completing the handshake: once the client sees the socket open,
        # every message published from then on is guaranteed to reach it.
        subscription: Subscription | None = None
        if query.receive:
            try:
                subscription = await self.broker.subscribe(room, query.after)
            except (CursorAhead, TooManyRooms, BrokerUnavailable) as exc:
                await self._refuse(send, exc)
                return
        # Counted open before the accept goes out: a client that sees its socket open and
        # then scrapes /metrics must find itself counted (the gauge lagged under load).
        connections = self.metrics.connections["ws"]
        connections.inc()
        try:
            await accept(send)
        except BaseException:
            connections.dec()
            if subscription is not None:
                subscription.close()
            raise
        pusher: _Pusher | None = None
        published = self.metrics.published["ws"]
        budget: PublishBucket | None = None  # made at the first frame: idle subscribers hold none
        # The loop is inlined here, not a method: an open socket holds every frame it awaits in,
        # and 10,000 idle subscribers make each frame cost 3 MiB (``make serverbench``).
        try:
            if subscription is not None:
                pusher = await self._start_push(send, subscription)
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                text: str | None = message.get("text")
                frame = text if text is not None else message.get("bytes")
                if frame is None:
                    continue
                if too_large(frame, self.max_message_bytes):
                    await close(send, status.WS_1009_MESSAGE_TOO_BIG, "message too big")
                    return
                if budget is None:
                    budget = self.access.publisher_bucket()
                if not budget.take(len(frame)):
                    await close(send, RATE_LIMIT_CLOSE, self.access.rate_limit_reason)
                    return
                error = None if isinstance(frame, str) else not_utf8(frame)
                if error is None:
                    error = await publish_frame(self.broker, self.metrics, room, frame)
                if error is None:
                    published.count += 1
                else:
                    # A bad frame is the client's mistake, not a reason to lose its subscription;
                    # a refused publish is not lost either: the publisher learns and may resend.
                    await send_text(send, error_frame(error))
        except OSError:
            return  # the client left while a reply was being sent
        finally:
            if subscription is not None:
                subscription.close()  # first: no message may start a writer from now on
            connections.dec()
            if pusher is not None:
                await pusher.stop()

    async def _start_push(self, send: Send, subscription: Subscription) -> _Pusher:
        subscription.on_drop = self._count_drop
        if subscription.missed:
            self.metrics.dropped("ws", "history", subscription.missed)
            await send_text(send, missed_frame(subscription.missed))
        pusher = _Pusher(send, subscription, self.metrics, WRITER_LINGER_S)
        subscription.on_ready = pusher.start
        # Work that arrived before on_ready was set: queued messages, or a drop (which only the
        # writer reports to the client, with its close frame).
        if subscription.pending or subscription.dropped:
            pusher.start()
        return pusher

    async def _refuse(
        self, send: Send, exc: CursorAhead | TooManyRooms | BrokerUnavailable
    ) -> None:
        if isinstance(exc, BrokerUnavailable):
            self.metrics.unavailable("ws")
        await accept(send)
        await close(send, refusal_code(exc), str(exc))


class _Pusher:
    """Sends one subscription's messages to its socket, as a task only while there is work.

    An idle subscriber holds no task: the first message to land in its empty queue starts one
    (:attr:`Subscription.on_ready`), and the task ends once the queue has stayed empty for
    ``linger_s`` (a single timer per running task, re-armed lazily, not one per message), so a
    busy room keeps its writers running and a quiet one costs nothing but the queue. Isolation
    is the subscription's: a writer stuck on a client that stopped reading only lets its own
    queue fill, until the subscription is dropped and the socket closed with 1008.
    """

    __slots__ = ("delivered", "last_sent", "linger_s", "send", "subscription", "task", "timer")

    def __init__(
        self, send: Send, subscription: Subscription, metrics: Metrics, linger_s: float
    ) -> None:
        self.send = send
        self.subscription = subscription
        self.delivered = metrics.delivered["ws"]
        self.linger_s = linger_s
        self.last_sent = 0.0
        self.task: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Run the writer unless it runs already."""
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the writer, without waiting on a client that stopped reading."""
        task = self.task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _idle_check(self) -> None:
        loop = asyncio.get_running_loop()
        idle_for = loop.time() - self.last_sent
        if not self.subscription.parked:  # sending (maybe to a slow client): look again later
            self.timer = loop.call_later(self.linger_s, self._idle_check)
        elif idle_for < self.linger_s:
            self.timer = loop.call_later(self.linger_s - idle_for, self._idle_check)
        else:
            self.timer = None
            self.subscription.release()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        self.last_sent = loop.time()
        self.timer = loop.call_later(self.linger_s, self._idle_check)
        send, subscription = self.send, self.subscription
        try:
            while True:
                batch = await subscription.get_batch()
                if not batch:
                    return
                for envelope in batch:
                    await send({"type": "websocket.send", "text": envelope.text})
                self.delivered.count += len(batch)
                self.last_sent = loop.time()
        except SubscriptionDropped:
            await close(send, SLOW_SUBSCRIBER_CLOSE, SLOW_SUBSCRIBER_REASON)
        except (OSError, RuntimeError):
            return  # the client left (uvicorn: ClientDisconnected) or the socket is closing
        finally:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            self.task = None
