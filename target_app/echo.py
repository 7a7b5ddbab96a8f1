"""``/ws``: the tutorial's echo, done right (text, binary, size limit, calibrated delay)."""

from __future__ import annotations

import asyncio
import contextlib
import time

from starlette import status

from target_app.access import Access, refuse_handshake
from target_app.asgi_ws import Receive, Scope, Send, accept, close, handshake
from target_app.limits import too_large
from target_app.settings import Settings
from target_app.ws_params import InvalidParameters, echo_query

__all__ = ["EchoSocket", "precise_sleep"]


class EchoSocket:
    """``/ws`` as a plain ASGI endpoint.

    Text frames come back as ``Your text was: {text}``; binary frames come back unchanged.
    ``?delay_ms=N`` delays each echo by N ms (calibrates a harness). A frame over the size
    limit closes with 1009; a bad ``delay_ms`` closes with 1008 and says why. A handshake
    without the token or from a foreign Origin is refused (:mod:`target_app.access`); echo
    frames are not rate limited: each one costs only its own sender, who must read the echo
    before TCP lets it send much more.
    """

    __slots__ = ("access", "max_bytes", "max_delay_ms")

    def __init__(self, settings: Settings, access: Access) -> None:
        self.max_bytes = settings.max_message_bytes
        self.max_delay_ms = settings.max_echo_delay_ms
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not await handshake(receive):
            return
        refusal = self.access.handshake_refusal(scope)
        if refusal is not None:
            await refuse_handshake(scope, send, refusal)
            return
        try:
            query = echo_query(scope.get("query_string", b""), self.max_delay_ms)
        except InvalidParameters as exc:
            await accept(send)
            await close(send, status.WS_1008_POLICY_VIOLATION, str(exc))
            return
        await accept(send)
        # A client may close while its echo is still pending: that ends the loop, not an error
        # (uvicorn raises ClientDisconnected, an OSError, on a send to a socket already gone).
        with contextlib.suppress(OSError):
            await _echo_loop(receive, send, query.delay_ms / 1000, self.max_bytes)


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


async def _echo_loop(receive: Receive, send: Send, delay_s: float, max_bytes: int) -> None:
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
            await close(send, status.WS_1009_MESSAGE_TOO_BIG, "message too big")
            return
        if delay_s:
            await precise_sleep(delay_s)
        if text is not None:
            await send({"type": "websocket.send", "text": f"Your text was: {text}"})
        else:
            await send({"type": "websocket.send", "bytes": data})
