"""``/ws``: the tutorial's echo, done right (text, binary, size limit, calibrated delay)."""

import asyncio
import contextlib
import time
from typing import Annotated

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect, status

from target_app.asgi_channel import channel
from target_app.limits import too_large
from target_app.settings import Settings

__all__ = ["echo_router"]


def echo_router(settings: Settings) -> APIRouter:
    """The ``/ws`` echo route, bounded by ``settings``."""
    router = APIRouter()
    max_bytes = settings.max_message_bytes

    @router.websocket("/ws")
    async def echo(
        websocket: WebSocket,
        delay_ms: Annotated[
            int,
            Query(
                ge=0,
                le=settings.max_echo_delay_ms,
                description="Delay each echo by this many ms (calibrates a harness).",
            ),
        ] = 0,
    ) -> None:
        """Text frames come back as ``Your text was: {text}``; binary frames come back unchanged."""
        await websocket.accept()
        # A client may close while its echo is still pending: that ends the loop, not an error.
        with contextlib.suppress(WebSocketDisconnect, OSError):
            await _echo_loop(websocket, delay_ms / 1000, max_bytes)

    return router


async def precise_sleep(delay_s: float) -> None:
    """Sleep ``delay_s`` to within tens of µs.

    uvloop (libuv) timers have 1 ms granularity and fire late by up to that much, which would
    make ``?delay_ms`` useless for calibrating a harness at the 0.3 ms level: sleep coarsely
    until 4 ms before the deadline (its timers can fire 2+ ms late), then yield to the loop
    until the deadline passes.
    """
    deadline = time.monotonic() + delay_s
    coarse = delay_s - 0.004
    if coarse > 0:
        await asyncio.sleep(coarse)
    while time.monotonic() < deadline:  # noqa: ASYNC110 - a deliberate yield-spin, see above
        await asyncio.sleep(0)


async def _echo_loop(websocket: WebSocket, delay_s: float, max_bytes: int) -> None:
    receive, send = channel(websocket)
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        text: str | None = message.get("text")
        data: bytes | None = message.get("bytes")
        frame = text if text is not None else data
        if frame is None:
            continue
        if too_large(frame, max_bytes):
            await websocket.close(status.WS_1009_MESSAGE_TOO_BIG, "message too big")
            return
        if delay_s:
            await precise_sleep(delay_s)
        if text is not None:
            await send({"type": "websocket.send", "text": f"Your text was: {text}"})
        else:
            await send({"type": "websocket.send", "bytes": data})
