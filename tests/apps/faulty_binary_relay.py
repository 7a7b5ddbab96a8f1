"""``examples/binary_relay_app.py`` with one gap and one duplicate in every room: message 3 of a
room is relayed twice, message 4 never."""

from __future__ import annotations

from examples import binary_relay_app
from examples.binary_relay_app import app

__all__ = ["app"]

binary_relay_app.relay_count = lambda k: {3: 2, 4: 0}.get(k, 1)
