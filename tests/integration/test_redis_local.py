"""The run's Redis probe: redis-py's own PING over the URL (passwords, TLS, unix sockets)."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pushbench.harness.redis_local import RedisUnavailable, ping, redis_for_run
from tests.redis_server import RedisServer


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def guarded_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own that requires a password."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path / "redis", password="s3cret")
    server.directory.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_redis_that_answers_is_used_as_it_is(redis_url: str, tmp_path: Path) -> None:
    assert ping(redis_url) is None
    with redis_for_run(redis_url, tmp_path) as (url, started):
        assert (url, started) == (redis_url, False)


def test_a_password_is_used_and_a_wrong_one_refused(
    guarded_redis: RedisServer, tmp_path: Path
) -> None:
    """What a raw PING on a socket could not do: authenticate (it got NOAUTH, read as down)."""
    good = f"redis://:s3cret@127.0.0.1:{guarded_redis.port}/0"
    assert ping(good) is None
    with redis_for_run(good, tmp_path) as (url, started):
        assert (url, started) == (good, False)
    wrong = f"redis://:wrong-pw@127.0.0.1:{guarded_redis.port}/0"
    assert ping(wrong) is not None
    with pytest.raises(RedisUnavailable) as error, redis_for_run(wrong, tmp_path):
        pass
    assert "wrong-pw" not in str(error.value)


def test_other_urls_are_asked_as_the_server_would(tmp_path: Path) -> None:
    assert ping(f"unix://{tmp_path}/no-such.sock") is not None
    assert ping("http://127.0.0.1:6379") is not None


def test_an_explicit_url_that_does_not_answer_is_an_error(tmp_path: Path) -> None:
    dead = f"redis://127.0.0.1:{_closed_port()}/0"
    with (
        pytest.raises(RedisUnavailable, match=r"no Redis answers at redis://127\.0\.0\.1:"),
        redis_for_run(dead, tmp_path),
    ):
        pass
