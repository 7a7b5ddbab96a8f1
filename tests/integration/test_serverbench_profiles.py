"""``pushbench serverbench`` on the user's app: the phases its profile offers, counted in payload
tokens against the bare floor; what it does not offer is skipped with the reason; a faulty echo's
lost, duplicated and unexpected replies are counted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pushbench.core.schema import load_results
from pushbench.core.server_config import ServerConfig
from pushbench.core.target_profile import BUILTIN_PROFILES
from pushbench.serverbench.run import ServerBenchConfig, run_serverbench
from tests.conftest import timeout

ROOT = Path(__file__).parents[2]
TINY = [
    "--ws-impl", "websockets-sansio", "--connections", "4", "--subscribers", "5",
    "--duration", "0.5", "--warmup", "0.1", "--repeat", "1", "--idle", "200", "--pollers", "3",
]  # fmt: skip


def _serverbench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pushbench.cli.app", "serverbench", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout(120),
        stdin=subprocess.DEVNULL,
    )


def test_the_tutorial_echo_is_measured_in_tokens_and_what_it_lacks_is_skipped(
    tmp_path: Path,
) -> None:
    result = _serverbench(
        "--app", "examples.tutorial_app:app", "--profile", "tutorial", *TINY, "--out", str(tmp_path)
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = load_results(tmp_path / "latest" / "results.json")
    scenarios = {s.name: s for s in document.scenarios}
    assert set(scenarios) == {"echo/websockets-sansio/app", "echo/websockets-sansio/bare"}
    for echo in scenarios.values():
        assert echo.throughput_msgs_per_s > 100
        assert echo.delivered == echo.sent == echo.latency_us.count > 50
        assert 0 < echo.latency_us.p50 <= echo.latency_us.p99 < 200_000
        assert echo.lost == echo.duplicated == echo.unexpected == 0
        assert echo.errors == []
        assert 0 < echo.params["idle_rss_bytes_per_connection"] < 1_000_000
    assert scenarios["echo/websockets-sansio/app"].params["profile"] == "tutorial"
    assert document.config["app"] == "examples.tutorial_app:app"
    assert document.config["flavor"] is None
    assert document.config["skipped"] == {
        "fanout": "profile 'tutorial' offers no ws endpoint to fan out to",
        "poll": "profile 'tutorial' offers no short-poll endpoint",
    }
    assert "fanout not measured: profile 'tutorial' offers no ws endpoint to fan out to" in (
        document.warnings
    )
    assert "app / bare" in result.stdout


def test_the_documented_chat_fans_out_in_tokens_only(tmp_path: Path) -> None:
    """Each subscriber gets every broadcast; the publisher's own "You wrote:" copy and nothing
    else of the app's counts, and nothing arrives without a token."""
    result = _serverbench(
        "--app", "examples.docs_chat_app:app", "--profile", "fastapi-docs-chat", *TINY,
        "--out", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = load_results(tmp_path / "latest" / "results.json")
    scenarios = {s.name: s for s in document.scenarios}
    assert set(scenarios) == {"echo/websockets-sansio/bare", "fanout/websockets-sansio"}
    fanout = scenarios["fanout/websockets-sansio"]
    assert fanout.throughput_msgs_per_s > 100
    assert fanout.unexpected == 0
    assert fanout.errors == []
    assert 0 < fanout.params["idle_rss_bytes_per_connection"] < 1_000_000
    assert set(document.config["skipped"]) == {"echo", "poll"}


def test_faults_of_an_echo_are_counted_lost_duplicated_and_unexpected(tmp_path: Path) -> None:
    """Closed-loop echo: a reply that does not come within the timeout is lost (the connection
    sends its next message), a second copy of an answered reply is duplicated, a frame without a
    token unexpected. The app answers frame n of a connection twice when n % 5 == 3, never when
    n % 7 == 4, with a notice first when n % 11 == 6; the counts follow, within one message per
    connection at each end of the measured interval."""
    connections = 2
    config = ServerBenchConfig(
        ws_impls=("websockets-sansio",),
        connections=connections,
        duration_s=1.5,
        warmup_s=0.2,
        repeat=1,
        idle_connections=0,
        pollers=0,
        server=ServerConfig(app="tests.apps.faulty_echo:app", app_dir=str(ROOT), health_path=None),
        pin=False,
        profile=BUILTIN_PROFILES["tutorial"].model_copy(update={"name": "faulty-echo"}),
        reply_timeout_s=0.1,
    )
    outcome = run_serverbench(config, tmp_path)
    scenarios = {s.name: s for s in outcome.document.scenarios}
    echo = scenarios["echo/websockets-sansio/app"]
    assert echo.errors == []
    sent = echo.sent
    assert sent == echo.delivered + echo.lost
    assert sent > 40 * connections
    slack = 2 * connections
    expected_lost = sent / 7
    expected_duplicated = sent / 5 * 6 / 7
    assert abs(echo.lost - expected_lost) <= slack, (echo.lost, sent)
    assert abs(echo.duplicated - expected_duplicated) <= slack, (echo.duplicated, sent)
    assert abs(echo.unexpected - sent / 11) <= slack, (echo.unexpected, sent)
    assert echo.latency_us.count == echo.delivered
    # The bare floor answers everything once.
    bare = scenarios["echo/websockets-sansio/bare"]
    assert bare.lost == bare.duplicated == bare.unexpected == 0
    assert bare.delivered == bare.sent > 100
