"""``pushbench serverbench`` end to end, tiny: one implementation, fractions of a second."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pushbench.core.schema import load_results
from tests.conftest import timeout


def test_tiny_serverbench_measures_echo_fanout_and_idle(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pushbench.cli.app",
            "serverbench",
            "--ws-impl",
            "websockets-sansio",
            "--connections",
            "4",
            "--subscribers",
            "5",
            "--duration",
            "0.5",
            "--warmup",
            "0.1",
            "--repeat",
            "2",
            "--idle",
            "400",
            "--pollers",
            "3",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=timeout(120),
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    document = load_results(tmp_path / "latest" / "results.json")
    assert document.kind == "serverbench"
    scenarios = {s.name: s for s in document.scenarios}
    assert set(scenarios) == {
        "echo/websockets-sansio/reference",
        "echo/websockets-sansio/bare",
        "fanout/websockets-sansio",
        "poll/reference",
        "poll/bare",
    }
    for name in ("echo/websockets-sansio/reference", "echo/websockets-sansio/bare"):
        echo = scenarios[name]
        assert echo.throughput_msgs_per_s > 100
        assert echo.latency_us.count > 0
        assert echo.errors == []
    fanout = scenarios["fanout/websockets-sansio"]
    assert fanout.throughput_msgs_per_s > 100
    assert fanout.errors == []
    assert 0 < fanout.params["idle_rss_bytes_per_connection"] < 1_000_000
    assert fanout.params["rounds"] == 2
    assert len(fanout.params["deliveries_per_s_by_round"]) == 2
    # The best round is the one reported.
    assert round(fanout.throughput_msgs_per_s) == max(fanout.params["deliveries_per_s_by_round"])
    bare = scenarios["echo/websockets-sansio/bare"]
    assert len(bare.params["round_trips_per_s_by_round"]) == 2
    assert 0 < bare.params["idle_rss_bytes_per_connection"] < 1_000_000
    for name in ("poll/reference", "poll/bare"):
        poll = scenarios[name]
        assert poll.transport == "short-poll"
        assert poll.throughput_msgs_per_s > 100
        assert poll.http_requests == poll.sent > 0
        assert poll.errors == []
        assert len(poll.params["requests_per_s_by_round"]) == 2
    assert "websockets-sansio" in result.stdout
    assert "short polls of a room's head" in result.stdout
    assert (tmp_path / "latest" / "report.html").exists()


def test_unknown_ws_impl_exits_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pushbench.cli.app",
            "serverbench",
            "--ws-impl",
            "tornado",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=timeout(60),
        check=False,
    )
    assert result.returncode == 2
    assert "tornado" in result.stderr


def test_serverbench_measures_the_reference_app_of_the_flavor_asked(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable, "-m", "pushbench.cli.app", "serverbench", "--flavor", "fastapi",
            "--ws-impl", "websockets-sansio", "--connections", "4", "--subscribers", "5",
            "--duration", "0.3", "--warmup", "0.1", "--repeat", "1", "--idle", "0",
            "--pollers", "3", "--out", str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=timeout(120),
        check=False,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = load_results(tmp_path / "latest" / "results.json")
    assert document.config["flavor"] == "fastapi"
    flavors = {s.name: s.params.get("flavor") for s in document.scenarios}
    assert flavors == {
        "echo/websockets-sansio/reference": "fastapi",
        "echo/websockets-sansio/bare": None,  # the bare app has no flavor
        "fanout/websockets-sansio": "fastapi",
        "poll/reference": "fastapi",
        "poll/bare": None,
    }
    assert all(s.throughput_msgs_per_s > 0 and s.errors == [] for s in document.scenarios)
    assert "reference server: fastapi flavor" in " ".join(result.stdout.split())


def test_unknown_flavor_exits_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pushbench.cli.app", "serverbench", "--flavor", "flask",
         "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=timeout(60),
        check=False,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 2
    assert "flavor" in result.stderr
