"""One atomic file write for every file a run leaves: results, reports, plans.

A browser, a CI step or a second command reading a file mid-write sees the old file or the new
one, never half of it: the content goes to a temporary file in the same directory, is flushed to
disk, made world-readable (``mkstemp`` creates it 0600; run output is meant to be shared) and
renamed over the target (``os.replace`` is atomic within one file system).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: str | os.PathLike[str], content: str | bytes) -> None:
    """Write ``content`` (text is UTF-8 encoded, no newline translation) to ``path`` atomically."""
    target = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
