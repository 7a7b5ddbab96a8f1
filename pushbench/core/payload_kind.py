"""What the publishers put in a message's payload: compressible text, or random text.

The payload decides what permessage-deflate can do. ``text`` (the default, what every run before
this option published) is ``"x" * payload_bytes``: maximally compressible, a best case.
``random`` is fresh random bytes per message, base64-encoded so the envelope stays the JSON
string the reference server accepts: no repeats within or across messages for LZ77 to find, and
only the 6 bits of entropy per base64 character for Huffman coding to save (at most ~25 % of the
payload), a worst case. Fresh per message, because a payload repeated would compress to a few
bytes under context takeover however random it looked.

Pure: ``random.randbytes`` (not ``os.urandom``: no secret here, and a syscall per message would
cost the publisher more than the message).
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from typing import Final

__all__ = ["DEFAULT_PAYLOAD_KIND", "PAYLOAD_KINDS", "payload_maker"]

#: ``--payload`` choices.
PAYLOAD_KINDS: Final = ("text", "random")
#: What runs without ``--payload`` publish (and what documents without the param published).
DEFAULT_PAYLOAD_KIND: Final = "text"


def payload_maker(kind: str, size: int) -> Callable[[], str] | None:
    """A function giving each message's payload of ``size`` characters, or None for ``text``
    (one constant payload, ``"x" * size``, as before: no call per message).

    Raises:
        ValueError: ``kind`` is not one of :data:`PAYLOAD_KINDS`.
    """
    if kind not in PAYLOAD_KINDS:
        raise ValueError(f"unknown payload {kind!r}; choose one of {', '.join(PAYLOAD_KINDS)}")
    if kind == "text":
        return None
    raw = (size * 3 + 3) // 4  # base64 turns 3 bytes into 4 characters
    randbytes = random.randbytes
    encode = base64.b64encode

    def fresh() -> str:
        return encode(randbytes(raw)).decode("ascii")[:size]

    return fresh
