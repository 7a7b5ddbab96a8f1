"""The app class: FastAPI, with the two WebSocket endpoints served straight from its entry point.

An open WebSocket keeps every layer it passed through alive for as long as it stays open: each
middleware's and router's coroutine frame, FastAPI's exit stacks and dependency results, the
Starlette ``WebSocket``. For ``/ws`` and ``/ws/rooms/{room}`` that was over 10 KiB per idle
connection, more than half of what uvicorn itself holds for one; so their sockets go straight
from :meth:`ReferenceApp.__call__` to the endpoint. The routes are still registered with the
router (``app.routes``, a ``root_path``, mounting the app inside another), which serves them
through the full stack whenever the shortcut does not apply.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.routing import WebSocketRoute

from target_app.asgi_ws import Receive, Scope, Send
from target_app.echo import EchoSocket
from target_app.rooms_ws import RoomSocket

__all__ = ["ReferenceApp"]

_ROOMS_PREFIX = "/ws/rooms/"


class ReferenceApp(FastAPI):
    """FastAPI, taking ``/ws`` and ``/ws/rooms/{room}`` ahead of its middleware and router."""

    def __init__(self, *, echo: EchoSocket, rooms: RoomSocket, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._echo = echo
        self._rooms = rooms
        self.router.routes.append(WebSocketRoute("/ws", echo, name="echo"))
        self.router.routes.append(WebSocketRoute(_ROOMS_PREFIX + "{room}", rooms, name="room"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and not scope.get("root_path") and not self.root_path:
            path: str = scope["path"]
            if path == "/ws":
                await self._echo(scope, receive, send)
                return
            if path.startswith(_ROOMS_PREFIX):
                room = path[len(_ROOMS_PREFIX) :]
                if room and "/" not in room:
                    await self._rooms.serve(room, scope, receive, send)
                    return
        await super().__call__(scope, receive, send)
