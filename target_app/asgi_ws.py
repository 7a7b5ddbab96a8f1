"""The few ASGI WebSocket messages the endpoints exchange with the server, as small helpers.

The endpoints speak plain ASGI rather than through Starlette's ``WebSocket``: its per-message
state checks were the largest cost the framework added to the echo and push loops, and the
routing and middleware layers around it held several KiB per open socket (``make serverbench``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["Receive", "Scope", "Send", "accept", "close", "close_reason", "handshake", "send_text"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def handshake(receive: Receive) -> bool:
    """Wait for the client's ``websocket.connect``; False if it left first."""
    message = await receive()
    connected: bool = message["type"] == "websocket.connect"
    return connected


async def accept(send: Send) -> None:
    """Complete the opening handshake."""
    await send({"type": "websocket.accept"})


def close_reason(text: str) -> str:
    """``text`` cut to the 123 UTF-8 bytes a close frame's reason may hold."""
    return text.encode()[:123].decode(errors="ignore")


async def close(send: Send, code: int, reason: str) -> None:
    """Send a close frame (``reason`` cut to fit); a client already gone is not an error."""
    # uvicorn raises ClientDisconnected (an OSError) on a socket the client has left; other
    # ASGI servers raise RuntimeError for a message the connection's state no longer allows.
    with contextlib.suppress(OSError, RuntimeError):
        await send({"type": "websocket.close", "code": code, "reason": close_reason(reason)})


async def send_text(send: Send, text: str) -> None:
    """One text frame."""
    await send({"type": "websocket.send", "text": text})
