"""Where Debian's Chromium is and how to start it here (browser tests, report screenshots)."""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["CHROMIUM_ARGS", "find_chromium"]

#: Headless, and no connection out of the machine: without the background-networking flags
#: Chromium's own connections are refused by a closed network, many at a time.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def find_chromium() -> str | None:
    """Debian's Chromium: ``/usr/bin/chromium``, else ``chromium`` on PATH (``None``: absent)."""
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return shutil.which("chromium")
