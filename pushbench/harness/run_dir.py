"""Where a run writes: ``<out>/<run-id>/``, and ``<out>/latest`` pointing at the newest run."""

from __future__ import annotations

import contextlib
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["new_run_dir", "new_run_id"]


def new_run_id(kind: str, now: datetime | None = None) -> str:
    """``20261124-135501-compare-3fa2``: sortable by time, unique enough for parallel runs."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{kind}-{secrets.token_hex(2)}"


def new_run_dir(out: Path, run_id: str) -> Path:
    """Create ``out/run_id`` and repoint ``out/latest`` at it (best effort)."""
    run_dir = out / run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    latest = out / "latest"
    with contextlib.suppress(OSError):
        tmp = out / f".latest-{run_id}"
        tmp.symlink_to(run_id, target_is_directory=True)
        os.replace(tmp, latest)
    return run_dir
