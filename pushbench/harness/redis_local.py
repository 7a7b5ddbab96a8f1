"""A Redis for a run: the one at a URL if it answers PING, else a private ``redis-server``.

The probe is redis-py's own ``PING`` over the URL, so a password, a ``rediss://`` (TLS) or a
``unix://`` URL is asked exactly as the server will connect (a raw ``PING`` on a socket could
neither authenticate nor speak TLS). The private server listens on a free loopback port, keeps
nothing on disk (``--save ""``, ``--appendonly no``) and lives exactly as long as the ``with``
block.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import redis

__all__ = ["DEFAULT_REDIS_URL", "RedisUnavailable", "ping", "redis_for_run"]

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class RedisUnavailable(RuntimeError):
    """No Redis answers and none could be started; the message says why."""


def ping(url: str, timeout_s: float = 1.0) -> str | None:
    """None when the Redis at ``url`` answers ``PING``, else why not (one line)."""
    try:
        client = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
    except ValueError as exc:
        return f"not a Redis URL: {exc}"
    try:
        client.ping()
    except redis.RedisError as exc:
        return str(exc) or type(exc).__name__
    finally:
        client.close()
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def redis_for_run(
    url: str | None, directory: Path, startup_timeout_s: float = 10.0
) -> Iterator[tuple[str, bool]]:
    """``(url, started)``: ``url`` (default :data:`DEFAULT_REDIS_URL`) when it answers, else a
    ``redis-server`` started here (``started`` is then true) and stopped when the block ends.

    An explicit ``url`` that does not answer is an error rather than silently replaced.

    Raises:
        RedisUnavailable: ``url`` was given and does not answer, or ``redis-server`` is missing
            or does not start.
    """
    refused = ping(url or DEFAULT_REDIS_URL)
    if refused is None:
        yield url or DEFAULT_REDIS_URL, False
        return
    if url is not None:
        parts = urlsplit(url)  # host and port only: the URL may hold a password
        where = f"{parts.scheme}://{parts.hostname or ''}:{parts.port or ''}"
        raise RedisUnavailable(f"no Redis answers at {where}: {refused}")
    executable = shutil.which("redis-server")
    if executable is None:
        raise RedisUnavailable(
            f"no Redis answers at {DEFAULT_REDIS_URL} and redis-server is not installed"
        )
    port = _free_port()
    directory.mkdir(parents=True, exist_ok=True)
    log_path = directory / "redis.log"
    args = [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    args += ["--appendonly", "no", "--dir", str(directory), "--daemonize", "no"]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        deadline = time.monotonic() + startup_timeout_s
        delay = 0.005
        while ping(f"redis://127.0.0.1:{port}/0") is not None:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-1000:]
                raise RedisUnavailable(f"redis-server on port {port} did not start:\n{tail}")
            # Readiness probe back-off: PING is the condition, the sleep only paces it.
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
        yield f"redis://127.0.0.1:{port}/0", True
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
