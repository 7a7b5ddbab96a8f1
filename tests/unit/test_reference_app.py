"""The WebSocket endpoints in process (no sockets): shortcut and router agree; the push writer.

``ReferenceApp`` serves ``/ws`` and ``/ws/rooms/{room}`` ahead of FastAPI's stack; the same
endpoints also stand in the router, which serves them when the shortcut does not apply (a
``root_path``). Both ways must behave the same.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from benchmarks.micro.asgi_driver import InProcessApp
from target_app import rooms_ws
from target_app.access import Access
from target_app.envelope import Envelope
from target_app.main import create_app
from target_app.metrics import Metrics
from target_app.settings import Settings
from target_app.subscription import Subscription

ROOT_PATHS = pytest.mark.parametrize("root_path", ["", "/api"], ids=["shortcut", "router"])


def run(scenario: Any) -> Any:
    return asyncio.run(scenario())


@ROOT_PATHS
def test_echo(root_path: str) -> None:
    async def scenario() -> list[dict[str, Any]]:
        async with InProcessApp(create_app(Settings())) as app:
            socket = await app.websocket("/ws", root_path=root_path)
            socket.send_text("hi")
            socket.send_bytes(b"\x00\x01")
            replies = [await socket.receive(), await socket.receive()]
            socket.disconnect()
            await socket.task
            return replies

    replies = run(scenario)
    assert [r.get("text") or r.get("bytes") for r in replies] == ["Your text was: hi", b"\x00\x01"]


@ROOT_PATHS
def test_room_publish_reaches_subscriber(root_path: str) -> None:
    async def scenario() -> dict[str, Any]:
        async with InProcessApp(create_app(Settings())) as app:
            subscriber = await app.websocket("/ws/rooms/r1", root_path=root_path)
            publisher = await app.websocket("/ws/rooms/r1?receive=false", root_path=root_path)
            publisher.send_text(json.dumps({"publisher": "p", "seq": 0, "payload": "x"}))
            pushed = await subscriber.receive()
            for socket in (subscriber, publisher):
                socket.disconnect()
                await socket.task
            return dict(json.loads(pushed["text"]))

    assert run(scenario)["payload"] == "x"


@ROOT_PATHS
@pytest.mark.parametrize(
    ("target", "loc"),
    [
        ("/ws/rooms/bad;name", ["path", "room"]),
        ("/ws/rooms/r?after=-1", ["query", "after"]),
        ("/ws?delay_ms=x", ["query", "delay_ms"]),
    ],
)
def test_bad_parameters_close_1008_with_the_reason(
    root_path: str, target: str, loc: list[str]
) -> None:
    async def scenario() -> tuple[int | None, str]:
        async with InProcessApp(create_app(Settings())) as app:
            socket = await app.websocket(target, root_path=root_path)
            await socket.task
            return socket.closed, socket.close_reason

    code, reason = run(scenario)
    assert code == 1008
    assert json.loads(reason)[0]["loc"] == loc


def test_the_writer_runs_only_while_there_is_work() -> None:
    """A subscriber's writer task starts with the first message, ends once idle for the linger
    time, and starts again with the next message: nothing is lost across the gap."""

    async def scenario() -> list[str]:
        sent: list[str] = []
        arrived = asyncio.Event()

        async def send(message: Any) -> None:
            sent.append(message["text"])
            arrived.set()

        sub = Subscription("r", 10, on_close=lambda s: None)
        pusher = rooms_ws._Pusher(send, sub, Metrics("memory"), linger_s=0.01)
        sub.on_ready = pusher.start
        assert pusher.task is None  # idle: no task at all
        sub.offer(Envelope(1, "r", "one"))
        first = pusher.task
        assert first is not None
        await arrived.wait()
        await first  # ends by itself once idle for linger_s
        assert pusher.task is None
        arrived.clear()
        sub.offer(Envelope(2, "r", "two"))
        assert pusher.task is not None
        assert pusher.task is not first
        await arrived.wait()
        sub.close()
        await pusher.stop()
        return sent

    assert run(scenario) == ["one", "two"]


def test_a_drop_before_the_writer_existed_still_closes_the_socket() -> None:
    """Dropped while the ``missed`` notice was being sent (no writer yet): the writer started
    afterwards must still tell the client, with the slow-subscriber close."""

    async def scenario() -> list[Any]:
        sent: list[Any] = []

        async def send(message: Any) -> None:
            sent.append(message)

        sub = Subscription("r", 1, on_close=lambda s: None)
        sub.offer(Envelope(1, "r", "one"))
        sub.offer(Envelope(2, "r", "two"))  # over the bound: dropped
        assert sub.dropped
        metrics = Metrics("memory")
        room = rooms_ws.RoomSocket(
            broker=None, metrics=metrics, max_message_bytes=1024, access=Access(Settings())
        )  # type: ignore[arg-type]
        pusher = await room._start_push(send, sub)
        assert pusher.task is not None
        await pusher.task
        return sent

    sent = run(scenario)
    assert sent == [
        {
            "type": "websocket.close",
            "code": rooms_ws.SLOW_SUBSCRIBER_CLOSE,
            "reason": "slow subscriber: send queue overflowed, messages dropped",
        }
    ]
