"""A scenario against an app of its own format, driven through a target profile and payload tokens:
latency is measured, and the faults the app injects are counted exactly (every transport)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvloop

from pushbench.core.kinds import Transport
from pushbench.core.server_config import ServerConfig
from pushbench.core.target_profile import BUILTIN_PROFILES, parse_profile
from pushbench.drivers.scenario import ScenarioSpec, run_scenario
from pushbench.harness.launcher import ServerProcess

ROOT = Path(__file__).parents[2]
SUBSCRIBERS = 3

RELAY: dict[str, Any] = {
    "name": "faulty-relay",
    "ws": {"path": "/listen"},
    "short_poll": {"url": "/log?since={cursor}", "messages": "/entries", "cursor": "/upto"},
    "long_poll": {
        "url": "/log?since={cursor}&wait={wait}",
        "messages": "/entries",
        "cursor": "/upto",
        "wait_s": 5,
    },
    "sse": {"url": "/feed"},
}
PUBLISH = {
    "http": {"http": {"url": "/say", "body": '{"text": "{token} {payload}"}'}},
    "ws": {"ws": {"path": "/talk", "frame": "{token}{payload}"}},
}


def _app(app: str, tmp_path: Path) -> ServerProcess:
    config = ServerConfig(app=app, app_dir=str(ROOT), health_path=None)
    return ServerProcess(config, tmp_path / "app.log")


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[ServerProcess]:
    """A fresh app per test: its message counter (and so its faults) starts at 0."""
    with _app("tests.apps.faulty_relay:app", tmp_path) as server:
        yield server


@pytest.mark.parametrize("publish", ["http", "ws"])
@pytest.mark.parametrize(
    "transport", [Transport.WS, Transport.SHORT_POLL, Transport.LONG_POLL, Transport.SSE]
)
def test_faults_an_app_injects_are_counted_exactly(
    relay: ServerProcess, transport: Transport, publish: str
) -> None:
    profile = parse_profile({**RELAY, "publish": PUBLISH[publish]}, "relay")
    spec = ScenarioSpec(
        transport=transport,
        rate_per_s=60,
        publishers=2,
        subscribers=SUBSCRIBERS,
        payload_bytes=16,
        duration_s=1.0,
        warmup_s=0.2,
        poll_interval_s=0.1 if transport == Transport.SHORT_POLL else None,
        profile=profile,
    )
    run = uvloop.run(run_scenario(relay.url, spec))
    assert run.errors == []
    sent = run.publish.sent_total
    assert sent == run.publish.attempted > 30
    dropped = sum(1 for k in range(sent) if k % 7 == 4)
    doubled = sum(1 for k in range(sent) if k % 5 == 3 and k % 7 != 4)
    counts = run.integrity
    assert counts.sent == sent * SUBSCRIBERS
    assert counts.lost == dropped * SUBSCRIBERS
    assert counts.delivered == (sent - dropped) * SUBSCRIBERS
    assert counts.duplicated == doubled * SUBSCRIBERS
    # The listener's greeting carries no token: one unexpected frame per WebSocket subscriber.
    assert counts.unexpected == (SUBSCRIBERS if transport == Transport.WS else 0)
    assert run.histogram.count > 0
    assert 0 < run.histogram.percentile_us(50) < 200_000
    assert spec.params()["profile"] == "faulty-relay"


@pytest.fixture
def docs_chat(tmp_path: Path) -> Iterator[ServerProcess]:
    with _app("examples.docs_chat_app:app", tmp_path) as server:
        yield server


def test_the_documented_fastapi_chat_is_measured_through_its_built_in_profile(
    docs_chat: ServerProcess,
) -> None:
    spec = ScenarioSpec(
        transport=Transport.WS,
        rate_per_s=100,
        publishers=2,
        subscribers=5,
        duration_s=1.0,
        warmup_s=0.2,
        profile=BUILTIN_PROFILES["fastapi-docs-chat"],
    )
    run = uvloop.run(run_scenario(docs_chat.url, spec))
    assert run.errors == []
    sent = run.publish.sent_total
    assert sent > 50
    assert run.integrity.sent == run.integrity.delivered == sent * 5
    assert run.integrity.lost == run.integrity.duplicated == run.integrity.unexpected == 0
    assert 0 < run.histogram.percentile_us(99) < 100_000


def test_a_transport_the_profile_does_not_offer_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="profile 'fastapi-docs-chat' offers no sse endpoint"):
        ScenarioSpec(transport=Transport.SSE, profile=BUILTIN_PROFILES["fastapi-docs-chat"])
