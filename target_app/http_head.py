"""uvicorn's HTTP protocols with a bound on the request head: no slowloris connection lives on.

uvicorn bounds the idle time *between* requests (``--timeout-keep-alive``) but not the time a
client takes to send a request head: a connection that sends nothing, or sends its headers one
byte at a time, is held for ever. These subclasses give a client ``PUSHBENCH_HEADER_TIMEOUT_S``
to complete each head, and close the connection of one that takes longer, within twice that.
Once a head is complete the bound is off: a long poll, a streamed body, an SSE stream and a
WebSocket live as long as they need.

The hot path pays nothing: rather than hooks and a timer per request (measured in-process: +3 µs
on httptools' 25 µs per keep-alive request), one watch per connection looks every timeout at what
uvicorn already keeps (``cycle``, the keep-alive timer). ``pushbench`` starts uvicorn with
``--http target_app.http_head:<Class>`` (see ``pushbench.core.server_config.HTTP_PROTOCOLS``).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from uvicorn.protocols.http.h11_impl import H11Protocol as _H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _HttpToolsProtocol

from target_app.settings import get_settings

__all__ = ["AutoHTTPProtocol", "H11Protocol", "HeadWatch", "HttpToolsProtocol"]


class _Cycle(Protocol):
    @property
    def response_complete(self) -> bool: ...


class _Connection(Protocol):
    """What both uvicorn HTTP protocols keep per connection (read here, never written)."""

    @property
    def transport(self) -> asyncio.Transport: ...
    @property
    def cycle(self) -> _Cycle | None: ...
    @property
    def timeout_keep_alive_task(self) -> asyncio.TimerHandle | None: ...


#: Stands for "not waiting for a head" at the previous look (``None`` is a real cycle value).
_NOT_WAITING = object()


class HeadWatch:
    """Closes a connection found waiting inside the same request head at two looks in a row.

    A connection waits for a head when it has had no request yet (``cycle`` is None), or when
    its last response is complete and uvicorn's keep-alive timer is off: bytes of a next request
    arrived (they cancel that timer) but no complete head yet. Only a new head brings a new
    ``cycle``, so the same ``cycle`` waiting at two looks ``interval_s`` apart has waited that long.
    """

    __slots__ = ("_connection", "_handle", "_interval_s", "_loop", "_waiting_on")

    def __init__(
        self, connection: _Connection, loop: asyncio.AbstractEventLoop, interval_s: float
    ) -> None:
        self._connection = connection
        self._loop = loop
        self._interval_s = interval_s
        # A new connection waits for its first head (cycle None) from the start.
        self._waiting_on: object = None
        self._handle: asyncio.TimerHandle | None = loop.call_later(interval_s, self._look)

    def cancel(self) -> None:
        """Stop watching: the connection is gone, or now a WebSocket."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _look(self) -> None:
        self._handle = None
        connection = self._connection
        transport = connection.transport
        if transport.is_closing():
            return
        cycle = connection.cycle
        waiting = cycle is None or (
            cycle.response_complete and connection.timeout_keep_alive_task is None
        )
        if waiting and self._waiting_on is cycle:
            transport.close()
            return
        self._waiting_on = cycle if waiting else _NOT_WAITING
        self._handle = self._loop.call_later(self._interval_s, self._look)


def _watch(connection: _Connection, loop: asyncio.AbstractEventLoop) -> HeadWatch:
    return HeadWatch(connection, loop, get_settings().header_timeout_s)


class H11Protocol(_H11Protocol):
    """uvicorn's h11 protocol with a :class:`HeadWatch`."""

    _head_watch: HeadWatch

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_watch = _watch(self, self.loop)

    def handle_websocket_upgrade(self, event: Any) -> None:
        # The WebSocket protocol takes the transport: drop the watch, and with it this object.
        self._head_watch.cancel()
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_watch.cancel()
        super().connection_lost(exc)


class HttpToolsProtocol(_HttpToolsProtocol):
    """uvicorn's httptools protocol with a :class:`HeadWatch`."""

    _head_watch: HeadWatch

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_watch = _watch(self, self.loop)

    def handle_websocket_upgrade(self) -> None:
        self._head_watch.cancel()
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_watch.cancel()
        super().connection_lost(exc)


#: uvicorn's ``--http auto``: httptools when it is installed (it is a pushbench dependency).
AutoHTTPProtocol = HttpToolsProtocol
