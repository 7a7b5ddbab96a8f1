"""``locust`` itself as a CI step: ``--pushbench-slo`` sets its exit code, ``[tool.locust]`` finds
the locustfile.

Locust runs in a subprocess (it monkey-patches sockets with gevent on import), headless, against
a real reference server on a free port; the exit code is what a CI job would see.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from pushbench.core.schema import load_results
from pushbench.harness.launcher import ServerProcess
from tests.conftest import timeout

REPO = Path(__file__).parents[2]


def _headless_echo(
    server: ServerProcess, run_dir: Path, *slos: str
) -> subprocess.CompletedProcess[str]:
    """A short headless run of echo users only (one scenario, ``echo``) with ``slos``."""
    command = [
        sys.executable, "-m", "locust", "--headless", "-u", "2", "-r", "2", "-t", "2s",
        "--host", server.url, "--room", f"slo-{uuid.uuid4().hex[:10]}",
        "--pushbench-run-dir", str(run_dir), "--pushbench-no-report", "--echo-rate", "20",
    ]  # fmt: skip
    for slo in slos:
        command += ["--pushbench-slo", slo]
    return subprocess.run(
        [*command, "WebSocketEchoUser"],
        cwd=REPO,  # no -f: [tool.locust] of pyproject.toml names the locustfile
        capture_output=True,
        text=True,
        timeout=timeout(60),
        check=False,
    )


@pytest.fixture
def server(default_server: ServerProcess) -> ServerProcess:
    return default_server


@pytest.mark.slow
def test_slos_that_hold_exit_0_and_one_that_cannot_exits_1(
    server: ServerProcess, tmp_path: Path
) -> None:
    held = _headless_echo(
        server, tmp_path / "held", "echo.latency_us.p99<=60000000", "echo.errors==0"
    )
    assert held.returncode == 0, held.stderr[-4000:]
    assert "pushbench: SLOs hold (3 checks)" in held.stderr
    assert load_results(tmp_path / "held" / "results.json").scenarios[0].delivered > 0

    missed = _headless_echo(server, tmp_path / "missed", "echo.latency_us.p50<0")
    assert missed.returncode == 1, missed.stderr[-4000:]
    assert "FAIL echo.latency_us.p50 < 0" in missed.stderr
    # The results are written all the same: the run is kept, only its verdict is failed.
    assert (tmp_path / "missed" / "results.json").exists()


def test_a_malformed_slo_stops_locust_before_any_load(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "locust", "--headless", "-u", "1", "-t", "1s",
         "--host", "http://127.0.0.1:9", "--pushbench-slo", "ws.p99<=5"],
        cwd=REPO, capture_output=True, text=True, timeout=timeout(60), check=False,
    )  # fmt: skip
    assert completed.returncode == 2, completed.stderr[-4000:]
    assert "--pushbench-slo: bad SLO 'ws.p99<=5'" in completed.stderr


def test_plain_locust_in_the_repository_finds_the_users() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "locust", "--list"],
        cwd=REPO, capture_output=True, text=True, timeout=timeout(60), check=True,
    )  # fmt: skip
    assert "WebSocketSubscriberUser" in completed.stdout
