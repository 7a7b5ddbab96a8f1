"""Locust users over plain HTTP: short polling, long polling, Server-Sent Events.

All three receive the same room stream as the WebSocket subscriber and measure the same thing —
latency of each delivered message from the publisher's ``sent_ns`` (``MSG / <scenario>``) —
plus what it costs in requests (``GET`` events, counted per delivered message in the report).

Polling users first *join*: they page through the room's history to its head without measuring
(those messages were published before they arrived), then poll from there.
"""

from __future__ import annotations

import random
import socket
import time
from typing import Any, ClassVar
from urllib.parse import urlsplit

import orjson
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment
from locust.exception import LocustError

from pushbench.core.kinds import Transport
from pushbench.core.target_adapter import PollPage, TargetAdapter
from pushbench.harness.client_auth import auth_headers
from pushbench.harness.client_tls import client_context, client_ssl
from pushbench.locust.envelopes import Envelope, Notice, now_ns, parse_object
from pushbench.locust.node import Fire, Node, Subscription
from pushbench.locust.plugin import node_of
from pushbench.locust.sse_protocol import (
    ChunkedDecoder,
    EventParser,
    HttpError,
    parse_response_head,
    sse_request,
)
from pushbench.locust.users import RECONNECT_DELAY_S, PushbenchUser, handle_text

__all__ = ["LongPollUser", "PollingUser", "ShortPollUser", "SseUser"]


class PollStatusError(Exception):
    """A poll answered something else than 200."""


class PollingUser(FastHttpUser):
    """Base of the polling users: joins the room, then polls with a cursor."""

    abstract = True
    wait_time = constant(0)
    page_limit: ClassVar[int] = 1000
    """``limit`` of every poll (the reference server allows up to 1000)."""
    name: ClassVar[str] = "poll"
    transport: ClassVar[Transport] = Transport.SHORT_POLL
    pushbench_needs: ClassVar[str] = Transport.SHORT_POLL

    def __init__(self, environment: Environment) -> None:
        self.node: Node = node_of(environment)
        self.options = self.node.options
        self.adapter: TargetAdapter | None = self.node.adapter
        self._client = self.node.next_client()
        self._seen: set[tuple[str, int]] = set()  # an app without a cursor: what was seen
        # A long poll must not time out on the client before the server answers it.
        self.network_timeout = max(60.0, self.options.long_poll_wait + 15.0)
        self.default_headers = auth_headers() or None  # read by FastHttpUser's session
        # https://: verify the server as every pushbench client does (Locust's default is not
        # to), against PUSHBENCH_CA_FILE (pushbench.harness.client_tls).
        self.insecure = False
        self.ssl_context_factory = _ssl_context_factory
        super().__init__(environment)
        self.fire: Fire = environment.events.request.fire
        self._cursor: int | None = None
        self._profiled_cursor: str | None = None

    def scenario_name(self) -> str:
        """The scenario (and Locust ``MSG`` name) this user's deliveries count under."""
        return self.name

    def on_start(self) -> None:
        if not self.host:
            raise LocustError("set the server with --host http://HOST:PORT")
        self.subscription: Subscription = self.node.subscribe(
            self.scenario_name(), self.transport, self.fire
        )
        self._path = f"/rooms/{self.options.room}/messages"
        self._request_name = f"{self.scenario_name()} /rooms/[room]/messages"

    def on_stop(self) -> None:
        self.subscription.finish(None)

    def join(self) -> None:
        """Move the cursor to the room's head without measuring what was there before."""
        cursor = 0
        while True:
            page = self.get_page(cursor, wait_s=0.0, name=f"{self._request_name} (join)")
            if page is None:
                time.sleep(RECONNECT_DELAY_S)
                continue
            cursor = int(page["next"])
            if len(page["messages"]) < self.page_limit:
                self._cursor = cursor
                return

    def poll(self, wait_s: float) -> None:
        """One poll from the cursor; every message in the answer is delivered."""
        if self.adapter is not None:
            self._poll_profiled(self.adapter, wait_s)
            return
        if self._cursor is None:
            self.join()
        assert self._cursor is not None
        page = self.get_page(self._cursor, wait_s, self._request_name)
        if page is None:
            if wait_s > 0:  # short polls keep their schedule; long polls must not spin
                time.sleep(RECONNECT_DELAY_S)
            return
        received = page.pop("received_ns")
        subscription = self.subscription
        missed = page.get("missed", 0)
        if missed:
            subscription.notice(Notice("missed", {"missed": missed}))
        for item in page["messages"]:
            try:
                message = parse_object(item)
            except ValueError as exc:
                subscription.stats.error(f"unreadable message: {exc}")
                continue
            if isinstance(message, Envelope):
                subscription.message(message, received)
        self._cursor = int(page["next"])

    def _poll_profiled(self, adapter: TargetAdapter, wait_s: float) -> None:
        """One poll of a profiled app. The first one joins: it takes the cursor to the head
        of the app's stream and measures nothing (those messages predate this user)."""
        joining = self._profiled_cursor is None
        cursor = adapter.initial_cursor(self.transport) if joining else self._profiled_cursor
        assert cursor is not None
        path = adapter.poll_path(
            self.transport, self.options.room, self._client, cursor, wait_s if not joining else 0
        )
        name = f"{self.scenario_name()} [profile]" + (" (join)" if joining else "")
        answer = self._get_profiled(adapter, path, name)
        if answer is None:
            if wait_s > 0:  # short polls keep their schedule; long polls must not spin
                time.sleep(RECONNECT_DELAY_S)
            return
        received, page = answer
        subscription, seen = self.subscription, self._seen
        for item in page.items:
            tokens = adapter.find_tokens(item)
            if page.cursor is None:  # no cursor: every poll answers the whole list again
                tokens = [t for t in tokens if (t.publisher, t.seq) not in seen]
                seen.update((t.publisher, t.seq) for t in tokens)
                if not tokens:
                    continue
            if not joining:
                subscription.tokens(tokens, received, len(item))
        self._profiled_cursor = cursor if page.cursor is None else page.cursor

    def _get_profiled(
        self, adapter: TargetAdapter, path: str, name: str
    ) -> tuple[int, PollPage] | None:
        self.subscription.stats.count_request(now_ns())
        with self.client.get(path, name=name, catch_response=True) as response:
            received_ns = now_ns()
            if response.status_code != 200:
                response.failure(PollStatusError(f"HTTP {response.status_code}"))
                return None
            try:
                return received_ns, adapter.parse_poll(self.transport, response.content or b"")
            except (ValueError, LookupError) as exc:
                response.failure(PollStatusError(f"unreadable answer: {exc}"))
                return None

    def get_page(self, after: int, wait_s: float, name: str) -> dict[str, Any] | None:
        """``GET .../messages``; None on failure (reported to Locust, cursor reset on 409).

        The page gets a ``received_ns`` key: when its response arrived, on the shared clock.
        """
        query = f"?after={after}&limit={self.page_limit}"
        if wait_s > 0:
            query += f"&wait={wait_s:g}"
        self.subscription.stats.count_request(now_ns())
        with self.client.get(self._path + query, name=name, catch_response=True) as response:
            received_ns = now_ns()
            if response.status_code == 409:  # the server restarted: its ids start again
                self._cursor = None
                response.failure(PollStatusError("409 cursor ahead of the room; rejoining"))
                return None
            if response.status_code != 200:
                response.failure(PollStatusError(f"HTTP {response.status_code}"))
                return None
            try:
                page = orjson.loads(response.content or b"")
            except ValueError as exc:
                response.failure(PollStatusError(f"not JSON: {exc}"))
                return None
            if not (
                isinstance(page, dict)
                and isinstance(page.get("messages"), list)
                and isinstance(page.get("next"), int)
            ):
                response.failure(PollStatusError("not a poll answer (messages, next)"))
                return None
            page["received_ns"] = received_ns
            return page


class ShortPollUser(PollingUser):
    """Polls every ``--poll-interval`` seconds (fixed schedule, random phase per user)."""

    transport: ClassVar[Transport] = Transport.SHORT_POLL
    pushbench_needs: ClassVar[str] = Transport.SHORT_POLL

    def scenario_name(self) -> str:
        return self.options.short_poll_name

    @task
    def poll_forever(self) -> None:
        """Poll on schedule: a slow answer delays only the next poll, never skips the beat."""
        interval = self.options.poll_interval
        # Real clients are not synchronised: latency averages interval / 2 + a round trip.
        due = time.monotonic() + random.uniform(0, interval)
        while True:
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            self.poll(0.0)
            due = max(due + interval, time.monotonic())


class LongPollUser(PollingUser):
    """Long polls: each request waits up to ``--long-poll-wait`` s for the next message."""

    name: ClassVar[str] = Transport.LONG_POLL
    transport: ClassVar[Transport] = Transport.LONG_POLL
    pushbench_needs: ClassVar[str] = Transport.LONG_POLL

    @task
    def poll_forever(self) -> None:
        """Poll again as soon as an answer arrives."""
        wait_s = self.options.long_poll_wait
        while True:
            self.poll(wait_s)


class SseUser(PushbenchUser):
    """Reads ``/rooms/{room}/events``; resumes with ``Last-Event-ID`` after a disconnect."""

    name: ClassVar[str] = Transport.SSE
    pushbench_needs: ClassVar[str] = Transport.SSE

    def on_start(self) -> None:
        self.subscription = self.node.subscribe(self.name, Transport.SSE, self.fire)
        self._client = self.node.next_client()

    def on_stop(self) -> None:
        self.subscription.finish(None)

    @task
    def stream(self) -> None:
        """One event stream, read until it ends (then this task reconnects)."""
        if not self.host:
            raise LocustError("set the server with --host http://HOST:PORT")
        subscription = self.subscription
        parts = urlsplit(self.host)
        tls = client_ssl(self.host)
        host = parts.hostname or "127.0.0.1"
        port = parts.port or (443 if tls is not None else 80)
        adapter = self.adapter
        if adapter is not None:
            target = adapter.sse_path(self.options.room, self._client)
            request_name = "sse [profile]"
        else:
            target = f"/rooms/{self.options.room}/events"
            request_name = "sse /rooms/[room]/events"
        start = now_ns()
        subscription.stats.count_request(start)
        try:
            sock = socket.create_connection((host, port), timeout=30)
            if tls is not None:  # the TLS handshake is part of opening the stream
                try:
                    sock = tls.wrap_socket(sock, server_hostname=host)
                except BaseException:
                    sock.close()
                    raise
        except OSError as exc:
            self.fire_event("GET", request_name, (now_ns() - start) / 1e6, 0, exc)
            time.sleep(RECONNECT_DELAY_S)
            return
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            netloc = f"{host}:{port}"
            last_id = (subscription.last_id or None) if adapter is None else None
            sock.sendall(sse_request(netloc, target, last_id, auth_headers()))
            received = b""
            while (result := parse_response_head(received)) is None:
                data = sock.recv(65536)
                if not data:
                    raise HttpError("connection closed before the response head")
                received += data
            head, body = result
            if head.status != 200:
                raise HttpError(f"HTTP {head.status} {head.reason}")
            self.fire_event("GET", request_name, (now_ns() - start) / 1e6, 0, None)
            sock.settimeout(None)
            self._read_events(sock, body, ChunkedDecoder() if head.chunked else None)
        except (OSError, HttpError, UnicodeDecodeError) as exc:
            self.fire_event("GET", request_name, None, 0, exc)
            subscription.stats.error(f"{type(exc).__name__}: {exc}")
            time.sleep(RECONNECT_DELAY_S)
        finally:
            sock.close()

    def _read_events(
        self, sock: socket.socket, body: bytes, decoder: ChunkedDecoder | None
    ) -> None:
        subscription = self.subscription
        parser = EventParser()
        data = body
        while True:
            if data:
                received = now_ns()
                chunk = decoder.feed(data) if decoder is not None else data
                for event in parser.feed(chunk):
                    if self.adapter is not None:  # every event's data, whatever its name
                        found = self.adapter.find_tokens(event.data)
                        subscription.tokens(found, received, len(event.data))
                    elif event.event == "message":
                        handle_text(subscription, event.data, received, self.fire_event)
                    else:
                        try:
                            fields = orjson.loads(event.data) if event.data else {}
                        except ValueError:
                            fields = {"detail": event.data}
                        subscription.notice(Notice(event.event, dict(fields)))
                if decoder is not None and decoder.done:
                    raise HttpError("the server ended the event stream")
            data = sock.recv(65536)
            if not data:
                raise HttpError("the server closed the event stream")


def _ssl_context_factory(*_args: object, **_kwargs: object) -> Any:
    """FastHttpUser's ``ssl_context_factory``: the context every pushbench client verifies
    with (geventhttpclient may pass ``cafile``; the CA comes from ``PUSHBENCH_CA_FILE``)."""
    return client_context()
