"""What Locust publishers send and subscribers read: the room message envelope, pure.

Latency of a pushed message is ``receive time - sent_ns``, both read from ``time.monotonic_ns``
(CLOCK_MONOTONIC: one clock for every process of a Linux host, containers included). Two
hosts' monotonic clocks are unrelated, so a subscriber only measures latency for messages
whose publisher ran on *its* clock; the publisher id carries a clock id (the kernel boot id,
the same in every process and container of one host) to tell. Messages from publishers on
other hosts still count for integrity; their latency is not recorded, and publish-to-push
round trips (``--publisher-round-trip``) measure what can be measured across hosts.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import orjson

__all__ = [
    "PUBLISHER_PREFIX",
    "Envelope",
    "Notice",
    "clock_id",
    "now_ns",
    "parse_message",
    "parse_object",
    "publish_frame",
    "publisher_id",
    "same_clock",
]

#: Publisher ids start with this; messages from anyone else (a browser in the room) are skipped.
PUBLISHER_PREFIX: Final = "pb."

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")

#: The clock every publisher and subscriber on one host shares.
now_ns = time.monotonic_ns


@lru_cache(maxsize=1)
def clock_id() -> str:
    """8 hex digits naming this host's monotonic clock: same value in every process on it.

    Linux: the kernel boot id (shared by containers on the host, new after a reboot, exactly
    when CLOCK_MONOTONIC restarts). Elsewhere: a hash of the host name, which is weaker (two
    machines with one name would compare clocks) but never true when it should be false.
    """
    try:
        source = _BOOT_ID.read_text().strip()
    except OSError:
        source = socket.gethostname()
    return hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()[:8]


def publisher_id(index: int, clock: str | None = None) -> str:
    """``pb.<clock>.<pid>.<index>``: unique across the processes and hosts of a swarm."""
    return f"{PUBLISHER_PREFIX}{clock or clock_id()}.{os.getpid()}.{index}"


def publish_frame(publisher: str, seq: int, sent_ns: int, payload: str) -> str:
    """The JSON text a publisher sends: ``{"publisher","seq","sent_ns","payload"}``."""
    return orjson.dumps(
        {"publisher": publisher, "seq": seq, "sent_ns": sent_ns, "payload": payload}
    ).decode()


@dataclass(frozen=True, slots=True)
class Envelope:
    """A message a pushbench publisher sent, as the server delivered it."""

    id: int
    publisher: str
    seq: int
    sent_ns: int


@dataclass(frozen=True, slots=True)
class Notice:
    """A control frame or event (``{"event": ...}``): ``missed``, ``error``, ``dropped``..."""

    event: str
    fields: dict[str, Any]

    @property
    def missed(self) -> int:
        """Messages the server says this subscriber missed (0 for other notices)."""
        value = self.fields.get("missed", 0)
        return value if isinstance(value, int) and value > 0 else 0


def parse_message(text: str | bytes) -> Envelope | Notice | None:
    """Read one pushed frame or polled message.

    Returns:
        An :class:`Envelope` for a message from a pushbench publisher, a :class:`Notice` for
        a control frame, or None for anything else (another client's message).

    Raises:
        ValueError: Not a JSON object, or a pushbench envelope with fields of the wrong type.
    """
    data = orjson.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    return parse_object(data)


def parse_object(data: dict[str, Any]) -> Envelope | Notice | None:
    """:func:`parse_message` for an already decoded object (a poll's ``messages`` item)."""
    event = data.get("event")
    if event is not None:
        return Notice(str(event), data)
    publisher = data.get("publisher")
    if not isinstance(publisher, str) or not publisher.startswith(PUBLISHER_PREFIX):
        return None
    message_id, seq, sent_ns = data.get("id"), data.get("seq"), data.get("sent_ns")
    if type(message_id) is not int or type(seq) is not int or type(sent_ns) is not int:
        raise ValueError(f"envelope from {publisher!r} lacks an integer id, seq or sent_ns")
    return Envelope(message_id, publisher, seq, sent_ns)


def same_clock(publisher: str, clock: str | None = None) -> bool:
    """Whether ``publisher`` stamped ``sent_ns`` on this host's clock."""
    return publisher.startswith(f"{PUBLISHER_PREFIX}{clock or clock_id()}.")
