"""The accepted socket's own ASGI ``receive`` and ``send``, for the per-message hot loops.

Starlette's :class:`~starlette.websockets.WebSocket` re-checks its state machine and builds a new
message on every ``receive``/``send_text``; in the ``/ws`` echo and the room push loops that was
the largest cost the framework added per message (``make serverbench``: echo and fan-out against a
bare ASGI app). Handshake and close still go through the WebSocket object, which keeps its state
right for them; between the two, the loops exchange plain ASGI messages with the server, exactly
as a bare ASGI app does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.websockets import WebSocket, WebSocketState

__all__ = ["Receive", "Send", "channel"]

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def channel(websocket: WebSocket) -> tuple[Receive, Send]:
    """The ASGI callables behind an accepted ``websocket``.

    A ``send`` on a socket the client has left raises :class:`OSError` (what uvicorn raises for
    every WebSocket implementation), where Starlette would raise ``WebSocketDisconnect``.

    Raises:
        RuntimeError: the socket is not accepted, or Starlette no longer keeps the callables
            where this reads them (checked by the test suite against the installed Starlette).
    """
    if websocket.application_state is not WebSocketState.CONNECTED:
        raise RuntimeError("the ASGI channel of a WebSocket is only used once it is accepted")
    receive: Receive | None = getattr(websocket, "_receive", None)
    send: Send | None = getattr(websocket, "_send", None)
    if receive is None or send is None:
        raise RuntimeError("starlette.websockets.WebSocket no longer holds _receive/_send")
    return receive, send
