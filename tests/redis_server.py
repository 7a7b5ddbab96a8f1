"""A real Redis for the tests: the machine's own on 127.0.0.1:6379, or one started here.

Registered as a pytest plugin from ``tests/conftest.py``. Fixtures:

* ``redis_url``: the machine's Redis if it answers PING, else a private ``redis-server`` on a
  free loopback port for the session; the tests skip (with the reason) only when neither exists.
* ``redis_prefix``: a fresh key prefix per test, so tests never see each other's rooms on a
  shared Redis; its keys are deleted afterwards.
* ``private_redis``: always a ``redis-server`` of the test's own, which the test may kill and
  start again on the same port (outage tests).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["RedisServer", "ping", "redis_command"]

_TIMEOUT_FACTOR = float(os.environ.get("PUSHBENCH_TIMEOUT_FACTOR", "1"))
MACHINE_REDIS = ("127.0.0.1", 6379)


def _encode(*args: str) -> bytes:
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def redis_command(host: str, port: int, *args: str, timeout_s: float = 2.0) -> bytes:
    """Send one command over a fresh connection; the raw first reply line(s), up to 64 KiB."""
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.sendall(_encode(*args))
        return sock.recv(65536)


def ping(host: str, port: int) -> bool:
    """Whether a Redis answers PING at host:port."""
    try:
        return redis_command(host, port, "PING", timeout_s=1.0).startswith(b"+PONG")
    except OSError:
        return False


def _answers(host: str, port: int) -> bool:
    """Whether a Redis is up at host:port: PONG, or NOAUTH from one that wants a password."""
    try:
        reply = redis_command(host, port, "PING", timeout_s=1.0)
    except OSError:
        return False
    return reply.startswith((b"+PONG", b"-NOAUTH"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """A ``redis-server`` child process on loopback that can be killed and started again."""

    def __init__(
        self, directory: Path, *, persistent: bool = False, password: str | None = None
    ) -> None:
        self.directory = directory
        self.port = _free_port()
        #: With persistence (append-only file, fsync always) a restart keeps every key.
        self.persistent = persistent
        #: With a password (``--requirepass``), clients must authenticate; :meth:`start` checks
        #: readiness by the server's NOAUTH answer instead of PONG.
        self.password = password
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (or start again, on the same port) and wait until it answers PING."""
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError("redis-server is not installed")
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if self.persistent
            else ["--appendonly", "no"]
        )
        args = [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += [*persistence, "--dir", str(self.directory), "--daemonize", "no"]
        if self.password is not None:
            args += ["--requirepass", self.password]
        log = (self.directory / "redis.log").open("ab")
        with log:
            self._process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + 10 * _TIMEOUT_FACTOR
        delay = 0.005
        while not _answers("127.0.0.1", self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                tail = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server on port {self.port} did not start:\n{tail}")
            # Readiness probe back-off: PING is the condition, the sleep only paces it.
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def kill(self) -> None:
        """SIGKILL, as a crash would: clients see their connections reset."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(10)

    def pause(self) -> None:
        """SIGSTOP, as a hung Redis: connections stay open, nothing answers."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Stop for good (idempotent)."""
        self.kill()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis for the session: the machine's, or a private one when none answers."""
    if ping(*MACHINE_REDIS):
        yield "redis://{}:{}/0".format(*MACHINE_REDIS)
        return
    if shutil.which("redis-server") is None:
        pytest.skip("no Redis answers on 127.0.0.1:6379 and redis-server is not installed")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix no other test uses; its keys are removed after the test."""
    prefix = f"pbtest-{uuid.uuid4().hex[:10]}:"
    yield prefix
    host_port = redis_url.removeprefix("redis://").partition("/")[0]
    host, _, port = host_port.rpartition(":")
    script = "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end"
    with contextlib.suppress(OSError):
        redis_command(host, int(port), "EVAL", script, "0", prefix + "*")


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own (no persistence), killed after the test."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path / "redis")
    server.directory.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()
