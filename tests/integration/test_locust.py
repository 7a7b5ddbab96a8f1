"""Locust swarms against the real reference server.

Locust monkey-patches sockets with gevent on import, which would break this process's asyncio
tests: everything that imports Locust runs in a subprocess, and the checks read the files it
writes (results.json, Locust's CSV, raw samples dumped by ``--pushbench-dump-samples``).
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from pushbench.core.histogram import LatencyHistogram
from pushbench.core.schema import ResultsDocument, load_results
from pushbench.drivers.wshandshake import HandshakeError
from pushbench.harness.launcher import ServerProcess
from pushbench.locust.ws_client import ConnectionClosed, connect
from tests.conftest import timeout

LOCUSTFILE = Path(__file__).parents[2] / "loadtests" / "locustfile.py"
PUSH_SCENARIOS = {"ws", "sse", "long-poll", "short-poll@0.2"}
#: Options of every run: fast polls and a short drain keep each run to a few seconds.
COMMON = [
    "--poll-interval", "0.2", "--long-poll-wait", "2",
    "--publish-rate", "20", "--drain-timeout", "3",
]  # fmt: skip


@pytest.fixture
def server(default_server: ServerProcess) -> ServerProcess:
    """A harness test needs one server flavor, not each: the default one."""
    return default_server


def _room() -> str:
    return f"locust-{uuid.uuid4().hex[:10]}"


def _locust(*args: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *args]


def _run(command: list[str], limit_s: float = 60) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout(limit_s), check=False
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-5000:]
    return completed


def _free_port() -> int:
    # Locust binds its own port: the only way to give it a free one (a tiny race, loopback).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _check_push_scenarios(document: ResultsDocument) -> None:
    scenarios = {scenario.name: scenario for scenario in document.scenarios}
    assert PUSH_SCENARIOS | {"echo"} <= scenarios.keys(), scenarios.keys()
    for name in PUSH_SCENARIOS:
        scenario = scenarios[name]
        assert scenario.delivered > 0, name
        assert (scenario.lost, scenario.duplicated, scenario.unexpected) == (0, 0, 0), name
        assert scenario.delivered == scenario.sent, name
        # One host, one clock: every delivery was timed.
        assert scenario.latency_us.count == scenario.delivered, name
        # The intervals (the local runner's or the master's) partition the run.
        assert sum(i.latency_us.count for i in scenario.intervals) == scenario.delivered, name
        assert sum(i.sent for i in scenario.intervals) == scenario.sent, name
    assert scenarios["ws"].http_requests is None
    assert scenarios["long-poll"].http_requests
    echo = scenarios["echo"]
    assert echo.delivered == echo.sent == echo.latency_us.count > 0


def test_ws_client_speaks_to_the_reference_server(server: ServerProcess) -> None:
    with connect(server.ws_url + "/ws", timeout_s=timeout(10)) as ws:
        ws.send_text("héllo")
        assert ws.recv() == "Your text was: héllo"
        ws.send_bytes(b"\x00\xff")
        assert ws.recv() == b"\x00\xff"
        ws.send_bytes(b"x" * 70_000)  # over the server's 64 KiB limit
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv()
        assert closed.value.code == 1009
    with pytest.raises(HandshakeError) as refused:
        connect(server.ws_url + "/no-such-socket", timeout_s=timeout(10))
    assert refused.value.status in (403, 404)


def test_ws_client_receives_room_pushes(server: ServerProcess) -> None:
    room = _room()
    with (
        connect(f"{server.ws_url}/ws/rooms/{room}", timeout_s=timeout(10)) as subscriber,
        connect(f"{server.ws_url}/ws/rooms/{room}?receive=false") as publisher,
    ):
        publisher.send_text('{"publisher":"pb.t.1.0","seq":0,"sent_ns":5,"payload":"p"}')
        envelope = json.loads(subscriber.recv_text())
        assert (envelope["publisher"], envelope["seq"], envelope["sent_ns"]) == ("pb.t.1.0", 0, 5)


@pytest.mark.slow
def test_headless_mix_measures_every_transport(server: ServerProcess, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    _run(
        _locust(
            "--headless", "-u", "8", "-r", "8", "-t", "3s", "--host", server.url,
            "--room", _room(), "--csv", str(tmp_path / "locust"),
            "--pushbench-run-dir", str(run_dir), "--publisher-round-trip", *COMMON,
        )
    )  # fmt: skip
    document = load_results(run_dir / "results.json")
    assert document.kind == "locust"
    assert not document.errors
    _check_push_scenarios(document)
    (round_trip,) = [s for s in document.scenarios if s.name == "ws-round-trip"]
    assert round_trip.delivered == round_trip.sent == round_trip.latency_us.count > 0
    assert (run_dir / "report.html").exists()
    rows = list(csv.DictReader((tmp_path / "locust_stats.csv").open()))
    msg_rows = {row["Name"]: row for row in rows if row["Type"] == "MSG"}
    assert msg_rows.keys() >= PUSH_SCENARIOS
    # Locust itself now shows push latency, not a response time of 0.
    assert all(float(row["Average Response Time"]) > 0 for row in msg_rows.values())


@pytest.mark.slow
def test_distributed_percentiles_equal_the_pooled_samples(
    server: ServerProcess, tmp_path: Path
) -> None:
    port = str(_free_port())
    run_dir, dump = tmp_path / "run", tmp_path / "samples"
    master = subprocess.Popen(
        _locust(
            "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
            "--expect-workers", "2", "--headless", "-u", "10", "-r", "10", "-t", "3s",
            "--host", server.url, "--room", _room(), "--pushbench-run-dir", str(run_dir),
            "--pushbench-dump-samples", str(dump), "--pushbench-no-report", *COMMON,
        ),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    workers = [
        subprocess.Popen(
            _locust("--worker", "--master-host", "127.0.0.1", "--master-port", port),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        output, _ = master.communicate(timeout=timeout(60))
        assert master.returncode == 0, output[-5000:]
        for worker in workers:
            worker.wait(timeout(30))
    finally:
        processes: list[subprocess.Popen[Any]] = [master, *workers]
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    document = load_results(run_dir / "results.json")
    assert document.config["workers"] == 2
    assert not document.errors, document.errors
    _check_push_scenarios(document)  # publishers on one worker, subscribers on both
    dumps = sorted(dump.glob("samples-worker-*.json"))
    assert len(dumps) == 2
    pooled: dict[str, list[int]] = {}
    for path in dumps:
        for name, samples in json.loads(path.read_text())["names"].items():
            pooled.setdefault(name, []).extend(samples["latency_ns"])
    assert pooled.keys() == {scenario.name for scenario in document.scenarios}
    for scenario in document.scenarios:
        reference = LatencyHistogram()
        for ns in pooled[scenario.name]:
            reference.record_ns(ns)
        merged = scenario.latency_us.decode_histogram()
        assert merged.summary() == reference.summary(), scenario.name
        assert scenario.latency_us.p99 == reference.percentile_us(99)
        # Within HdrHistogram's 0.1 % of the exact percentile of the raw samples (with
        # HdrHistogram's rank: the round(p * n)-th smallest value).
        values = sorted(pooled[scenario.name])
        exact_p99_us = values[max(1, int(len(values) * 0.99 + 0.5)) - 1] / 1000
        assert abs(scenario.latency_us.p99 - exact_p99_us) <= max(1.0, exact_p99_us * 0.001)


@pytest.mark.slow
def test_make_swarm_runner_writes_everything(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    completed = _run(
        [
            sys.executable, "-m", "pushbench.locust", "--users", "6", "--spawn-rate", "6",
            "--duration", "3s", "--processes", "2", "--flavor", "fastapi", "--out", str(out),
            "--", *COMMON,
        ]
    )  # fmt: skip
    (run_dir,) = [path for path in out.iterdir() if path.name != "latest"]
    assert str(run_dir) in completed.stdout
    for name in ("results.json", "locust.html", "locust_stats.csv", "server.log"):
        assert (run_dir / name).exists(), name
    document = load_results(run_dir / "results.json")
    assert document.config["workers"] == 2
    usage = document.config["server"]["usage"]
    assert usage["cpu_s"] > 0
    assert document.scenarios
    # The flavor asked for is the one served, and every scenario says so.
    assert document.config["server"]["flavor"] == "fastapi"
    assert {s.params["flavor"] for s in document.scenarios} == {"fastapi"}
    assert os.path.realpath(out / "latest") == str(run_dir)
