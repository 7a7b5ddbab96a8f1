"""Which uvicorn process this is: one of several workers or the only one.

uvicorn starts ``--workers N`` (N > 1) as ``multiprocessing`` *spawn* children of a supervisor;
spawn hands each child the supervisor's ``sys.argv``, so a worker can read the worker count its
supervisor was given (``--workers N`` or uvicorn's ``WEB_CONCURRENCY`` default). That is what
lets the app refuse the memory broker in a multi-worker server and share ``/metrics``.
gunicorn's workers (uvicorn workers under gunicorn's arbiter) are ``os.fork`` children, not
``multiprocessing`` ones, with the arbiter's ``sys.argv`` and ``WEB_CONCURRENCY`` default all the
same: the app is loaded in the worker, where gunicorn's arbiter module is imported.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import sys
import tempfile
from pathlib import Path

import psutil

__all__ = ["METRICS_DIR_PREFIX", "metrics_dir_for_workers", "uvicorn_worker_count"]

#: Multi-worker metrics directories are ``<tmp>/pushbench-metrics-<supervisor pid>-<start ms>``.
METRICS_DIR_PREFIX = "pushbench-metrics-"


def _workers_from_argv(argv: list[str]) -> int | None:
    for index, arg in enumerate(argv):
        value: str | None = None
        if arg == "--workers" and index + 1 < len(argv):
            value = argv[index + 1]
        elif arg.startswith("--workers="):
            value = arg.partition("=")[2]
        if value is not None:
            with contextlib.suppress(ValueError):
                return int(value)
    return None


def _gunicorn_worker() -> bool:
    """Whether this process is a worker forked by gunicorn's arbiter (``python -m gunicorn``)."""
    return "gunicorn.arbiter" in sys.modules and "gunicorn" in Path(sys.argv[0]).parts


def uvicorn_worker_count() -> int:
    """How many worker processes this process's uvicorn runs (1 when it is not a worker)."""
    if multiprocessing.parent_process() is None and not _gunicorn_worker():
        # uvicorn runs one worker in its own process: no spawn, no siblings.
        return 1
    count = _workers_from_argv(sys.argv)
    if count is None:
        with contextlib.suppress(ValueError):
            count = int(os.environ.get("WEB_CONCURRENCY", "1"))
    return max(1, count or 1)


def _run_key(pid: int) -> str | None:
    try:
        started = psutil.Process(pid).create_time()
    except psutil.Error:
        return None
    return f"{pid}-{round(started * 1000)}"


def metrics_dir_for_workers(base: Path | None = None) -> Path:
    """A metrics directory shared by the workers of this server run, and only them.

    Named after the supervisor (parent) process and its start time, so a restarted server
    never inherits old counts even if it gets the same pid. Directories of supervisors that are
    gone are removed on the way.
    """
    base = Path(base or tempfile.gettempdir())
    parent = os.getppid()
    key = _run_key(parent) or str(parent)
    for stale in base.glob(METRICS_DIR_PREFIX + "*"):
        pid_text = stale.name.removeprefix(METRICS_DIR_PREFIX).partition("-")[0]
        if not pid_text.isdigit():
            continue
        if _run_key(int(pid_text)) != stale.name.removeprefix(METRICS_DIR_PREFIX):
            shutil.rmtree(stale, ignore_errors=True)
    path = base / f"{METRICS_DIR_PREFIX}{key}"
    path.mkdir(parents=True, exist_ok=True)
    return path
