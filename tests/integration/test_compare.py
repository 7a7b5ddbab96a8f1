"""``pushbench compare`` end to end, and the sanity anchors its numbers must satisfy."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import uvloop
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

from pushbench.core.histogram import HIGHEST_TRACKABLE_US, LOWEST_TRACKABLE_US, SIGNIFICANT_FIGURES
from pushbench.core.schema import load_results
from pushbench.drivers.echo import run_echo
from pushbench.drivers.scenario import ScenarioSpec, run_scenario
from pushbench.harness.launcher import ServerProcess
from tests.conftest import ServerFactory, timeout

PUSHBENCH = [sys.executable, "-m", "pushbench.cli.app"]


@pytest.fixture
def server(default_server: ServerProcess) -> ServerProcess:
    """A harness test needs one server flavor, not each: the default one."""
    return default_server


def _pushbench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PUSHBENCH, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout(120),
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _only_run_dir(out: Path) -> Path:
    runs = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(runs) == 1, runs
    return runs[0]


def test_quick_compare_writes_a_valid_v1_document_with_every_transport_under_both_flavors(
    tmp_path: Path,
) -> None:
    """``make bench``'s shape, small: every transport under ``asgi`` and ``fastapi`` side by
    side, a verdict line per flavor, and the framework tax in every output."""
    out = tmp_path / "reports"
    result = _pushbench(
        "compare", "--quick", "--duration", "1", "--warmup", "0.3", "--out", str(out), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    run_dir = _only_run_dir(out)
    assert (out / "latest").resolve() == run_dir.resolve()
    document = load_results(run_dir / "results.json")
    assert document.kind == "compare"
    assert not document.interrupted
    names = [s.name for s in document.scenarios]
    plain = ["ws", "short-poll@0.1", "short-poll@1", "long-poll", "sse"]
    assert names == [f"{name}@{flavor}" for name in plain for flavor in ("asgi", "fastapi")]
    assert [s.params["flavor"] for s in document.scenarios] == ["asgi", "fastapi"] * 5
    assert document.config["flavors"] == ["asgi", "fastapi"]
    assert {s.transport for s in document.scenarios} == {"ws", "short-poll", "long-poll", "sse"}
    for scenario in document.scenarios:
        assert scenario.sent > 0
        assert (scenario.delivered, scenario.lost, scenario.duplicated) == (scenario.sent, 0, 0)
        assert scenario.latency_us.count > 0
        assert scenario.server is not None
        assert scenario.server.cpu_s > 0
        assert scenario.server.rss_peak_bytes > 10_000_000
        assert scenario.generator is not None
        assert (scenario.http_requests is None) == (scenario.transport == "ws")
        assert (run_dir / f"server-{scenario.name}.log").exists()
    # results.json: the tax per scenario, and how CPU was read.
    assert [row.scenario for row in document.framework_tax] == plain
    for row in document.framework_tax:
        assert row.asgi_cpu_us_per_delivered_msg is not None
        assert row.fastapi_cpu_us_per_delivered_msg is not None
        assert row.tax_cpu_us_per_delivered_msg == pytest.approx(
            row.fastapi_cpu_us_per_delivered_msg - row.asgi_cpu_us_per_delivered_msg
        )
        polling = row.transport in ("short-poll", "long-poll")
        assert (row.tax_cpu_us_per_http_request is not None) == polling
    assert document.environment.cpu_clocks is not None
    # The terminal: both flavors' rows, the tax table, a verdict line per flavor.
    for name in names:
        assert name in result.stdout
    assert "framework tax: fastapi minus asgi server CPU" in result.stdout
    lines = result.stdout.splitlines()
    assert sum(line.startswith("asgi flavor: WebSocket push delivered") for line in lines) == 1
    assert sum(line.startswith("fastapi flavor: WebSocket push delivered") for line in lines) == 1
    assert any(line.startswith("Framework tax (fastapi − asgi server CPU): ws ") for line in lines)
    assert "CPU read per process in ns" in " ".join(result.stdout.split())
    summary = (run_dir / "summary.md").read_text()
    assert "- asgi flavor: " in summary
    assert "- fastapi flavor: " in summary
    assert "### Framework tax" in summary
    assert "CPU read per process in ns" in summary
    html = (run_dir / "report.html").read_text()
    assert 'id="chart-tax"' in html
    assert 'id="framework-tax"' in html


def test_one_flavor_narrows_the_run(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    result = _pushbench(
        "compare", "--quick", "--flavor", "fastapi", "--transports", "ws,sse",
        "--duration", "0.5", "--warmup", "0.1", "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = load_results(_only_run_dir(out) / "results.json")
    assert [s.name for s in document.scenarios] == ["ws@fastapi", "sse@fastapi"]
    assert document.framework_tax == []  # one flavor: nothing to subtract
    assert "fastapi flavor: WebSocket push delivered" in result.stdout
    assert "framework tax" not in result.stdout


def test_compare_records_intervals_and_writes_an_interval_log(tmp_path: Path) -> None:
    """``--interval 0.5`` over 2 s measured (``--quick``): four intervals per scenario, each
    with its counters, latency and the server sampled on the same clock; and an ``.hlog`` the
    HdrHistogram library's own reader reads back to the same counts."""
    out = tmp_path / "reports"
    result = _pushbench(
        "compare", "--quick", "--flavor", "asgi", "--transports", "ws,long-poll",
        "--interval", "0.5", "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    run_dir = _only_run_dir(out)
    document = load_results(run_dir / "results.json")
    assert document.schema_version == 2
    for scenario in document.scenarios:
        assert scenario.interval_s == 0.5
        assert [i.start_s for i in scenario.intervals] == [0.0, 0.5, 1.0, 1.5]
        assert sum(i.latency_us.count for i in scenario.intervals) == scenario.latency_us.count
        assert all(i.sent > 0 and i.delivered == i.sent for i in scenario.intervals)
        polling = scenario.transport == "long-poll"
        assert all((i.http_requests is not None) == polling for i in scenario.intervals)
        for interval in scenario.intervals:
            assert interval.server is not None
            assert interval.server.rss_bytes > 10_000_000
            assert interval.server.connections is not None
            assert interval.server.connections >= 10  # --quick: 10 subscribers
        reference = HdrHistogram(LOWEST_TRACKABLE_US, HIGHEST_TRACKABLE_US, SIGNIFICANT_FIGURES)
        reader = HistogramLogReader(str(run_dir / f"intervals-{scenario.name}.hlog"), reference)
        counts = []
        while (histogram := reader.get_next_interval_histogram()) is not None:
            counts.append(histogram.get_total_count())
        reader.close()
        assert counts == [i.latency_us.count for i in scenario.intervals]
    html = (run_dir / "report.html").read_text()
    assert 'id="chart-overtime"' in html
    assert "### Over time" in (run_dir / "summary.md").read_text()


@pytest.mark.timing
def test_calibration_delay_comes_back_as_that_delay(server: ServerProcess) -> None:
    """``/ws?delay_ms=D`` is measured as D (over the undelayed round trip) within max(0.3 ms, 5%).

    D >= 20 ms: on a VM an idle client wakes a few hundred µs late after a pause of a few ms,
    which the harness rightly measures but which is not the server's delay (see README).
    """
    base = uvloop.run(
        run_echo(server.ws_url, connections=1, duration_s=0.5, warmup_s=0.1, interval_s=0.25)
    )
    # Its round trips by send time, two intervals that merge to the whole run exactly.
    assert base.intervals is not None
    assert sum(base.intervals.sent) == base.round_trips == base.histogram.count
    assert len(base.intervals.histograms) == 2
    assert base.intervals.whole().encode() == base.histogram.encode()
    base_ms = base.histogram.percentile_us(50) / 1000
    for delay_ms in (20, 50):
        run = uvloop.run(
            run_echo(server.ws_url, connections=1, duration_s=1.0, warmup_s=0.1, delay_ms=delay_ms)
        )
        assert run.errors == []
        measured = run.histogram.percentile_us(50) / 1000 - base_ms
        assert abs(measured - delay_ms) <= max(0.3, 0.05 * delay_ms), (delay_ms, measured)


@pytest.mark.timing
@pytest.mark.parametrize(("interval_s", "duration_s"), [(0.1, 3.0), (1.0, 4.0)])
def test_short_poll_mean_latency_is_half_the_interval_plus_a_round_trip(
    server: ServerProcess, interval_s: float, duration_s: float
) -> None:
    rtt = uvloop.run(run_echo(server.ws_url, connections=1, duration_s=0.3, warmup_s=0.05))
    rtt_us = rtt.histogram.summary()["mean"]
    # 37/s is not a multiple of either interval: arrivals fall evenly across the poll period.
    spec = ScenarioSpec(
        "short-poll",
        poll_interval_s=interval_s,
        rate_per_s=37.0,
        publishers=1,
        subscribers=8,
        duration_s=duration_s,
        warmup_s=0.2,
    )
    run = uvloop.run(run_scenario(server.url, spec))
    assert run.errors == []
    assert run.integrity.lost == 0
    expected_us = interval_s * 1e6 / 2 + rtt_us
    mean_us = run.histogram.summary()["mean"]
    assert abs(mean_us - expected_us) <= 0.1 * expected_us, (mean_us, expected_us)


def test_ctrl_c_keeps_what_was_measured(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    process = subprocess.Popen(
        [
            *PUSHBENCH,
            "compare",
            "--transports",
            "ws,sse",
            "--duration",
            "30",
            "--warmup",
            "0.2",
            "--subscribers",
            "5",
            "--rate",
            "50",
            "--out",
            str(out),
        ],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        # Progress lines (one per 10% on a pipe): interrupt once publishing is under way.
        for line in process.stderr:
            if "ws@asgi: 10%" in line:
                break
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=timeout(60))
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    document = load_results(_only_run_dir(out) / "results.json")
    assert document.interrupted
    assert [s.name for s in document.scenarios] == ["ws@asgi"]
    assert document.scenarios[0].delivered > 0
    assert any("interrupted" in e for e in document.scenarios[0].errors)


def test_dead_target_is_a_clear_error_and_results_are_still_written(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        result = _pushbench(
            "compare",
            "--quick",
            "--transports",
            "ws,short-poll",
            "--target",
            f"http://127.0.0.1:{port}",
            "--out",
            str(tmp_path / "r"),
            cwd=tmp_path,
        )
    assert result.returncode == 1
    assert "refused" in result.stderr.lower() or "connect" in result.stderr.lower()
    document = load_results(_only_run_dir(tmp_path / "r") / "results.json")
    assert all(s.errors for s in document.scenarios)
    assert all(s.delivered == 0 for s in document.scenarios)


def test_a_target_killed_mid_run_fails_compare_and_the_gate(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """The server dies while the publishers are on schedule: the publishes that failed are
    counted (attempted > sent), the scenario error says when, ``compare`` exits 1 and
    ``pushbench gate`` on the results it wrote says "run complete: no" and exits 1."""
    server = start_server()
    out = tmp_path / "reports"
    process = subprocess.Popen(
        [
            *PUSHBENCH, "compare", "--target", server.url, "--transports", "ws",
            "--duration", "3", "--warmup", "0.2", "--subscribers", "5", "--rate", "200",
            "--no-pin", "--out", str(out),
        ],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        # Progress lines (one per 10 % on a pipe): kill the target once publishing is under way.
        for line in process.stderr:
            if "ws: 20%" in line:
                break
        os.killpg(server.pid, signal.SIGKILL)  # the whole server, as a crash or an OOM kill would
        stdout, stderr = process.communicate(timeout=timeout(60))
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, stderr
    results = _only_run_dir(out) / "results.json"
    document = load_results(results)
    assert not document.interrupted
    [ws] = document.scenarios
    assert ws.publishes_attempted is not None
    assert ws.publishes_sent is not None
    assert ws.publishes_attempted == 640  # 3.2 s x 200/s: the whole schedule was attempted
    assert 0 < ws.publishes_sent < ws.publishes_attempted
    assert ws.sent == 5 * ws.publishes_sent  # deliveries owed: the sent messages only
    assert any(e.startswith("publishing failed ") for e in ws.errors), ws.errors
    # The terminal says what happened: the row and the finding.
    assert f"{ws.publishes_sent:,} / {ws.publishes_attempted:,}" in stdout
    assert f"{ws.publishes_failed:,} of {ws.publishes_attempted:,} publishes failed" in stderr
    gate = _pushbench("gate", str(results), cwd=tmp_path)
    assert gate.returncode == 1, gate.stdout + gate.stderr
    assert re.search(r"run complete\s*│\s*no\s*│\s*complete\s*│\s*FAIL", gate.stdout), gate.stdout
    assert f"ws: {ws.publishes_failed:,} of {ws.publishes_attempted:,} publishes failed" in (
        " ".join(gate.stdout.split())
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--transports", "ws,carrier-pigeon"], "carrier-pigeon"),
        (["--poll-interval", "fast"], "--poll-interval"),
        (["--poll-interval", "0"], "> 0"),
        (["--workers", "2"], "memory"),
        (["--ws-impl", "nope"], "ws_impl"),
        (["--broker", "kafka://x"], "unknown broker"),
        (["--flavor", "asgi,flask"], "unknown --flavor flask"),
        (["--target", "http://127.0.0.1:9", "--flavor", "asgi,fastapi"], "one --flavor"),
    ],
)
def test_bad_options_exit_2_with_the_reason(tmp_path: Path, args: list[str], message: str) -> None:
    result = _pushbench("compare", *args, "--out", str(tmp_path / "r"), cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "r").exists()


def test_the_server_is_sampled_over_the_publishing_phase_only(
    start_server: ServerFactory,
) -> None:
    """``on_publishing`` brackets exactly the phase the generator's CPU covers: every subscriber
    is connected before it opens, and it closes before the subscribers are torn down."""
    server = start_server()  # its own: no other test's streams in its gauge
    spec = ScenarioSpec("sse", rate_per_s=50, subscribers=20, duration_s=0.5, warmup_s=0.1)
    events: list[tuple[bool, int]] = []

    def on_publishing(started: bool) -> None:
        # Server-side SSE streams open at that moment (the gauge counts them).
        events.append((started, _open_sse_streams(server)))

    run = uvloop.run(run_scenario(server.url, spec, on_publishing=on_publishing))
    assert run.errors == []
    assert events == [(True, 20), (False, 20)]


def _open_sse_streams(server: ServerProcess) -> int:
    import urllib.request

    with urllib.request.urlopen(f"{server.url}/metrics", timeout=timeout(10)) as response:
        text = response.read().decode()
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("pushbench_connections_open") and 'transport="sse"' in line
    )
