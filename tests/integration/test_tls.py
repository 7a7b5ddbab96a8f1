"""TLS on every path: a real uvicorn with a throwaway CA's certificate, every kind of client.

The server runs with ``--ssl-keyfile/--ssl-certfile`` (a :func:`make_tls_files` authority), the
clients trust that authority through ``PUSHBENCH_CA_FILE`` and verify the certificate, hostname
included: one test body drives each kind of client over ``https://``/``wss://``.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvloop

from pushbench.compare.run import CompareConfig, run_compare
from pushbench.core.kinds import PUSH_TRANSPORTS, Transport
from pushbench.core.schema import load_results
from pushbench.core.server_config import ServerConfig
from pushbench.drivers.capacity import echo_capacity, poll_capacity
from pushbench.drivers.echo import run_echo
from pushbench.drivers.handshakes import handshake_run
from pushbench.drivers.scenario import ScenarioSpec, run_scenario
from pushbench.harness.client_tls import CA_ENV, client_context, trusting
from pushbench.harness.launcher import ServerProcess
from pushbench.harness.throwaway_ca import TlsFiles, make_tls_files
from pushbench.locust.ws_client import connect
from pushbench.report import write_report
from tests.conftest import timeout
from tests.integration.cli import pushbench
from tests.integration.test_locust import COMMON, LOCUSTFILE, _check_push_scenarios, _room


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_server(
    tls_files: TlsFiles, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """The reference server over TLS, its CA trusted by this process's clients."""
    config = ServerConfig(ssl_keyfile=str(tls_files.keyfile), ssl_certfile=str(tls_files.certfile))
    log = tmp_path_factory.mktemp("server") / "server-tls.log"
    with trusting(tls_files.ca_file), ServerProcess(config, log) as server:
        yield server


def test_serve_with_tls_answers_https_health(tls_server: ServerProcess) -> None:
    assert tls_server.url.startswith("https://")
    assert tls_server.ws_url.startswith("wss://")
    with urllib.request.urlopen(
        tls_server.url + "/healthz", timeout=timeout(10), context=client_context()
    ) as response:
        assert response.status == 200
    # An unverified client is refused: what the clients verify is the run's own CA.
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(
            tls_server.url + "/healthz", timeout=timeout(10), context=ssl.create_default_context()
        )


def _push(transport: Transport) -> Callable[[ServerProcess], int]:
    def run(server: ServerProcess) -> int:
        spec = ScenarioSpec(
            transport,
            rate_per_s=40.0,
            publishers=1,
            subscribers=2,
            duration_s=0.5,
            warmup_s=0.1,
            poll_interval_s=0.1 if transport == Transport.SHORT_POLL else None,
        )
        result = uvloop.run(run_scenario(server.url, spec))
        assert result.errors == [], result.errors
        assert result.integrity.lost == 0
        return result.integrity.delivered

    return run


def _websockets_echo(server: ServerProcess) -> int:
    result = uvloop.run(run_echo(server.ws_url, connections=2, duration_s=0.3, warmup_s=0.05))
    assert result.errors == []
    return result.round_trips


def _raw_echo(server: ServerProcess) -> int:
    result = uvloop.run(echo_capacity(server.ws_url, connections=2, duration_s=0.3, warmup_s=0.05))
    assert result.dropped_connections == 0
    return result.messages


def _raw_poll(server: ServerProcess) -> int:
    result = uvloop.run(poll_capacity(server.url, pollers=2, duration_s=0.3, warmup_s=0.05))
    assert result.dropped_connections == 0
    return result.messages


def _handshakes(server: ServerProcess) -> int:
    result = asyncio.run(handshake_run(server.url, 5, "/healthz"))
    assert result.errors == []
    return result.messages


def _gevent_ws_client(server: ServerProcess) -> int:
    # The Locust users' client, on plain blocking sockets here (gevent only under Locust).
    with connect(server.ws_url + "/ws", timeout_s=timeout(10)) as ws:
        ws.send_text("over tls")
        assert ws.recv() == "Your text was: over tls"
        return 1


CLIENTS: dict[str, Callable[[ServerProcess], int]] = {
    **{f"scenario-{t}": _push(t) for t in PUSH_TRANSPORTS},
    "websockets-echo": _websockets_echo,
    "raw-ws-echo": _raw_echo,
    "raw-http-poll": _raw_poll,
    "handshakes": _handshakes,
    "locust-ws-client": _gevent_ws_client,
}


@pytest.mark.parametrize("client", CLIENTS)
def test_every_client_speaks_tls(tls_server: ServerProcess, client: str) -> None:
    assert CLIENTS[client](tls_server) > 0


def test_compare_tls_measures_each_scenario_plain_and_over_tls(tmp_path: Path) -> None:
    config = CompareConfig(
        transports=(Transport.WS, Transport.SHORT_POLL),
        poll_intervals_s=(0.1,),
        rate_per_s=40.0,
        publishers=1,
        subscribers=2,
        duration_s=0.5,
        warmup_s=0.1,
        flavors=("asgi",),
        pin=False,
        tls=True,
        handshake_connections=10,
    )
    before = os.environ.get(CA_ENV)
    outcome = run_compare(config, tmp_path)
    assert os.environ.get(CA_ENV) == before  # the run's CA, trusted for the run only
    document = load_results(outcome.run_dir / "results.json")
    assert not document.errors, document.errors
    assert {s.name: s.typed_params.tls for s in document.scenarios} == {
        "ws@asgi": False,
        "ws@tls@asgi": True,
        "short-poll@0.1@asgi": False,
        "short-poll@0.1@tls@asgi": True,
    }
    assert all(s.delivered == s.sent > 0 for s in document.scenarios)
    costs = {row.scenario: row for row in document.tls_cost}
    assert costs.keys() == {"ws@asgi", "short-poll@0.1@asgi"}
    assert costs["ws@asgi"].extra_cpu_us_per_delivered_msg is not None
    assert costs["ws@asgi"].extra_cpu_us_per_http_request is None
    assert costs["short-poll@0.1@asgi"].extra_cpu_us_per_http_request is not None
    (handshake,) = document.tls_handshake
    assert (handshake.flavor, handshake.connections) == ("asgi", 10)
    assert handshake.tls_server_cpu_us_per_connection > 0
    assert (outcome.run_dir / "tls" / "ca.pem").exists()
    write_report(document, outcome.run_dir)
    summary = (outcome.run_dir / "summary.md").read_text()
    assert "### TLS: each scenario over plain TCP and over TLS" in summary
    assert "### TLS handshake" in summary
    assert "TLS (server CPU over plain TCP, same run): ws@asgi" in summary
    assert 'id="tls-handshake"' in (outcome.run_dir / "report.html").read_text()


@pytest.mark.slow
def test_locust_users_run_against_an_https_server(
    tls_server: ServerProcess, tls_files: TlsFiles, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    completed = subprocess.run(
        [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE),
            "--headless", "-u", "8", "-r", "8", "-t", "3s", "--host", tls_server.url,
            "--room", _room(), "--pushbench-run-dir", str(run_dir), *COMMON,
        ],
        env={**os.environ, CA_ENV: str(tls_files.ca_file)},
        capture_output=True,
        text=True,
        timeout=timeout(60),
        check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-5000:]
    document = load_results(run_dir / "results.json")
    assert not document.errors, document.errors
    _check_push_scenarios(document)


def test_serverbench_tls_measures_every_phase_over_tls(tmp_path: Path) -> None:
    completed = pushbench(
        "serverbench", "--tls",
            "--ws-impl", "websockets-sansio", "--connections", "3", "--subscribers", "4",
            "--duration", "0.3", "--warmup", "0.1", "--repeat", "1", "--idle", "50",
            "--pollers", "2", "--no-pin", "--out", str(tmp_path),
        timeout_s=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    document = load_results(tmp_path / "latest" / "results.json")
    assert document.config["tls"] is True
    assert len(document.scenarios) == 5
    for scenario in document.scenarios:
        assert scenario.typed_params.tls is True, scenario.name
        assert scenario.errors == [], scenario.name
        assert scenario.delivered > 0, scenario.name


def test_sweep_tls_measures_every_workload_over_tls(tmp_path: Path) -> None:
    completed = pushbench(
        "sweep", "--tls",
            "--workers", "1", "--loop", "uvloop", "--ws-impl", "websockets-sansio",
            "--http-impl", "httptools", "--duration", "0.3", "--warmup", "0.1",
            "--push-rate", "100", "--no-pin", "--out", str(tmp_path),
        timeout_s=90,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    document = load_results(tmp_path / "latest" / "results.json")
    assert document.errors == []
    assert document.config["tls"] is True
    assert [s.params["workload"] for s in document.scenarios] == ["echo", "fanout", "poll", "push"]
    for scenario in document.scenarios:
        assert scenario.typed_params.tls is True, scenario.name
        assert scenario.throughput_msgs_per_s > 0, scenario.name
        assert scenario.errors == [], scenario.name


def test_ramp_tls_steps_every_transport_over_tls(tmp_path: Path) -> None:
    """``ramp --tls``: each transport's fresh server serves the run's throwaway certificate, the
    clients trust its CA, and every step says it ran over TLS."""
    completed = pushbench(
        "ramp", "--tls",
            "--transports", "ws,sse", "--start", "3", "--step", "3", "--max-steps", "2",
            "--step-duration", "0.3", "--warmup", "0.1", "--rate", "50",
            "--slo-p99-ms", "1000", "--no-pin", "--out", str(tmp_path),
        timeout_s=90,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    run_dir = (tmp_path / "latest").resolve()
    document = load_results(run_dir / "results.json")
    assert document.errors == []
    assert document.config["tls"] is True
    assert (run_dir / "tls").is_dir()  # the CA and certificate, to repeat the run by hand
    assert [s.name for s in document.scenarios] == ["ws@3", "ws@6", "sse@3", "sse@6"]
    for scenario in document.scenarios:
        assert scenario.typed_params.tls is True, scenario.name
        assert scenario.errors == [], scenario.name
        assert scenario.delivered == scenario.sent > 0, scenario.name
