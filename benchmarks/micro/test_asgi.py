"""The app's ASGI callable driven in process: framework + app cost per message, no network.

uvicorn's protocol code and the kernel are left out (see ``test_push_vs_poll.py`` for those);
the bare ASGI echo app is the floor the ``/ws`` echo is compared with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import orjson
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.micro.asgi_driver import InProcessApp, InProcessSocket, Message
from benchmarks.micro.conftest import Loop
from pushbench.drivers import bare_app
from target_app.broker import Broker
from target_app.envelope import PublishRequest
from target_app.main import create_app
from target_app.settings import Settings

ROOM = "bench"


@pytest.fixture
def bare_client(loop: Loop) -> Iterator[InProcessApp]:
    """``pushbench.drivers.bare_app``: an echo with no framework at all, in process."""
    client = InProcessApp(bare_app.app)
    loop.run(client.__aenter__())
    try:
        yield client
    finally:
        loop.run(client.__aexit__(None, None, None))


@pytest.mark.benchmark(group="asgi-ws-echo")
@pytest.mark.parametrize("app", ["target_app", "bare-asgi"])
def test_asgi_ws_echo(
    benchmark: BenchmarkFixture,
    loop: Loop,
    app_client: InProcessApp,
    bare_client: InProcessApp,
    payload: str,
    app: str,
) -> None:
    """One text frame into ``/ws`` and its echo back out, through the app's ASGI callable."""
    client = app_client if app == "target_app" else bare_client
    socket = loop.run(client.websocket("/ws"))

    async def round_trip() -> Message:
        socket.send_text(payload)
        return await socket.receive()

    reply = benchmark(lambda: loop.run(round_trip()))
    assert reply["text"] == f"Your text was: {payload}"
    socket.disconnect()


def _seed(loop: Loop, client: InProcessApp, payload: str, count: int) -> int:
    broker: Broker = client.app.state.broker  # type: ignore[attr-defined]
    request = PublishRequest(publisher="bench", seq=0, payload=payload)
    last = 0
    for _ in range(count):
        last = loop.run(broker.publish(ROOM, request)).id
    return last


@pytest.mark.benchmark(group="asgi-http-poll")
@pytest.mark.parametrize("new", [0, 1, 100])
def test_asgi_short_poll(
    benchmark: BenchmarkFixture, loop: Loop, app_client: InProcessApp, payload: str, new: int
) -> None:
    """``GET /rooms/{room}/messages?after=<cursor>`` finding ``new`` messages: routing, query
    validation, the broker read and the body, through the app's ASGI callable."""
    last = _seed(loop, app_client, payload, 200)
    target = f"/rooms/{ROOM}/messages?after={last - new}"
    status, body = benchmark(lambda: loop.run(app_client.get(target)))
    assert status == 200
    assert len(orjson.loads(body)["messages"]) == new


@pytest.mark.benchmark(group="asgi-ws-fanout")
@pytest.mark.parametrize("subscribers", [1, 100, 1_000])
def test_asgi_ws_fanout(
    benchmark: BenchmarkFixture, loop: Loop, app_client: InProcessApp, subscribers: int
) -> None:
    """One publish reaching N ``/ws/rooms/{room}`` subscribers: broker fan-out, each writer
    task's wake-up, and its ``websocket.send`` through Starlette (1 KiB payload: the envelope
    is encoded once and shared, so its size does not change this path)."""
    broker: Broker = app_client.app.state.broker  # type: ignore[attr-defined]
    request = PublishRequest(publisher="bench", seq=0, payload="x" * 1024)
    received = 0
    expected = 0
    done: asyncio.Future[None] | None = None

    def on_send(message: Message) -> None:
        nonlocal received
        received += 1
        if received == expected and done is not None:
            done.set_result(None)

    sockets: list[InProcessSocket] = [
        loop.run(app_client.websocket(f"/ws/rooms/{ROOM}", on_send)) for _ in range(subscribers)
    ]

    async def publish_and_deliver() -> None:
        nonlocal expected, done
        expected += subscribers
        done = asyncio.get_running_loop().create_future()
        await broker.publish(ROOM, request)
        await done

    benchmark(lambda: loop.run(publish_and_deliver()))
    assert received == expected
    for socket in sockets:
        socket.disconnect()


@pytest.fixture
def route_client(loop: Loop) -> Iterator[InProcessApp]:
    """The ``fastapi`` flavor, whose polls go through FastAPI's route, in process."""
    client = InProcessApp(create_app(Settings(flavor="fastapi")))
    loop.run(client.__aenter__())
    try:
        yield client
    finally:
        loop.run(client.__aexit__(None, None, None))


@pytest.mark.benchmark(group="asgi-empty-poll")
@pytest.mark.parametrize("app", ["lean-asgi", "fastapi-route", "bare-asgi"])
def test_asgi_empty_poll(
    benchmark: BenchmarkFixture,
    loop: Loop,
    app_client: InProcessApp,
    route_client: InProcessApp,
    bare_client: InProcessApp,
    app: str,
) -> None:
    """One empty short poll (``after`` at the room's head) through the ``asgi`` flavor's lean
    handler, the ``fastapi`` flavor's route, and the bare ASGI poll app."""
    client = {"lean-asgi": app_client, "fastapi-route": route_client, "bare-asgi": bare_client}[app]
    target = f"/rooms/{ROOM}/messages?after=0"
    status, body = benchmark(lambda: loop.run(client.get(target)))
    assert status == 200
    assert body == b'{"room":"bench","messages":[],"next":0,"missed":0}'
