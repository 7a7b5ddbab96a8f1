"""The harness against a server with a bearer token: its clients pass ``PUSHBENCH_AUTH_TOKEN``.

With the variable set, the asyncio drivers (``pushbench compare``'s scenarios, the echo and the
capacity runs) and the Locust users measure the guarded server as any other; without it, every
refusal shows up as an error, never as a quietly empty measurement.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pushbench.core.schema import load_results
from pushbench.core.server_config import ServerConfig
from pushbench.drivers.capacity import echo_capacity, fanout_capacity, poll_capacity
from pushbench.drivers.echo import run_echo
from pushbench.drivers.scenario import ScenarioSpec, run_scenario
from pushbench.harness.client_auth import TOKEN_ENV
from pushbench.harness.launcher import ServerProcess
from tests.conftest import timeout

TOKEN = "harness-s3cret"
TRANSPORTS = pytest.mark.parametrize(
    ("transport", "poll_interval_s"),
    [("ws", None), ("sse", None), ("long-poll", None), ("short-poll", 0.1)],
)
LOCUSTFILE = Path(__file__).parents[2] / "loadtests" / "locustfile.py"


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("server") / "token.log"
    with ServerProcess(ServerConfig(settings={"auth_token": TOKEN}), log) as process:
        yield process


@pytest.fixture
def with_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


@pytest.fixture
def without_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)


def _spec(transport: str, poll_interval_s: float | None) -> ScenarioSpec:
    return ScenarioSpec(
        transport,
        rate_per_s=50,
        subscribers=3,
        duration_s=0.5,
        warmup_s=0.1,
        poll_interval_s=poll_interval_s,
    )


@TRANSPORTS
@pytest.mark.anyio
@pytest.mark.usefixtures("with_token")
async def test_scenario_with_the_token_measures_everything(
    token_server: ServerProcess, transport: str, poll_interval_s: float | None
) -> None:
    run = await run_scenario(token_server.url, _spec(transport, poll_interval_s))
    assert run.errors == []
    assert run.integrity.received > 0
    assert run.integrity.lost == 0


@TRANSPORTS
@pytest.mark.anyio
@pytest.mark.usefixtures("without_token")
async def test_scenario_without_the_token_reports_the_refusal(
    token_server: ServerProcess, transport: str, poll_interval_s: float | None
) -> None:
    run = await run_scenario(token_server.url, _spec(transport, poll_interval_s))
    assert any("401" in error for error in run.errors), run.errors
    assert run.integrity.received == 0


@pytest.mark.anyio
@pytest.mark.usefixtures("with_token")
async def test_echo_and_capacity_runs_pass_the_token(token_server: ServerProcess) -> None:
    echo = await run_echo(token_server.ws_url, connections=2, max_round_trips=20, warmup_s=0)
    assert (echo.errors, echo.round_trips) == ([], 20)
    for run in (
        await echo_capacity(token_server.ws_url, connections=2, duration_s=0.2, warmup_s=0),
        await fanout_capacity(token_server.ws_url, subscribers=2, duration_s=0.2, warmup_s=0),
        await poll_capacity(token_server.url, pollers=2, duration_s=0.2, warmup_s=0),
    ):
        assert run.messages > 0
        assert run.dropped_connections == 0


@pytest.mark.anyio
@pytest.mark.usefixtures("without_token")
async def test_echo_without_the_token_reports_the_refusal(token_server: ServerProcess) -> None:
    echo = await run_echo(token_server.ws_url, connections=2, max_round_trips=20, warmup_s=0)
    assert echo.round_trips == 0
    assert len(echo.errors) == 2
    assert all("401" in error for error in echo.errors), echo.errors
    with pytest.raises(ConnectionError, match="401"):
        await echo_capacity(token_server.ws_url, connections=1, duration_s=0.1, warmup_s=0)


def _locust_mix(server: ServerProcess, run_dir: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "-u", "8", "-r", "8", "-t", "2s", "--host", server.url,
        "--room", f"auth-{uuid.uuid4().hex[:10]}", "--pushbench-run-dir", str(run_dir),
        "--poll-interval", "0.2", "--long-poll-wait", "2", "--publish-rate", "20",
        "--drain-timeout", "3",
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout(60), check=False)


@pytest.mark.slow
@pytest.mark.usefixtures("with_token")
def test_locust_users_pass_the_token(token_server: ServerProcess, tmp_path: Path) -> None:
    completed = _locust_mix(token_server, tmp_path / "run")
    assert completed.returncode == 0, completed.stderr[-5000:]
    document = load_results(tmp_path / "run" / "results.json")
    assert not document.errors
    delivered = {s.name: s.delivered for s in document.scenarios}
    assert all(delivered[name] > 0 for name in ("ws", "sse", "long-poll", "echo")), delivered


@pytest.mark.slow
@pytest.mark.usefixtures("without_token")
def test_locust_users_without_the_token_fail_loudly(
    token_server: ServerProcess, tmp_path: Path
) -> None:
    completed = _locust_mix(token_server, tmp_path / "run")
    assert completed.returncode != 0
    assert "401" in completed.stdout + completed.stderr
