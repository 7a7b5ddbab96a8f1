"""The lean HTTP endpoints vs the FastAPI routes they stand in for, in process (no sockets).

``ReferenceApp`` (``asgi`` flavor) serves publish, polls and SSE straight from its entry point;
under a ``root_path`` the registered FastAPI routes serve the same paths through the full stack.
The same sequence of requests, run on two fresh apps (one per way in), must give the same
status, headers and body bytes for every answer, the same SSE chunks, and the same metrics.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from benchmarks.micro.asgi_driver import InProcessApp
from target_app.broker import BrokerUnavailable, TooManyRooms
from target_app.envelope import PublishRequest
from target_app.main import create_app
from target_app.settings import Settings

Headers = list[tuple[bytes, bytes]]
Answer = tuple[int, Headers, bytes]
Scenario = Callable[["Client"], Coroutine[Any, Any, list[Any]]]

ROUTER = "/api"
JSON = [(b"content-type", b"application/json")]
TOKEN = "s3cret"


def publish_body(seq: int, payload: object = "x") -> bytes:
    return json.dumps({"publisher": "p", "seq": seq, "payload": payload}).encode()


class Stream:
    """One HTTP exchange left open: the app's messages as they come, and the client leaving."""

    def __init__(self, app: Any, scope: dict[str, Any], body: list[bytes]) -> None:
        self.messages: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self._gone = asyncio.Event()
        self._body = list(body)
        self.release = asyncio.Event()  # cleared: the client stops reading after one chunk
        self.release.set()
        self.task = asyncio.ensure_future(app(scope, self._receive, self._send))

    async def _receive(self) -> dict[str, Any]:
        if self._body:
            chunk = self._body.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(self._body)}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self._arrived.set()
        if message["type"] == "http.response.body":
            await self.release.wait()

    @property
    def chunks(self) -> list[bytes]:
        return [m.get("body", b"") for m in self.messages if m["type"] == "http.response.body"]

    async def wait_for_chunks(self, count: int) -> list[bytes]:
        async with asyncio.timeout(5):
            while len(self.chunks) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.chunks

    def disconnect(self) -> None:
        self._gone.set()

    def answer(self) -> Answer:
        start = self.messages[0]
        return start["status"], start["headers"], b"".join(self.chunks)


class Client:
    """Requests to one app, all through the shortcut (``root_path=""``) or all the router."""

    def __init__(self, app: InProcessApp, root_path: str) -> None:
        self.app = app
        self.root_path = root_path

    @property
    def state(self) -> Any:
        return self.app.app.state  # type: ignore[attr-defined]

    def open(
        self, method: str, target: str, headers: Headers = (), body: list[bytes] | None = None
    ) -> Stream:
        path, _, query = target.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},  # uvicorn's
            "http_version": "1.1",
            "scheme": "http",
            "method": method,
            "path": self.root_path + path,
            "raw_path": (self.root_path + path).encode(),
            "query_string": query.encode(),
            "root_path": self.root_path,
            "headers": [(b"host", b"bench"), *headers],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8001),
            "state": {},
        }
        return Stream(self.app.app, scope, body if body is not None else [b""])

    async def request(
        self, method: str, target: str, body: bytes = b"", headers: Headers = ()
    ) -> Answer:
        stream = self.open(method, target, headers, [body])
        async with asyncio.timeout(5):
            await stream.task
        return stream.answer()

    async def post(self, target: str, body: bytes, headers: Headers = JSON) -> Answer:
        sized = [(b"content-length", str(len(body)).encode()), *headers]
        return await self.request("POST", target, body, sized)


def both_ways(settings: Settings, scenario: Scenario) -> tuple[list[Any], list[Any], list[bytes]]:
    """``scenario`` on a fresh app per way in: what each saw, and each app's metrics."""

    async def run(root_path: str) -> tuple[list[Any], bytes]:
        async with InProcessApp(create_app(settings)) as app:
            client = Client(app, root_path)
            seen = await scenario(client)
            return seen, client.state.metrics.render()

    shortcut, shortcut_metrics = asyncio.run(run(""))
    router, router_metrics = asyncio.run(run(ROUTER))
    return shortcut, router, [shortcut_metrics, router_metrics]


def assert_same(settings: Settings, scenario: Scenario) -> list[Any]:
    shortcut, router, (shortcut_metrics, router_metrics) = both_ways(settings, scenario)
    assert len(shortcut) == len(router)
    for index, (lean, full) in enumerate(zip(shortcut, router, strict=True)):
        assert lean == full, f"answer {index} differs"
    assert shortcut_metrics == router_metrics
    return shortcut


BAD_POLLS = [
    "/rooms/r1/messages?after=-1",
    "/rooms/r1/messages?after=x&limit=0&wait=nan",
    "/rooms/r1/messages?after=&limit=&wait=",
    "/rooms/r1/messages?after=1.5&limit=5000&wait=61",
    "/rooms/r1/messages?wait=-1&wait=abc",
    "/rooms/r1/messages?limit=%C3%A9",
    "/rooms/bad!/messages?after=1e3",
    "/rooms/caf%C3%A9/messages",
    "/rooms/" + "x" * 65 + "/messages",
    "/rooms/r1/messages?after=99",  # 409, with last_id
    "/rooms/r1/events?after=x",
    "/rooms/r1/events?after=-1",
    "/rooms/r1/events?after=99",  # 409, without last_id (the route's HTTPException)
    "/rooms/-bad/events",
]


def test_every_refused_and_answered_request_is_byte_identical() -> None:
    async def scenario(client: Client) -> list[Any]:
        seen: list[Any] = [await client.request("GET", target) for target in BAD_POLLS]
        seen.append(
            await client.request(
                "GET", "/rooms/r1/events?after=x", headers=[(b"last-event-id", b"y")]
            )
        )
        seen.append(
            await client.request("GET", "/rooms/r1/events", headers=[(b"last-event-id", b"-5")])
        )
        for body, headers in [
            (publish_body(0), JSON),
            (publish_body(1, 2**70), JSON),  # an integer past 64 bits
            (publish_body(2, "é" * 10), [(b"content-type", b"application/json; charset=utf-8")]),
            (b'{"x":1}', JSON),
            (b"[1,2]", JSON),
            (b"not json", JSON),
            (b'{"seq":true}', JSON),
            (publish_body(3), []),
            (publish_body(3), [(b"content-type", b"text/plain")]),
            (publish_body(3), [*JSON, (b"origin", b"http://evil.example")]),
            (publish_body(3), [*JSON, (b"origin", b"http://localhost:9")]),
            (b"x" * 70_000, JSON),
        ]:
            seen.append(await client.post("/rooms/r1/messages", body, headers))
        seen.append(await client.post("/rooms/bad!/messages", publish_body(4)))
        declared = [(b"content-length", b"99999999"), *JSON]
        seen.append(await client.request("POST", "/rooms/r1/messages", b"{}", declared))
        streamed = client.open("POST", "/rooms/r1/messages", JSON, [b"x" * 40_000] * 2)
        await streamed.task
        seen.append(streamed.answer())  # 413 while streaming, no Content-Length
        for query in ["", "?after=0", "?after=1&limit=1", "?after=3", "?after=0&wait=0"]:
            seen.append(await client.request("GET", "/rooms/r1/messages" + query))
        # Not the shortcut's: the router answers (redirect, 404, 405, HEAD) on both ways in.
        for method, target in [
            ("GET", "/rooms/r1/messages/"),
            ("GET", "/rooms//messages"),
            ("GET", "/rooms/r1/other"),
            ("PUT", "/rooms/r1/messages"),
            ("POST", "/rooms/r1/events"),
            ("HEAD", "/rooms/r1/messages"),
        ]:
            status, headers, body = await client.request(method, target)
            # A redirect names the full URL, which includes the root_path.
            seen.append((status, [h for h in headers if h[0] != b"location"], body))
        return seen

    seen = assert_same(Settings(), scenario)
    statuses = [answer[0] for answer in seen]
    assert {200, 201, 307, 404, 405, 409, 413, 415, 403, 422} <= set(statuses)


def test_missed_history_and_rate_limit_are_identical() -> None:
    async def scenario(client: Client) -> list[Any]:
        seen = [await client.post("/rooms/r1/messages", publish_body(seq)) for seq in range(5)]
        seen.append(await client.request("GET", "/rooms/r1/messages?after=0"))  # missed
        return seen

    seen = assert_same(Settings(history_size=2, publish_rate_per_s=3), scenario)
    assert [answer[0] for answer in seen] == [201, 201, 201, 429, 429, 200]
    assert (b"retry-after", b"1") in seen[3][1]


@pytest.mark.parametrize("target", ["/rooms/r1/messages", "/rooms/r1/events"])
def test_token_refusals_are_identical(target: str) -> None:
    async def scenario(client: Client) -> list[Any]:
        seen: list[Any] = [
            await client.request("GET", target),
            await client.request("GET", target, headers=[(b"authorization", b"Bearer wrong")]),
            await client.post("/rooms/r1/messages", publish_body(0)),
            await client.post(f"/rooms/bad!/messages?token={TOKEN}", b"{}", []),
            await client.request("GET", f"{target}?token={TOKEN}&after=x"),
        ]
        bearer = [(b"authorization", f"Bearer {TOKEN}".encode()), *JSON]
        seen.append(await client.post("/rooms/r1/messages", publish_body(1), bearer))
        return seen

    seen = assert_same(Settings(auth_token=TOKEN), scenario)  # type: ignore[arg-type]
    assert [answer[0] for answer in seen] == [401, 401, 401, 422, 422, 201]
    assert (b"www-authenticate", b"Bearer") in seen[0][1]


@pytest.mark.parametrize("fault", [BrokerUnavailable("redis is down"), TooManyRooms("full")])
def test_broker_refusals_are_identical(fault: Exception) -> None:
    async def scenario(client: Client) -> list[Any]:
        async def refuse(*args: object) -> Any:
            raise fault

        broker = client.state.broker
        for method in ("read", "wait", "publish", "subscribe"):
            setattr(broker, method, refuse)
        return [
            await client.request("GET", "/rooms/r1/messages"),
            await client.request("GET", "/rooms/r1/messages?wait=0"),
            await client.request("GET", "/rooms/r1/messages?wait=1"),
            await client.post("/rooms/r1/messages", publish_body(0)),
            await client.request("GET", "/rooms/r1/events"),
        ]

    seen = assert_same(Settings(), scenario)  # the metrics too: unavailable per transport
    assert {answer[0] for answer in seen} == {503}


async def _stream_until(stream: Stream, count: int) -> list[bytes]:
    chunks = await stream.wait_for_chunks(count)
    stream.disconnect()
    async with asyncio.timeout(5):
        await stream.task
    return chunks


def test_sse_stream_is_identical_resumed_live_and_closed_on_disconnect() -> None:
    async def scenario(client: Client) -> list[Any]:
        for seq in range(3):
            await client.post("/rooms/s/messages", publish_body(seq))
        stream = client.open("GET", "/rooms/s/events", [(b"last-event-id", b"0")])
        await stream.wait_for_chunks(3)  # retry, missed, the history left
        await client.post("/rooms/s/messages", publish_body(3))
        chunks = await _stream_until(stream, 4)
        start = stream.messages[0]
        broker = client.state.broker
        subscribers = await broker.subscribe("s", None)  # the room is still there to look at
        left = len(broker._rooms["s"].subscribers) - 1
        subscribers.close()
        return [start["status"], start["headers"], chunks, left]

    (status, headers, chunks, left) = assert_same(Settings(history_size=2), scenario)
    assert (status, left) == (200, 0)
    assert (b"content-type", b"text/event-stream; charset=utf-8") in headers
    assert chunks[:2] == [b"retry: 1000\n\n", b'event: missed\ndata: {"missed":1}\n\n']
    assert chunks[2].count(b"data: ") == 2
    assert chunks[3].startswith(b'data: {"id":4,')


def test_sse_keepalive_is_identical() -> None:
    async def scenario(client: Client) -> list[Any]:
        return await _stream_until(client.open("GET", "/rooms/idle/events"), 2)

    assert assert_same(Settings(sse_keepalive_s=0.01), scenario) == [
        b"retry: 1000\n\n",
        b": ping\n\n",
    ]


def test_sse_slow_subscriber_dropped_identically() -> None:
    async def scenario(client: Client) -> list[Any]:
        stream = client.open("GET", "/rooms/slow/events")
        await stream.wait_for_chunks(1)
        stream.release.clear()  # the client stops reading
        broker = client.state.broker
        request = PublishRequest(publisher="p", seq=0, payload="x")
        await broker.publish("slow", request)
        await stream.wait_for_chunks(2)  # the writer is stuck sending this one
        for _ in range(3):
            await broker.publish("slow", request)
        stream.release.set()
        async with asyncio.timeout(5):
            await stream.task
        return [stream.chunks]

    [chunks] = assert_same(Settings(send_queue_size=1), scenario)
    assert chunks[-2:] == [
        b'event: dropped\ndata: {"error":"slow subscriber: send queue overflowed, messages '
        b'dropped"}\n\n',
        b"",
    ]


def _gauge(client: Client, transport: str) -> float:
    value: float = client.state.metrics.connections[transport]._value.get()
    return value


async def _until_parked(client: Client) -> None:
    # Bounded: the poll parks within a few loop turns of being sent.
    for _ in range(1000):
        if _gauge(client, "long_poll") == 1:
            return
        await asyncio.sleep(0)
    raise AssertionError("the long poll never parked")


def test_long_poll_woken_by_a_publish_is_identical() -> None:
    async def scenario(client: Client) -> list[Any]:
        stream = client.open("GET", "/rooms/lp/messages?after=0&wait=5")
        await _until_parked(client)
        published = await client.post("/rooms/lp/messages", publish_body(0))
        async with asyncio.timeout(5):
            await stream.task
        return [published, stream.answer(), _gauge(client, "long_poll")]

    published, answer, waiting = assert_same(Settings(), scenario)
    assert answer[0] == 200
    assert json.loads(answer[2])["messages"] == [json.loads(published[2])]
    assert waiting == 0


@pytest.mark.parametrize("root_path", ["", ROUTER], ids=["shortcut", "router"])
def test_long_poll_ends_when_its_client_leaves(root_path: str) -> None:
    async def scenario() -> float:
        async with InProcessApp(create_app(Settings())) as app:
            client = Client(app, root_path)
            stream = client.open("GET", "/rooms/lp/messages?wait=30")
            await _until_parked(client)
            stream.disconnect()
            async with asyncio.timeout(5):
                await stream.task
            return _gauge(client, "long_poll")

    assert asyncio.run(scenario()) == 0


def test_the_shortcut_solves_no_dependencies(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lean path really is lean: FastAPI's per-request machinery never runs for it."""
    import fastapi.routing

    solved: list[str] = []
    solve = fastapi.routing.solve_dependencies

    async def counting(*args: Any, **kwargs: Any) -> Any:
        solved.append(kwargs["request"].url.path)
        return await solve(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)

    async def scenario(root_path: str) -> None:
        async with InProcessApp(create_app(Settings(sse_keepalive_s=0.01))) as app:
            client = Client(app, root_path)
            await client.post("/rooms/r1/messages", publish_body(0))
            await client.request("GET", "/rooms/r1/messages?after=0")
            await client.request("GET", "/rooms/r1/messages?after=0&wait=1")
            await _stream_until(client.open("GET", "/rooms/r1/events"), 2)

    asyncio.run(scenario(""))
    assert solved == []
    asyncio.run(scenario(ROUTER))
    assert len(solved) == 4
