"""Minimal loopback clients for the live push-vs-poll benchmarks: a keep-alive HTTP/1.1 client
and a raw WebSocket subscriber/publisher (``pushbench.drivers.rawws``, frames by
``pushbench.drivers.wsframes``).

They cost little and the same for every transport, so the group's differences are the server's
and the transport's, not a client library's.
"""

from __future__ import annotations

import asyncio

from pushbench.drivers.rawws import RawClient, open_raw
from pushbench.drivers.wsframes import ZERO_MASK, Opcode, encode_frame

__all__ = ["HttpClient", "Publisher", "Subscriber"]


class HttpClient:
    """One keep-alive HTTP/1.1 connection; responses must carry ``Content-Length``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.requests = 0

    @classmethod
    async def open(cls, host: str, port: int) -> HttpClient:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    def send_get(self, target: str) -> None:
        """Write a ``GET`` without waiting for the answer (a long poll parks on the server)."""
        self.requests += 1
        self._writer.write(f"GET {target} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())

    async def read_response(self) -> tuple[int, bytes]:
        """The next response's status and body."""
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self._reader.readexactly(length)

    async def get(self, target: str) -> tuple[int, bytes]:
        """``GET target``: status and body."""
        self.send_get(target)
        return await self.read_response()

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()


class Subscriber:
    """A room WebSocket that resolves :meth:`expect`'s future once ``count`` more frames came."""

    def __init__(self) -> None:
        self.client: RawClient | None = None
        self.frames = 0
        self._target = 0
        self._done: asyncio.Future[None] | None = None

    async def open(self, url: str) -> Subscriber:
        self.client = await open_raw(url, on_frame=self._on_frame)
        return self

    def _on_frame(self, client: RawClient) -> None:
        # Counted here: RawClient adds a chunk's frames to its own count after the callbacks.
        self.frames += 1
        done = self._done
        if done is not None and self.frames >= self._target and not done.done():
            done.set_result(None)

    def expect(self, count: int) -> asyncio.Future[None]:
        """A future resolved when ``count`` more frames than so far have arrived."""
        self._target = self.frames + count
        self._done = asyncio.get_running_loop().create_future()
        return self._done

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


class Publisher:
    """A publish-only room socket (``?receive=false``) sending prebuilt frames."""

    def __init__(self, client: RawClient) -> None:
        self.client = client

    @classmethod
    async def open(cls, url: str) -> Publisher:
        return cls(await open_raw(url))

    def publish(self, texts: list[str]) -> None:
        """Send one text frame per text, in one write.

        Masked with a zero key: even C masking of a 64 KiB payload would be the client's cost,
        not the server's or the transport's.
        """
        frames = (encode_frame(Opcode.TEXT, text.encode(), mask=ZERO_MASK) for text in texts)
        self.client.send(b"".join(frames))

    def close(self) -> None:
        self.client.close()
