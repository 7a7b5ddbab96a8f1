"""Size checks shared by every transport that accepts a message."""

from __future__ import annotations

from fastapi import HTTPException, Request, status

__all__ = ["read_bounded_body", "too_large"]


def too_large(data: str | bytes, max_bytes: int) -> bool:
    """Whether ``data`` (a WS text or bytes frame) is over ``max_bytes`` once UTF-8 encoded."""
    if isinstance(data, bytes):
        return len(data) > max_bytes
    # A str has at most 4 bytes per character: encode only when the cheap bounds disagree.
    if len(data) > max_bytes:
        return True
    return len(data) * 4 > max_bytes and len(data.encode()) > max_bytes


async def read_bounded_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refusing with 413 as soon as it passes ``max_bytes``.

    Reads the stream chunk by chunk, so a huge body is refused without ever being held in memory.
    """
    detail = f"message body is larger than the server's limit of {max_bytes} bytes"
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail)
        chunks.append(chunk)
    return b"".join(chunks)
