"""The floor to compare ``/ws`` against: a bare ASGI echo app with no framework at all.

Same reply (``Your text was: {text}``), same uvicorn, same settings: the difference between the
two is what FastAPI, Starlette and the reference server's own code cost per round trip.
"""

from __future__ import annotations

from typing import Any

__all__ = ["app"]

Scope = dict[str, Any]
Message = dict[str, Any]


async def app(scope: Scope, receive: Any, send: Any) -> None:
    """``/ws``: echo; ``GET /healthz``: 200 (the launcher waits on it); lifespan: accepted."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
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
