"""The app class: FastAPI, with every transport's endpoint served straight from its entry point.

An open WebSocket keeps every layer it passed through alive for as long as it stays open: each
middleware's and router's coroutine frame, FastAPI's exit stacks and dependency results, the
Starlette ``WebSocket``. For ``/ws`` and ``/ws/rooms/{room}`` that was over 10 KiB per idle
connection, more than half of what uvicorn itself holds for one; so their sockets go straight
from :meth:`ReferenceApp.__call__` to the endpoint. The HTTP transports (publish, short and long
poll, SSE) go the same way (:mod:`target_app.asgi_http`), so that every transport of the
``asgi`` flavor is served at the same level of framework: none. The routes are still registered
with the router (``app.routes``, ``/openapi.json``, a ``root_path``, mounting the app inside
another), which serves them through the full stack whenever the shortcut does not apply.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.routing import WebSocketRoute

from target_app.asgi_http import RoomsHTTP
from target_app.asgi_ws import Receive, Scope, Send
from target_app.echo import EchoSocket
from target_app.rooms_ws import RoomSocket

__all__ = ["ReferenceApp"]

_ROOMS_PREFIX = "/ws/rooms/"
_HTTP_ROOMS_PREFIX = "/rooms/"
_HTTP_ROOMS_START = len(_HTTP_ROOMS_PREFIX)

#: A lean HTTP endpoint: (raw room, scope, receive, send).
_Endpoint = Callable[[str, Scope, Receive, Send], Awaitable[None]]


class ReferenceApp(FastAPI):
    """FastAPI, taking the rooms' and echo's endpoints ahead of its middleware and router."""

    def __init__(
        self, *, echo: EchoSocket, rooms: RoomSocket, rooms_http: RoomsHTTP, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._echo = echo
        self._rooms = rooms
        self._rooms_http = rooms_http
        self.router.routes.append(WebSocketRoute("/ws", echo, name="echo"))
        self.router.routes.append(WebSocketRoute(_ROOMS_PREFIX + "{room}", rooms, name="room"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not scope.get("root_path") and not self.root_path:
            kind = scope["type"]
            if kind == "http":
                found = self._http_endpoint(scope)
                if found is not None:
                    endpoint, room = found
                    await endpoint(room, scope, receive, send)
                    return
            elif kind == "websocket":
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

    def _http_endpoint(self, scope: Scope) -> tuple[_Endpoint, str] | None:
        """The lean endpoint for ``/rooms/{room}/messages`` (GET, POST) or
        ``/rooms/{room}/events`` (GET) and the raw room; None for anything else (HEAD, another
        method or path: the router's to answer). A plain call, not a coroutine: it only looks."""
        path: str = scope["path"]
        if not path.startswith(_HTTP_ROOMS_PREFIX):
            return None
        room, slash, tail = path[_HTTP_ROOMS_START:].partition("/")
        if not room or not slash:
            return None
        method = scope["method"]
        if tail == "messages":
            if method == "GET":
                return self._rooms_http.poll, room
            if method == "POST":
                return self._rooms_http.publish, room
        elif tail == "events" and method == "GET":
            return self._rooms_http.events, room
        return None
