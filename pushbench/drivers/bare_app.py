"""The floors to compare the reference server against: bare ASGI, no framework at all.

``/ws`` echoes with the same reply (``Your text was: {text}``) and ``GET /rooms/{room}/messages``
answers an empty poll with the reference server's body for a cursor at the room's head
(``{"room":..,"messages":[],"next":<after>,"missed":0}``), under the same uvicorn and settings:
the difference is what FastAPI, Starlette and the reference server's own code cost per round
trip and per poll request. Nothing is validated and nothing is stored: it is a floor.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

__all__ = ["app"]

Scope = dict[str, Any]
Message = dict[str, Any]

_ROOMS = "/rooms/"


async def app(scope: Scope, receive: Any, send: Any) -> None:
    """``/ws``: echo; ``GET /rooms/{room}/messages``: an empty poll; other HTTP: 200 ``ok``
    (``/healthz``, which the launcher waits on); lifespan: accepted."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        await _http(scope, send)
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is not None:
            await send({"type": "websocket.send", "text": f"Your text was: {text}"})
        else:
            await send({"type": "websocket.send", "bytes": message.get("bytes")})


async def _http(scope: Scope, send: Any) -> None:
    path: str = scope["path"]
    if path.startswith(_ROOMS) and path.endswith("/messages"):
        room = path[len(_ROOMS) : -len("/messages")]
        after = dict(parse_qsl(scope["query_string"].decode())).get("after", "0")
        body = b'{"room":"%s","messages":[],"next":%s,"missed":0}' % (room.encode(), after.encode())
        headers = [
            (b"content-length", b"%d" % len(body)),
            (b"content-type", b"application/json"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})
