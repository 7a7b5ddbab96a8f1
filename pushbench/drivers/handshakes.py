"""Connection setup, one after another on a few lanes: what opening a connection costs.

Every message on an open connection pays TLS's record encryption; a client that connects pays
the handshake once more. To price the handshake on its own, each connection here is opened,
asked one ``GET`` (``Connection: close``) and read to its end, then the next one opens: the same
requests over plain TCP and over TLS differ by the handshake (and a few records). The client
times each (TCP connect to the response's end); the caller samples the server's CPU over the
whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from array import array
from urllib.parse import urlsplit

from pushbench.drivers.capacity import CapacityRun
from pushbench.harness.client_auth import auth_headers
from pushbench.harness.client_tls import client_ssl

__all__ = ["handshake_run"]

#: Connections in flight at once: enough to keep the server busy, few enough that each
#: connection's time is its own rather than a queue's.
LANES = 4


async def handshake_run(
    base_url: str, connections: int, path: str = "/", lanes: int = LANES
) -> CapacityRun:
    """Open ``connections`` connections to ``base_url`` (``http://`` or ``https://``), each
    with one ``GET path`` to the end; ``messages`` counts those answered, ``round_trips_ns``
    holds each one's setup-to-end time."""
    parts = urlsplit(base_url)
    tls = client_ssl(base_url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if tls is not None else 80)
    extra = "".join(f"{name}: {value}\r\n" for name, value in auth_headers().items())
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{extra}Connection: close\r\n\r\n"
    ).encode()
    times: array[int] = array("q")
    errors: list[str] = []
    left = [connections]

    async def lane() -> None:
        while left[0] > 0:
            left[0] -= 1
            start = time.perf_counter_ns()
            try:
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=tls, server_hostname=host if tls is not None else None
                )
                try:
                    writer.write(request)
                    answer = await reader.read()  # to EOF: the server closes after answering
                finally:
                    writer.close()
                    with contextlib.suppress(OSError):
                        await writer.wait_closed()
            except OSError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            if not answer.startswith(b"HTTP/1.1 "):
                errors.append(f"not an HTTP answer: {answer[:40]!r}")
                continue
            times.append(time.perf_counter_ns() - start)

    began = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(max(1, min(lanes, connections)))))
    elapsed = time.perf_counter() - began
    return CapacityRun(
        len(times),
        elapsed,
        dropped_connections=len(errors),
        round_trips_ns=times,
        errors=sorted(set(errors))[:5],
    )
