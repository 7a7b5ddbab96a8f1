"""A Locust swarm across hosts: server, master and workers on three network hosts.

Locust's master/worker mode is how a load bigger than one machine is made. Loopback proves the
protocol, not the deployment: here each party is on its own host (a network namespace with its
own address, joined to the others through a router, ``tests/netns.py``) and talks to the others
only over that network, with the commands docs/locust.md gives for machines: the reference server
(``pushbench serve --host``), the master bound to its address on Locust's default port 5557, and
two worker processes (``--worker --master-host --processes 2``). The checks are those of the
loopback swarm (``test_locust.py``): merged percentiles equal to the pooled samples, nothing lost,
plus the report and the bytes each link carried.

Fixed ports are safe here: each namespace is new and only this test binds in it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pushbench.core.histogram import LatencyHistogram
from pushbench.core.schema import load_results
from tests.conftest import timeout
from tests.integration.test_locust import COMMON, LOCUSTFILE, _check_push_scenarios, _room
from tests.netns import Host, link_bytes, network, unavailable

pytestmark = pytest.mark.slow

SERVER_PORT = 8001
MASTER_PORT = 5557  # Locust's default: the port a firewall must open on the master's host

#: Polls ``url`` until it answers 200: the server is up *and* reachable across the network.
_PROBE = """
import sys, time, urllib.request
url, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
backoff = 0.01
while True:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            sys.exit(0 if response.status == 200 else 1)
    except OSError:
        if time.monotonic() > deadline:
            raise
    time.sleep(backoff)  # paces the re-check; the condition is the answer
    backoff = min(backoff * 2, 0.2)
"""


@pytest.fixture
def hosts() -> Iterator[dict[str, Host]]:
    """Three hosts behind one router; skipped where namespaces cannot be made (says why)."""
    reason = unavailable()
    if reason is not None:
        pytest.skip(f"network namespaces unavailable: {reason}")
    with network(("server", "master", "workers")) as made:
        yield made


def _locust(host: Host, *args: str) -> list[str]:
    return host.command(sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *args)


def test_swarm_across_hosts_merges_exactly(hosts: dict[str, Host], tmp_path: Path) -> None:
    server, master, workers = hosts["server"], hosts["master"], hosts["workers"]
    url = f"http://{server.address}:{SERVER_PORT}"
    run_dir, dump = tmp_path / "run", tmp_path / "samples"
    processes: list[subprocess.Popen[str]] = []
    with (tmp_path / "server.log").open("w") as server_log:
        try:
            processes.append(
                subprocess.Popen(
                    server.command(
                        sys.executable, "-m", "pushbench", "serve",
                        "--host", server.address, "--port", str(SERVER_PORT),
                    ),
                    stdout=server_log, stderr=subprocess.STDOUT, text=True,
                )
            )  # fmt: skip
            probe = subprocess.run(
                workers.command(sys.executable, "-c", _PROBE, url + "/healthz", str(timeout(30))),
                capture_output=True, text=True, timeout=timeout(40), check=False,
            )  # fmt: skip
            assert probe.returncode == 0, probe.stderr + (tmp_path / "server.log").read_text()
            master_process = subprocess.Popen(
                _locust(
                    master, "--master", "--master-bind-host", master.address,
                    "--master-bind-port", str(MASTER_PORT), "--expect-workers", "2",
                    # Workers that cannot reach the master fail the test, not hang it.
                    "--expect-workers-max-wait", str(int(timeout(30))),
                    "--headless", "-u", "10", "-r", "10", "-t", "3s", "--host", url,
                    "--room", _room(), "--pushbench-run-dir", str(run_dir),
                    "--pushbench-dump-samples", str(dump), *COMMON,
                ),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
            processes.append(master_process)
            worker_process = subprocess.Popen(
                _locust(
                    workers, "--worker", "--master-host", master.address,
                    "--master-port", str(MASTER_PORT), "--processes", "2",
                ),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
            processes.append(worker_process)
            output, _ = master_process.communicate(timeout=timeout(90))
            assert master_process.returncode == 0, output[-5000:]
            worker_output, _ = worker_process.communicate(timeout=timeout(30))
            assert worker_process.returncode == 0, worker_output[-5000:]
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()

    document = load_results(run_dir / "results.json")
    assert document.config["host"] == url
    assert document.config["workers"] == 2
    assert not document.errors, document.errors
    # Both workers on one host (one clock): every delivery timed, no cross-host warning.
    assert not [w for w in document.warnings if "hosts" in w], document.warnings
    _check_push_scenarios(document)
    dumps = sorted(dump.glob("samples-worker-*.json"))
    assert len(dumps) == 2  # one per worker process
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
        # Within HdrHistogram's 0.1 % of the exact p99 of the raw samples (its rank).
        values = sorted(pooled[scenario.name])
        exact_p99_us = values[max(1, int(len(values) * 0.99 + 0.5)) - 1] / 1000
        assert abs(scenario.latency_us.p99 - exact_p99_us) <= max(1.0, exact_p99_us * 0.001)
    for name in ("report.html", "summary.md", "results.csv"):
        assert (run_dir / name).stat().st_size > 0, name
    assert "ws" in (run_dir / "summary.md").read_text()

    # The load crossed the links: the server's received at least every published payload,
    # and the master's carried the workers' reports (histograms and stats, KiB each).
    (ws,) = [s for s in document.scenarios if s.name == "ws"]
    server_received, _ = link_bytes(server)
    assert server_received >= ws.sent * document.config["payload_bytes"]
    master_received, master_sent = link_bytes(master)
    assert master_received > 10_000
    assert master_sent > 0  # the spawn and drain messages to the workers
