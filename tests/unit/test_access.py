"""The access rules on their own (no sockets): Origin allow-list, bearer token, publish buckets."""

from __future__ import annotations

import pytest

from target_app import access as access_module
from target_app.access import UNLIMITED, Access, PublishBucket
from target_app.settings import Settings

HOST = "chat.example:8001"


@pytest.mark.parametrize(
    "origin",
    [
        None,  # not a browser
        "http://chat.example:8001",  # same host, http
        "https://chat.example:8001",  # same host, https
        "HTTP://Chat.Example:8001/",  # case and a trailing slash do not matter
        "http://localhost:3000",
        "http://127.0.0.1",
        "https://[::1]:9999",
    ],
)
def test_default_origins_allowed(origin: str | None) -> None:
    assert Access(Settings()).origin_allowed(origin, HOST)


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "http://chat.example",  # another port is another origin
        "http://chat.example:8001.evil.example",
        "http://localhost.evil.example",
        "null",  # sandboxed iframes, file: pages
        "ftp://127.0.0.1",
        "http://[::1",  # not even a URL
    ],
)
def test_default_origins_refused(origin: str) -> None:
    assert not Access(Settings()).origin_allowed(origin, HOST)


def test_an_origin_without_a_host_header_is_never_same_host() -> None:
    assert not Access(Settings()).origin_allowed("http://chat.example:8001", None)


def test_configured_list_replaces_the_defaults() -> None:
    rules = Access(Settings(allowed_origins="https://app.example, same-host"))  # type: ignore[arg-type]
    assert rules.origin_allowed("https://app.example", HOST)
    assert rules.origin_allowed("http://chat.example:8001", HOST)
    assert not rules.origin_allowed("http://localhost:3000", HOST)  # loopback no longer listed
    assert not rules.origin_allowed("https://app.example:444", HOST)


def test_star_allows_every_origin() -> None:
    assert Access(Settings(allowed_origins=("*",))).origin_allowed("null", HOST)


def test_comma_separated_environment_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUSHBENCH_ALLOWED_ORIGINS", "https://a.example , loopback")
    assert Settings().allowed_origins == ("https://a.example", "loopback")


def test_no_token_configured_admits_everyone() -> None:
    rules = Access(Settings())
    assert not rules.token_required
    assert rules.authorized(None, b"")


@pytest.mark.parametrize(
    ("authorization", "query", "admitted"),
    [
        ("Bearer s3cret", b"", True),
        ("bearer  s3cret ", b"", True),
        (None, b"token=s3cret", True),
        (None, b"after=3&token=s3cret", True),
        (None, b"", False),
        ("Bearer wrong", b"", False),
        ("Basic s3cret", b"", False),
        ("Bearer s3cre", b"", False),
        (None, b"token=", False),
        (None, b"mytoken=s3cret", False),
    ],
)
def test_token(authorization: str | None, query: bytes, admitted: bool) -> None:
    rules = Access(Settings(auth_token="s3cret"))  # type: ignore[arg-type]
    assert rules.token_required
    assert rules.authorized(authorization, query) is admitted


def test_non_ascii_tokens_match_and_never_crash() -> None:
    rules = Access(Settings(auth_token="p€ss"))  # type: ignore[arg-type]
    assert rules.authorized(None, b"token=p%E2%82%ACss")
    assert rules.authorized("Bearer p€ss".encode().decode("latin-1"), b"")  # as ASGI decodes it
    assert not rules.authorized(None, b"token=%E2%82%AC")
    assert not rules.authorized(None, b"token=%FF%FE")  # not UTF-8


def test_the_token_never_shows_in_the_settings_repr() -> None:
    assert "s3cret" not in repr(Settings(auth_token="s3cret"))  # type: ignore[arg-type]


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(access_module, "_now", fake)
    return fake


def test_message_bucket_allows_the_burst_then_refills_at_the_rate(clock: FakeClock) -> None:
    bucket = PublishBucket(rate_per_s=10, bytes_per_s=0, burst_s=2.0, min_bytes=64)
    assert all(bucket.take(100) for _ in range(20))
    assert not bucket.take(1)
    assert bucket.retry_after_s(1) == 1
    clock.now_s += 0.5  # 5 messages' worth
    assert sum(bucket.take(1) for _ in range(10)) == 5


def test_byte_bucket_limits_bytes_whatever_the_message_count(clock: FakeClock) -> None:
    bucket = PublishBucket(rate_per_s=0, bytes_per_s=1000, burst_s=1.0, min_bytes=64)
    assert bucket.take(600)
    assert not bucket.take(600)  # refused, and not charged
    assert bucket.take(400)
    assert not bucket.take(1)
    assert bucket.retry_after_s(3000) == 3
    clock.now_s += 10.0  # refills only up to the burst
    assert bucket.take(1000)
    assert not bucket.take(1)


def test_byte_bucket_always_holds_one_largest_message(clock: FakeClock) -> None:
    bucket = PublishBucket(rate_per_s=0, bytes_per_s=100, burst_s=1.0, min_bytes=65536)
    assert bucket.take(65536)


def test_one_shared_unlimited_bucket_when_both_rates_are_off(clock: FakeClock) -> None:
    rules = Access(Settings(publish_rate_per_s=0, publish_bytes_per_s=0))
    assert not rules.limits_publishing
    bucket = rules.publisher_bucket()
    assert bucket is UNLIMITED
    assert all(bucket.take(1 << 30) for _ in range(1000))


def test_default_limits_are_on_and_say_so() -> None:
    rules = Access(Settings())
    assert rules.limits_publishing
    assert rules.publisher_bucket() is not UNLIMITED
    assert rules.rate_limit_reason.startswith("publish rate limit exceeded: 100000 messages/s")
    assert len(rules.rate_limit_reason.encode()) <= 123  # fits a close frame's reason
