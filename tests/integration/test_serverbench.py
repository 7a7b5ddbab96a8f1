"""``pushbench serverbench`` end to end, tiny: one implementation, fractions of a second."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

from pushbench.core.histogram import (
    HIGHEST_TRACKABLE_US,
    LOWEST_TRACKABLE_US,
    SIGNIFICANT_FIGURES,
    LatencyHistogram,
)
from pushbench.core.schema import load_results
from tests.conftest import timeout
from tests.integration.cli import pushbench


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


def test_serverbench_scenarios_carry_intervals_that_add_up_to_the_whole_run(
    tmp_path: Path,
) -> None:
    """``--interval 0.25`` over 1 s measured: every scenario (echo, bare echo, fan-out, polls)
    has four intervals whose counts add up to its whole-run figures exactly and whose merged
    histograms are its whole-run histogram; the server is sampled in each; each gets an
    ``.hlog`` the HdrHistogram library reads back, and the report shows them over time."""
    result = pushbench(
        "serverbench", "--ws-impl",
            "websockets-sansio", "--connections", "4", "--subscribers", "5", "--duration", "1",
            "--warmup", "0.1", "--repeat", "1", "--idle", "0", "--pollers", "3",
            "--interval", "0.25", "--out", str(tmp_path),
        timeout_s=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    run_dir = (tmp_path / "latest").resolve()
    document = load_results(run_dir / "results.json")
    assert len(document.scenarios) == 5
    for scenario in document.scenarios:
        intervals = scenario.intervals
        assert scenario.interval_s == 0.25, scenario.name
        assert [i.start_s for i in intervals] == [0.0, 0.25, 0.5, 0.75]
        assert sum(i.sent for i in intervals) == scenario.sent > 0
        assert sum(i.delivered for i in intervals) == scenario.delivered
        assert sum(i.lost for i in intervals) == scenario.lost
        assert all(i.delivered > 0 for i in intervals), scenario.name
        merged = LatencyHistogram()
        for interval in intervals:
            merged.merge(LatencyHistogram.decode(interval.latency_us.histogram))
        assert merged.encode() == scenario.latency_us.histogram
        timed = scenario.name != "fanout/websockets-sansio"  # fan-out counts, not times
        assert (scenario.latency_us.count == scenario.delivered) == timed
        if scenario.http_requests is not None:
            assert sum(i.http_requests or 0 for i in intervals) == scenario.http_requests
        for interval in intervals:
            assert interval.server is not None
            assert interval.server.cpu_percent > 0
            assert interval.server.rss_bytes > 10_000_000
        reference = HdrHistogram(LOWEST_TRACKABLE_US, HIGHEST_TRACKABLE_US, SIGNIFICANT_FIGURES)
        log = run_dir / f"intervals-{scenario.name.replace('/', '-')}.hlog"
        reader = HistogramLogReader(str(log), reference)
        counts = []
        while (histogram := reader.get_next_interval_histogram()) is not None:
            counts.append(histogram.get_total_count())
        reader.close()
        assert counts == [i.latency_us.count for i in intervals]
    assert 'id="chart-overtime"' in (run_dir / "report.html").read_text()
    summary = (run_dir / "summary.md").read_text()
    assert "### Over time" in summary
    assert "- `echo/websockets-sansio/reference`: p99 per 0.25 s:" in summary


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
    result = pushbench(
        "serverbench", "--flavor", "fastapi",
            "--ws-impl", "websockets-sansio", "--connections", "4", "--subscribers", "5",
            "--duration", "0.3", "--warmup", "0.1", "--repeat", "1", "--idle", "0",
            "--pollers", "3", "--out", str(tmp_path),
        timeout_s=120,
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
