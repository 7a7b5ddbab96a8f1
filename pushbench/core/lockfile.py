"""The lock file (``requirements.lock``, pip-compile's hashed pins): read its pins, name its hash.

Pure: it parses text and hashes bytes; finding the file and comparing with what is installed
happens in :mod:`pushbench.harness.environment`.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

__all__ = ["LOCK_NAME", "lock_sha256", "normalize_name", "parse_pins"]

#: The lock file's name at the root of a checkout.
LOCK_NAME: Final = "requirements.lock"

_PIN_RE: Final = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)")


def normalize_name(name: str) -> str:
    """A distribution name as PEP 503 compares them: ``Flask_Login`` -> ``flask-login``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(text: str) -> dict[str, str]:
    """Normalised distribution name -> pinned version, one per ``name==version`` line.

    Hash continuation lines, comments and ``# via`` notes are skipped; so are the packages
    pip-compile leaves commented out (the project itself).
    """
    pins: dict[str, str] = {}
    for line in text.splitlines():
        match = _PIN_RE.match(line)
        if match is not None:
            pins[normalize_name(match["name"])] = match["version"]
    return pins


def lock_sha256(content: bytes) -> str:
    """``sha256:<hex>`` of the lock file's bytes, as results documents record it."""
    return "sha256:" + hashlib.sha256(content).hexdigest()
