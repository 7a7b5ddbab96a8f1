"""Locust users over WebSocket: ``/ws`` echo, room publisher, room subscriber.

Every measurement is fired as a Locust request event (so the web UI, CSV and HTML work, with the
latency as response time) *and* recorded for pushbench's exact histograms. Type / name /
response time:

- ``WebSocketEchoUser``: ``WS echo``, the round trip on ``/ws``.
- ``RoomPublisherUser``: ``WS publish``, how late the message left against its schedule; with
  ``--publisher-round-trip`` also ``MSG ws-round-trip``, publish to own message pushed back.
- ``WebSocketSubscriberUser``: ``MSG ws``, push latency (receive time minus ``sent_ns``).
- all: ``WS connect <path>``, the handshake (connection errors as failures).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import gevent  # type: ignore[import-untyped]
from gevent.event import Event  # type: ignore[import-untyped]
from locust import User, constant, task
from locust.contrib.fasthttp import FastHttpSession
from locust.env import Environment
from locust.exception import LocustError

from pushbench.core.kinds import Transport
from pushbench.core.payload_token import make_token
from pushbench.core.target_adapter import PublishTarget, TargetAdapter
from pushbench.drivers.wsframes import ProtocolError
from pushbench.drivers.wshandshake import HandshakeError
from pushbench.harness.client_auth import auth_headers
from pushbench.locust.envelopes import (
    Envelope,
    Notice,
    now_ns,
    parse_message,
    publish_frame,
    publisher_id,
)
from pushbench.locust.node import Fire, Node, Subscription, token_publisher
from pushbench.locust.plugin import node_of
from pushbench.locust.recording import NodeRecorder
from pushbench.locust.ws_client import ConnectionClosed, WebSocket, connect

__all__ = [
    "PushbenchUser",
    "RoomPublisherUser",
    "WebSocketEchoUser",
    "WebSocketSubscriberUser",
]

#: Seconds before retrying after a failed connection (a dead server must not spin the CPU).
RECONNECT_DELAY_S = 1.0

_WS_ERRORS = (ConnectionClosed, HandshakeError, ProtocolError, OSError)


class UnexpectedReply(Exception):
    """The echo did not answer what the reference server answers."""


def idle_until_killed() -> None:
    """Park a user whose load has stopped; Locust kills it when the test stops."""
    Event().wait()


class PushbenchUser(User):
    """Base of pushbench's users: the node to record into, options, WebSocket helpers."""

    abstract = True
    wait_time = constant(0)
    pushbench_needs: ClassVar[str] = ""
    """What the app must offer for this user to run against it (``--profile``): a transport,
    or ``publish``."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.node: Node = node_of(environment)
        self.options = self.node.options
        self.recorder: NodeRecorder = self.node.recorder
        self.fire: Fire = environment.events.request.fire
        self._context: dict[str, Any] = {}
        self.adapter: TargetAdapter | None = self.node.adapter
        """How to speak the app (``--profile``); None: the reference server's envelope."""

    def ws_url(self, target: str) -> str:
        """``ws://host:port`` + ``target``, from Locust's ``--host`` (``http://...``); ``wss://``
        from ``https://...``."""
        if not self.host:
            raise LocustError("set the server with --host http://HOST:PORT")
        if not self.host.startswith(("http://", "https://")):
            raise LocustError(
                f"--host must be an http:// or https:// URL (ws:// or wss:// is derived), "
                f"not {self.host}"
            )
        return "ws" + self.host.removeprefix("http").rstrip("/") + target

    def open_ws(self, target: str, name: str) -> WebSocket | None:
        """Connect to ``target``, firing ``WS connect <name>``; None (after a pause) on failure."""
        start = now_ns()
        try:
            ws = connect(self.ws_url(target), headers=auth_headers())
        except _WS_ERRORS as exc:
            self.fire_event("WS", f"connect {name}", (now_ns() - start) / 1e6, 0, exc)
            time.sleep(RECONNECT_DELAY_S)
            return None
        self.fire_event("WS", f"connect {name}", (now_ns() - start) / 1e6, 0, None)
        return ws

    def fire_event(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        length: int,
        exception: BaseException | None,
    ) -> None:
        """One Locust request event."""
        self.fire(
            request_type=request_type,
            name=name,
            response_time=response_time,
            response_length=length,
            exception=exception,
            context=self._context,
        )


class WebSocketEchoUser(PushbenchUser):
    """Closed-loop round trips on ``/ws``: send text, wait for ``Your text was: <text>``.

    ``--echo-rate`` paces each user (round trips per second, default 10, so that echo users in
    a mix leave room for the push traffic); ``--echo-rate 0`` runs flat out, as a benchmark of
    the server's (or the generator's) capacity.
    """

    path: ClassVar[str] = "/ws"
    name: ClassVar[str] = "echo"
    pushbench_needs: ClassVar[str] = Transport.ECHO
    expected_prefix: ClassVar[str | None] = "Your text was: "
    """What the echo prepends; None accepts any reply (another server's echo)."""
    burst: ClassVar[int] = 100
    """Round trips per Locust task: Locust's per-task scheduling (a greenlet switch through
    ``wait``) is paid once per burst instead of once per round trip."""

    def on_start(self) -> None:
        echo = Transport.ECHO
        self._stats = self.recorder.stats(self.name, echo, self.node.scenario_params(echo))
        self._stats.users += 1
        self._payload = "x" * self.options.payload_bytes
        prefix = self.expected_prefix
        self._expected = None if prefix is None else prefix + self._payload
        self._ws: WebSocket | None = None
        rate = self.options.echo_rate
        self._interval_ns = round(1e9 / rate) if rate > 0 else 0
        self._due_ns = 0
        self._client = self.node.next_client()
        self._seq = 0

    def on_stop(self) -> None:
        if self._ws is not None:
            self._ws.close()

    @task
    def echo(self) -> None:
        """Up to :attr:`burst` round trips."""
        recorder = self.recorder
        if not recorder.loading:
            self._close()
            idle_until_killed()
        ws = self._ws or self._open()
        if ws is None:
            return
        if self.adapter is not None:
            self._echo_tokens(ws, self.adapter)
            return
        # Everything the loop touches, bound locally: this is the generator's hot path.
        stats = self._stats
        add_ns = stats.latency.add_ns
        fire = self.fire
        context = self._context
        payload, expected, name = self._payload, self._expected, self.name
        send, recv, clock = ws.send_text, ws.recv, now_ns
        interval = self._interval_ns
        for _ in range(self.burst if not interval else 1):
            if not recorder.loading:
                return
            if interval:
                self._pace(interval)
            stats.attempts += 1
            start = clock()
            try:
                send(payload)
                reply = recv()
            except _WS_ERRORS as exc:
                self.fire_event("WS", name, (clock() - start) / 1e6, 0, exc)
                stats.error(f"{type(exc).__name__}: {exc}")
                stats.fail_attempt(start)
                self._close()
                return
            elapsed = clock() - start
            if expected is not None and reply != expected:
                error = UnexpectedReply(f"echo answered {str(reply)[:80]!r}")
                self.fire_event("WS", name, elapsed / 1e6, len(reply), error)
                stats.error(str(error))
                stats.fail_attempt(start)
                continue
            add_ns(elapsed, start)
            stats.messages += 1
            fire(
                request_type="WS",
                name=name,
                response_time=elapsed / 1e6,
                response_length=len(reply),
                exception=None,
                context=context,
            )

    def _echo_tokens(self, ws: WebSocket, adapter: TargetAdapter) -> None:
        """Round trips of a profiled app: each frame carries a payload token, and the reply
        that holds it ends the round trip (the app's wrapping is its own)."""
        recorder, stats, interval = self.recorder, self._stats, self._interval_ns
        publisher = token_publisher(f"echo.{self._client}")
        for _ in range(self.burst if not interval else 1):
            if not recorder.loading:
                return
            if interval:
                self._pace(interval)
            stats.attempts += 1
            start = now_ns()
            seq, self._seq = self._seq, self._seq + 1
            token = make_token(publisher, seq, start)
            frame = adapter.encode_echo(token, self._payload, self._client)
            try:
                if isinstance(frame, str):
                    ws.send_text(frame)
                else:
                    ws.send_bytes(frame)
                reply = ws.recv()
            except _WS_ERRORS as exc:
                self.fire_event("WS", self.name, (now_ns() - start) / 1e6, 0, exc)
                stats.error(f"{type(exc).__name__}: {exc}")
                stats.fail_attempt(start)
                self._close()
                return
            elapsed = now_ns() - start
            if not any(
                t.seq == seq and t.publisher == publisher for t in adapter.find_tokens(reply)
            ):
                error = UnexpectedReply(f"the reply holds no {token}: {str(reply)[:80]!r}")
                self.fire_event("WS", self.name, elapsed / 1e6, len(reply), error)
                stats.error(str(error))
                stats.fail_attempt(start)
                continue
            stats.latency.add_ns(elapsed, start)
            stats.messages += 1
            self.fire_event("WS", self.name, elapsed / 1e6, len(reply), None)

    def _pace(self, interval: int) -> None:
        # Closed loop, but no faster than --echo-rate: wait for the next slot; a late reply
        # moves the schedule rather than sending a burst to catch up.
        now = now_ns()
        due = self._due_ns or now
        if due > now:
            time.sleep((due - now) / 1e9)
        self._due_ns = max(due, now) + interval

    def _open(self) -> WebSocket | None:
        if self.adapter is not None:
            path = self.adapter.echo_path(self._client)
            self._ws = self.open_ws(path, "[profile echo]")
            return self._ws
        self._ws = self.open_ws(self.path, self.path)
        return self._ws

    def _close(self) -> None:
        if self._ws is not None:
            self._ws.close()
            self._ws = None


class RoomPublisherUser(PushbenchUser):
    """Publishes ``--publish-rate`` messages/s into ``--room``, open loop, over one socket.

    Message k is due at ``start + k / rate`` and carries that *scheduled* time as ``sent_ns``:
    when the server or this process stalls, late messages keep their schedule, so the stall
    shows up as latency instead of silently lowering the load (coordinated omission).
    """

    pushbench_role: ClassVar[str] = "publisher"
    pushbench_needs: ClassVar[str] = "publish"
    fixed_count = 1  # replaced by --publishers

    def on_start(self) -> None:
        self.publisher = publisher_id(self.node.next_publisher_index())
        self.recorder.sent.setdefault(self.publisher, 0)
        self._ws: WebSocket | None = None
        self._reader: Any = None
        self._round_trip: Subscription | None = None
        self._client = self.node.next_client()
        self._http: Any = None

    def on_stop(self) -> None:
        if self._reader is not None:
            self._reader.kill(block=False)
        if self._round_trip is not None:
            self._round_trip.finish(None)
        if self._ws is not None:
            self._ws.close()

    @task
    def publish(self) -> None:
        """Publish on schedule until the load stops."""
        recorder = self.recorder
        options = self.options
        interval = options.publish_interval_ns
        payload = "x" * options.payload_bytes
        sent = recorder.sent
        publisher = self.publisher
        if self.adapter is not None:
            self._publish_profiled(self.adapter, interval, payload)
            idle_until_killed()
        start = now_ns()
        k = 0
        recorder.schedule(publisher, start - sent[publisher] * interval, interval)
        while recorder.loading:
            ws = self._ws or self._open()
            if ws is None:
                continue
            scheduled = start + k * interval
            now = now_ns()
            if scheduled > now:
                time.sleep((scheduled - now) / 1e9)
                continue
            seq = sent[publisher]
            try:
                ws.send_text(publish_frame(publisher, seq, scheduled, payload))
            except _WS_ERRORS as exc:
                self._send_failed(exc)
                continue
            self._published(seq, scheduled, len(payload))
            k += 1
        idle_until_killed()

    def _published(self, seq: int, scheduled_ns: int, size: int) -> None:
        """Message ``seq`` (due at ``scheduled_ns``) went out: counted, its lateness against
        the schedule kept and reported to Locust (both publish paths)."""
        recorder = self.recorder
        recorder.sent[self.publisher] = seq + 1
        lag = now_ns() - scheduled_ns
        if lag > recorder.publish_lag_max_ns:
            recorder.publish_lag_max_ns = lag
        self.fire_event("WS", "publish", lag / 1e6, size, None)

    def _send_failed(self, exc: BaseException) -> None:
        """A publish frame could not be sent: reported, and the socket reopened next time."""
        self.fire_event("WS", "publish", None, 0, exc)
        self._ws = None

    def _publish_profiled(self, adapter: TargetAdapter, interval: int, payload: str) -> None:
        """The open-loop schedule of :meth:`publish`, each message the adapter's encoding of a
        payload token, over a WebSocket or one HTTP request each (as the app takes them)."""
        recorder, sent, publisher = self.recorder, self.recorder.sent, self.publisher
        room, client = self.options.room, self._client
        target = adapter.publish_target(room, client)
        encode, token_id = adapter.encode_publish, token_publisher(publisher)
        start = now_ns()
        k = 0
        recorder.schedule(publisher, start - sent[publisher] * interval, interval)
        while recorder.loading:
            scheduled = start + k * interval
            now = now_ns()
            if scheduled > now:
                time.sleep((scheduled - now) / 1e9)
                continue
            seq = sent[publisher]
            message = encode(make_token(token_id, seq, scheduled), payload, room, client)
            if target.kind == "http":
                if not self._post(target, message):
                    continue
            else:
                ws = self._ws or self._open_profiled(target.path)
                if ws is None:
                    continue
                try:
                    if isinstance(message, str):
                        ws.send_text(message)
                    else:
                        ws.send_bytes(message)
                except _WS_ERRORS as exc:
                    self._send_failed(exc)
                    continue
            self._published(seq, scheduled, len(message))
            k += 1

    def _post(self, target: PublishTarget, body: str | bytes) -> bool:
        """One publish as an HTTP request (Locust's fast client fires its own event)."""
        if self._http is None:
            self._http = FastHttpSession(
                base_url=self.host,
                request_event=self.environment.events.request,
                user=self,
                headers=auth_headers() or None,
            )
        data = body.encode() if isinstance(body, str) else body
        headers = {"Content-Type": target.content_type}
        name = f"publish {target.path.split('?')[0]}"
        with self._http.request(
            target.method, target.path, data=data, headers=headers, name=name, catch_response=True
        ) as response:
            if response.status_code >= 300:
                response.failure(f"HTTP {response.status_code}")
                time.sleep(RECONNECT_DELAY_S)
                return False
            return True

    def _open_profiled(self, path: str) -> WebSocket | None:
        # Whatever the app sends a publisher's socket is read: a socket nobody reads stops the
        # app's sends to it and, in a broadcast loop, to everyone after it. With
        # --publisher-round-trip, this publisher's own tokens are timed on the way.
        self._ws = self.open_ws(path, "[profile publish]")
        if self._ws is not None:
            if self.options.publisher_round_trip and self._round_trip is None:
                self._round_trip = self.node.subscribe("ws-round-trip", Transport.WS, self.fire)
            self._reader = gevent.spawn(self._read_profiled, self._ws, self._round_trip)
        return self._ws

    def _read_profiled(self, ws: WebSocket, subscription: Subscription | None) -> None:
        assert self.adapter is not None
        find, me = self.adapter.find_tokens, token_publisher(self.publisher)
        try:
            while True:
                data = ws.recv()
                if subscription is not None:
                    received = now_ns()
                    mine = [t for t in find(data) if t.publisher == me]
                    if mine:
                        subscription.tokens(mine, received, len(data))
        except _WS_ERRORS:
            return

    def _open(self) -> WebSocket | None:
        room = self.options.room
        if not self.options.publisher_round_trip:
            self._ws = self.open_ws(f"/ws/rooms/{room}?receive=false", "/ws/rooms/[room]")
            return self._ws
        self._ws = self.open_ws(f"/ws/rooms/{room}", "/ws/rooms/[room]")
        if self._ws is not None:
            if self._round_trip is None:
                self._round_trip = self.node.subscribe("ws-round-trip", Transport.WS, self.fire)
            self._reader = gevent.spawn(self._read_own, self._ws, self._round_trip)
        return self._ws

    def _read_own(self, ws: WebSocket, subscription: Subscription) -> None:
        """Time the round trip of this publisher's own messages, pushed back to it."""
        me = self.publisher
        try:
            while True:
                text = ws.recv()
                received = now_ns()
                message = parse_message(text)
                if isinstance(message, Envelope) and message.publisher == me:
                    subscription.message(message, received, len(text))
        except (*_WS_ERRORS, ValueError):
            return


class WebSocketSubscriberUser(PushbenchUser):
    """Receives every message of ``--room`` pushed over ``/ws/rooms/{room}``.

    After a disconnect it resumes with ``?after=<last id>``: the server replays what it missed
    from history (or says how many it cannot), as a real client would.
    """

    name: ClassVar[str] = Transport.WS
    pushbench_needs: ClassVar[str] = Transport.WS

    def on_start(self) -> None:
        self.subscription = self.node.subscribe(self.name, Transport.WS, self.fire)
        self._client = self.node.next_client()

    def on_stop(self) -> None:
        self.subscription.finish(None)

    @task
    def receive(self) -> None:
        """Receive until the connection ends (then this task reconnects)."""
        subscription = self.subscription
        room = self.options.room
        adapter = self.adapter
        if adapter is not None:
            path, label = adapter.ws_subscribe_path(room, self._client), "[profile ws]"
        else:
            after = f"?after={subscription.last_id}" if subscription.last_id else ""
            path, label = f"/ws/rooms/{room}{after}", "/ws/rooms/[room]"
        ws = self.open_ws(path, label)
        if ws is None:
            return
        try:
            if adapter is not None:
                find, tokens = adapter.find_tokens, subscription.tokens
                while True:
                    data = ws.recv()
                    received = now_ns()
                    tokens(find(data), received, len(data))
            while True:
                text = ws.recv()
                received = now_ns()
                handle_text(subscription, text, received, self.fire_event)
        except _WS_ERRORS as exc:
            self.fire_event("WS", f"disconnected {label}", None, 0, exc)
            subscription.stats.error(f"{type(exc).__name__}: {exc}")
            time.sleep(RECONNECT_DELAY_S)
        finally:
            ws.close()


def handle_text(
    subscription: Subscription,
    text: str | bytes,
    received_ns: int,
    fire_event: Any,
) -> None:
    """Hand one pushed frame to ``subscription``; unreadable frames become Locust failures."""
    try:
        message = parse_message(text)
    except ValueError as exc:
        fire_event("MSG", subscription.name, None, len(text), exc)
        subscription.stats.error(f"unreadable message: {exc}")
        return
    if isinstance(message, Envelope):
        subscription.message(message, received_ns, len(text))
    elif isinstance(message, Notice):
        subscription.notice(message)
