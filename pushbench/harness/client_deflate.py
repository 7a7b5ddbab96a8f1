"""Whether the harness's WebSocket clients offer permessage-deflate (RFC 7692).

One variable for every client, as for TLS trust (:mod:`pushbench.harness.client_tls`):
``PUSHBENCH_WS_PER_MESSAGE_DEFLATE=1`` makes the raw-socket clients
(:mod:`pushbench.drivers.rawws`), the websockets-library drivers (publishers, echo, a profile's
publishers) and the Locust users (child processes inherit it) offer permessage-deflate and
compress what they send; unset, they offer nothing and every frame goes uncompressed, as before.
A command run with ``--ws-per-message-deflate`` starts its server with uvicorn's option of that
name and sets the variable for the run (:func:`offering`), so server and clients agree.

A client that offers and is declined fails its handshake rather than carry on uncompressed: a
figure labelled compressed must have been measured compressed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

__all__ = ["DEFLATE_ENV", "client_deflate", "offering", "websockets_compression"]

#: The environment variable: ``1`` (or ``true``) to offer permessage-deflate.
DEFLATE_ENV = "PUSHBENCH_WS_PER_MESSAGE_DEFLATE"


def client_deflate() -> bool:
    """Whether clients offer permessage-deflate; read at each call (once per connection)."""
    return os.environ.get(DEFLATE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def websockets_compression() -> Literal["deflate"] | None:
    """The ``compression`` argument of ``websockets``' ``connect`` that matches."""
    return "deflate" if client_deflate() else None


@contextmanager
def offering(on: bool) -> Iterator[None]:
    """Offer permessage-deflate (``on``) or not in every client of this process and its
    children, for the block."""
    before = os.environ.get(DEFLATE_ENV)
    os.environ[DEFLATE_ENV] = "1" if on else "0"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(DEFLATE_ENV, None)
        else:
            os.environ[DEFLATE_ENV] = before
