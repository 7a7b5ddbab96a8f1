"""``channel``: the accepted WebSocket's own ASGI callables, checked against installed Starlette."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.websockets import WebSocket

from target_app.asgi_channel import channel

SCOPE: dict[str, Any] = {"type": "websocket", "path": "/ws", "headers": [], "query_string": b""}


class Peer:
    """The server side of an ASGI WebSocket: what the app will receive, and what it sent."""

    def __init__(self, *incoming: dict[str, Any]) -> None:
        self.incoming = list(incoming)
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return self.incoming.pop(0)

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


async def accepted(peer: Peer) -> WebSocket:
    websocket = WebSocket(SCOPE, peer.receive, peer.send)
    await websocket.accept()
    return websocket


def test_returns_the_servers_own_callables_once_accepted() -> None:
    async def scenario() -> Peer:
        peer = Peer({"type": "websocket.connect"}, {"type": "websocket.receive", "text": "hi"})
        receive, send = channel(await accepted(peer))
        assert await receive() == {"type": "websocket.receive", "text": "hi"}
        await send({"type": "websocket.send", "text": "back"})
        return peer

    peer = asyncio.run(scenario())
    assert peer.sent == [
        {"type": "websocket.accept", "subprotocol": None, "headers": []},
        {"type": "websocket.send", "text": "back"},
    ]


def test_refuses_a_socket_not_yet_accepted() -> None:
    peer = Peer({"type": "websocket.connect"})
    with pytest.raises(RuntimeError, match="only used once it is accepted"):
        channel(WebSocket(SCOPE, peer.receive, peer.send))


def test_refuses_a_closed_socket() -> None:
    async def scenario() -> WebSocket:
        websocket = await accepted(Peer({"type": "websocket.connect"}))
        await websocket.close()
        return websocket

    with pytest.raises(RuntimeError, match="only used once it is accepted"):
        channel(asyncio.run(scenario()))


def test_says_so_when_starlette_moves_the_callables(monkeypatch: pytest.MonkeyPatch) -> None:
    websocket = asyncio.run(accepted(Peer({"type": "websocket.connect"})))
    monkeypatch.delattr(websocket, "_send")
    with pytest.raises(RuntimeError, match="no longer holds _receive/_send"):
        channel(websocket)
