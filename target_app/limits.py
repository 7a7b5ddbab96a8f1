"""Size checks shared by every transport that accepts a message."""

from __future__ import annotations

from fastapi import HTTPException, Request, status
from starlette.requests import ClientDisconnect

from target_app.asgi_ws import Receive

__all__ = ["BodyTooLarge", "read_body_within", "read_bounded_body", "too_large"]


def too_large(data: str | bytes, max_bytes: int) -> bool:
    """Whether ``data`` (a WS text or bytes frame) is over ``max_bytes`` once UTF-8 encoded."""
    if isinstance(data, bytes):
        return len(data) > max_bytes
    # A str has at most 4 bytes per character: encode only when the cheap bounds disagree.
    if len(data) > max_bytes:
        return True
    return len(data) * 4 > max_bytes and len(data.encode()) > max_bytes


class BodyTooLarge(ValueError):
    """A request body over the size limit; ``detail`` says so to the client (413)."""

    def __init__(self, max_bytes: int) -> None:
        self.detail = f"message body is larger than the server's limit of {max_bytes} bytes"
        super().__init__(self.detail)


async def read_body_within(receive: Receive, declared: str | None, max_bytes: int) -> bytes | None:
    """The body of an ASGI HTTP request, refusing as soon as it passes ``max_bytes``.

    ``declared`` is the ``Content-Length`` header. Reads the stream message by message, so a
    huge body is refused without ever being held in memory. None: the client left first.

    Raises:
        BodyTooLarge: declared or found over ``max_bytes``.
    """
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(max_bytes)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None  # http.disconnect
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge(max_bytes)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def read_bounded_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refusing with 413 as soon as it passes ``max_bytes``."""
    try:
        body = await read_body_within(
            request.receive, request.headers.get("content-length"), max_bytes
        )
    except BodyTooLarge as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, exc.detail) from None
    if body is None:
        raise ClientDisconnect
    return body
