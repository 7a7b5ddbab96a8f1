"""Locust users against apps of their own, through ``--profile``: publishers write payload
tokens into what the app takes, subscribers find them in what it sends, and the merged results
count exactly what the app delivered (an injected gap and duplicate included).

Locust monkey-patches sockets with gevent on import: every run is a subprocess, and the checks
read the results.json it writes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pushbench.core.schema import ResultsDocument, load_results
from tests.conftest import timeout

ROOT = Path(__file__).parents[2]
ADAPTER = "examples.binary_relay_adapter:BinaryRelayAdapter"
FAST = ["--poll-interval", "0.2", "--long-poll-wait", "2", "--drain-timeout", "3"]


def _runner(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pushbench.locust", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout(120),
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _document(
    out: Path, completed: subprocess.CompletedProcess[str], code: int = 0
) -> ResultsDocument:
    assert completed.returncode == code, completed.stdout[-3000:] + completed.stderr[-5000:]
    (run_dir,) = [path for path in out.iterdir() if path.name != "latest"]
    return load_results(run_dir / "results.json")


@pytest.mark.slow
def test_a_swarm_measures_the_documented_chat_through_its_profile(tmp_path: Path) -> None:
    """Two Locust processes, results merged; what the chat does not offer is left out."""
    out = tmp_path / "reports"
    completed = _runner(
        "--app", "examples.docs_chat_app:app", "--profile", "fastapi-docs-chat",
        "--users", "6", "--spawn-rate", "20", "--duration", "3s", "--processes", "2",
        "--out", str(out), "--", "--publish-rate", "20", *FAST,
    )  # fmt: skip
    document = _document(out, completed)
    assert not document.errors
    assert document.config["workers"] == 2
    assert document.config["profile"] == "fastapi-docs-chat"
    assert document.config["server"]["app"] == "examples.docs_chat_app:app"
    assert document.config["skipped"] == {
        "WebSocketEchoUser": "'fastapi-docs-chat' offers no echo endpoint",
        "ShortPollUser": "'fastapi-docs-chat' offers no short-poll endpoint",
        "LongPollUser": "'fastapi-docs-chat' offers no long-poll endpoint",
        "SseUser": "'fastapi-docs-chat' offers no sse endpoint",
    }
    (ws,) = document.scenarios
    assert ws.name == "ws"
    assert ws.delivered == ws.sent > 20
    assert (ws.lost, ws.duplicated, ws.unexpected) == (0, 0, 0)
    assert ws.latency_us.count == ws.delivered  # one host, one clock: every delivery timed
    assert 0 < ws.latency_us.p50 < 100_000


@pytest.mark.slow
def test_locust_counts_the_gap_and_the_duplicate_a_binary_app_injects(tmp_path: Path) -> None:
    """The Python adapter under Locust: every subscriber misses message 4 and gets message 3
    twice, on every transport; the ``joined`` frame is unexpected, once per socket."""
    out = tmp_path / "reports"
    completed = _runner(
        "--app", "tests.apps.faulty_binary_relay:app", "--profile", ADAPTER,
        "--users", "4", "--spawn-rate", "50", "--duration", "3s", "--out", str(out),
        "--", "--publish-rate", "5", *FAST,
        "RoomPublisherUser", "WebSocketSubscriberUser", "ShortPollUser", "LongPollUser",
    )  # fmt: skip
    # Locust exits 1: the duplicates are failures of the MSG events, as with the reference.
    document = _document(out, completed, code=1)
    assert not document.errors
    scenarios = {s.name: s for s in document.scenarios}
    assert scenarios.keys() == {"ws", "short-poll@0.2", "long-poll"}
    for name, scenario in scenarios.items():
        assert scenario.sent > 8, name
        assert (scenario.lost, scenario.duplicated) == (1, 1), name
        assert scenario.delivered == scenario.sent - 1, name
        assert scenario.unexpected == (1 if name == "ws" else 0), name
        assert scenario.latency_us.count == scenario.delivered, name


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--app", "examples.docs_chat_app:app", "--profile", "fastapi-docs-chat", "--",
             "SseUser"],
            "pushbench: SseUser cannot run: 'fastapi-docs-chat' offers no sse endpoint",
        ),
        (
            ["--app", "examples.docs_chat_app:app", "--profile", "examples.nope:X"],
            'error: Error loading adapter. Could not import module "examples.nope".',
        ),
    ],
)  # fmt: skip
def test_what_the_profile_cannot_run_is_refused_with_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    completed = _runner("--users", "2", "--duration", "2s", "--out", str(tmp_path), *args)
    assert completed.returncode == 2, completed.stdout[-2000:] + completed.stderr[-3000:]
    assert message in " ".join(completed.stderr.split())


RELAY_PROFILE = """
name = "faulty-relay"
[ws]
path = "/listen"
[publish.http]
url = "/say"
body = '{"text": "{token} {payload}"}'
[short_poll]
url = "/log?since={cursor}"
messages = "/entries"
cursor = "/upto"
[long_poll]
url = "/log?since={cursor}&wait={wait}"
messages = "/entries"
cursor = "/upto"
[sse]
url = "/feed"
"""


@pytest.mark.slow
def test_a_toml_profile_publishing_over_http_is_counted_on_every_transport(
    tmp_path: Path,
) -> None:
    """tests/apps/faulty_relay.py drops message k when k % 7 == 4 and relays it twice when
    k % 5 == 3; one publisher, so k is its seq: what each subscriber lost and got twice is
    known from what it was owed and the first message it got (they all join before message 3,
    at 0.6 s; a short poll on a loaded machine may first hear of message 1 or 2)."""
    profile = tmp_path / "relay.toml"
    profile.write_text(RELAY_PROFILE)
    out = tmp_path / "reports"
    completed = _runner(
        "--app", "tests.apps.faulty_relay:app", "--app-dir", str(ROOT), "--profile", str(profile),
        "--users", "5", "--spawn-rate", "50", "--duration", "4s", "--out", str(out),
        "--", "--publish-rate", "5", *FAST,
        "RoomPublisherUser", "WebSocketSubscriberUser", "ShortPollUser", "LongPollUser", "SseUser",
        cwd=tmp_path,
    )  # fmt: skip
    document = _document(out, completed, code=1)  # duplicates are MSG failures
    assert not document.errors
    scenarios = {s.name: s for s in document.scenarios}
    assert scenarios.keys() == {"ws", "short-poll@0.2", "long-poll", "sse"}
    for name, scenario in scenarios.items():
        sent = scenario.sent
        assert sent > 12, name
        # A subscriber owes from the first message it got (seq 0..3: it joined before message 3,
        # a slow join may miss the first ones), so it owes messages first .. first + sent - 1.
        faults = {
            first: (
                sum(1 for k in range(first, first + sent) if k % 7 == 4),
                sum(1 for k in range(first, first + sent) if k % 5 == 3 and k % 7 != 4),
            )
            for first in range(4)
        }
        assert (scenario.lost, scenario.duplicated) in faults.values(), (name, faults)
        assert scenario.delivered == sent - scenario.lost, name
        # The listener's greeting holds no token: unexpected, once per WebSocket.
        assert scenario.unexpected == (1 if name == "ws" else 0), name
        assert scenario.latency_us.count == scenario.delivered, name


@pytest.mark.slow
def test_echo_users_time_round_trips_of_the_tutorial_app(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    completed = _runner(
        "--app", "examples.tutorial_app:app", "--profile", "tutorial",
        "--users", "2", "--spawn-rate", "10", "--duration", "2s", "--out", str(out),
        "--", "--echo-rate", "50",
    )  # fmt: skip
    document = _document(out, completed)
    assert not document.errors
    assert set(document.config["skipped"]) == {
        "RoomPublisherUser", "WebSocketSubscriberUser", "ShortPollUser", "LongPollUser", "SseUser",
    }  # fmt: skip
    (echo,) = document.scenarios
    assert echo.name == "echo"
    assert echo.latency_us.count > 50
    assert 0 < echo.latency_us.p50 < 50_000
