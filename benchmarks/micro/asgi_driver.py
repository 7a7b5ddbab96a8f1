"""Drive an ASGI app in process: lifespan, HTTP requests and WebSocket sessions, no sockets.

Hand-made ``scope``/``receive``/``send`` instead of a test client: Starlette's ``TestClient`` runs
the app in another thread and hands every message across it, which costs more (and varies more)
than the framework code the in-process benchmarks mean to isolate. Everything here runs on the
caller's event loop; the only work besides the app's is a dict and a future per message.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine, MutableMapping
from typing import Any

__all__ = ["ASGIApp", "InProcessApp", "InProcessSocket"]

Message = MutableMapping[str, Any]
# Scope as dict: an app typed for any MutableMapping (Starlette's) fits, and so does one typed
# for dict (pushbench.drivers.bare_app). receive/send as Any for the same reason.
ASGIApp = Callable[[dict[str, Any], Any, Any], Coroutine[Any, Any, None]]

_CLIENT = ("127.0.0.1", 50000)
_SERVER = ("127.0.0.1", 8001)


def _split(target: str) -> tuple[str, bytes]:
    path, _, query = target.partition("?")
    return path, query.encode()


class InProcessSocket:
    """One WebSocket session with the app: frames in with :meth:`send_text`, out via a callback.

    ``on_send`` sees every ``websocket.send`` message the app sends (by default they queue up
    for :meth:`receive`); :attr:`closed` holds the app's close code once it closes.
    """

    def __init__(self, on_send: Callable[[Message], None] | None = None) -> None:
        loop = asyncio.get_running_loop()
        self.accepted: asyncio.Future[None] = loop.create_future()
        self.closed: int | None = None
        self._incoming: deque[Message] = deque([{"type": "websocket.connect"}])
        self._incoming_waiter: asyncio.Future[None] | None = None
        self._outgoing: deque[Message] = deque()
        self._outgoing_waiter: asyncio.Future[None] | None = None
        self._on_send = on_send
        self.task: asyncio.Task[None] | None = None
        #: The reason of the app's close frame, once it closed.
        self.close_reason = ""

    def _put(self, message: Message) -> None:
        self._incoming.append(message)
        waiter = self._incoming_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def send_text(self, text: str) -> None:
        """Hand the app one text frame (it reads it on its next ``receive``)."""
        self._put({"type": "websocket.receive", "text": text})

    def send_bytes(self, data: bytes) -> None:
        """Hand the app one binary frame."""
        self._put({"type": "websocket.receive", "bytes": data})

    def disconnect(self, code: int = 1000) -> None:
        """Tell the app the client went away."""
        self._put({"type": "websocket.disconnect", "code": code})

    async def receive(self) -> Message:
        """The next message the app sent (only without an ``on_send`` callback)."""
        while not self._outgoing:
            self._outgoing_waiter = asyncio.get_running_loop().create_future()
            await self._outgoing_waiter
        return self._outgoing.popleft()

    async def app_receive(self) -> Message:
        while not self._incoming:
            self._incoming_waiter = asyncio.get_running_loop().create_future()
            await self._incoming_waiter
        return self._incoming.popleft()

    async def app_send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "websocket.send":
            if self._on_send is not None:
                self._on_send(message)
                return
            self._outgoing.append(message)
            waiter = self._outgoing_waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        elif kind == "websocket.accept":
            self.accepted.set_result(None)
        elif kind == "websocket.close":
            self.closed = int(message.get("code", 1000))
            self.close_reason = str(message.get("reason") or "")
            if not self.accepted.done():
                self.accepted.set_exception(ConnectionError(f"refused: {message}"))


class InProcessApp:
    """An ASGI app with its lifespan started; HTTP and WebSocket calls on the running loop.

    Example:
        >>> async with InProcessApp(create_app()) as client:
        ...     status, body = await client.get("/healthz")
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._state: dict[str, Any] = {}
        self._lifespan_in: asyncio.Queue[Message] = asyncio.Queue()
        self._lifespan_out: asyncio.Queue[Message] = asyncio.Queue()
        self._lifespan: asyncio.Task[None] | None = None

    async def __aenter__(self) -> InProcessApp:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self._state}
        self._lifespan = asyncio.create_task(
            self.app(scope, self._lifespan_in.get, self._lifespan_out.put)
        )
        await self._lifespan_in.put({"type": "lifespan.startup"})
        reply = await self._lifespan_out.get()
        if reply["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"app start-up failed: {reply}")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._lifespan_in.put({"type": "lifespan.shutdown"})
        await self._lifespan_out.get()
        if self._lifespan is not None:
            await self._lifespan

    def _scope(
        self, kind: str, target: str, headers: list[tuple[bytes, bytes]], root_path: str = ""
    ) -> dict[str, Any]:
        path, query = _split(target)
        path = root_path + path  # ASGI: ``path`` includes the ``root_path``
        return {
            "type": kind,
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "scheme": "http" if kind == "http" else "ws",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": root_path,
            "headers": [(b"host", b"bench"), *headers],
            "client": _CLIENT,
            "server": _SERVER,
            "state": dict(self._state),
        }

    async def request(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> tuple[int, bytes]:
        """One HTTP request; the response's status and body.

        A body is sent as JSON unless ``headers`` name another ``content-type``.
        """
        extra = headers or []
        sent = [(b"content-length", str(len(body)).encode())] if body else []
        if body and all(name != b"content-type" for name, _ in extra):
            sent.append((b"content-type", b"application/json"))
        scope = {**self._scope("http", target, [*sent, *extra]), "method": method}
        sent_body = False
        done = asyncio.get_running_loop().create_future()
        status = 0
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and not done.done():
                    done.set_result(None)

        await self.app(scope, receive, send)
        return status, b"".join(chunks)

    async def get(self, target: str) -> tuple[int, bytes]:
        """``GET target``: status and body."""
        return await self.request("GET", target)

    async def websocket(
        self,
        target: str,
        on_send: Callable[[Message], None] | None = None,
        root_path: str = "",
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> InProcessSocket:
        """Open a WebSocket session to ``target`` (under ``root_path``, as a proxy that mounts
        the app there would); returns once the app accepted it.

        Raises:
            ConnectionError: the app closed instead of accepting.
        """
        socket = InProcessSocket(on_send)
        scope = {**self._scope("websocket", target, headers or [], root_path), "subprotocols": []}
        socket.task = asyncio.create_task(self.app(scope, socket.app_receive, socket.app_send))
        await socket.accepted
        return socket
