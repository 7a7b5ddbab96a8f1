"""permessage-deflate end to end: every kind of pushbench WebSocket client negotiates it with a
real server started with ``--ws-per-message-deflate`` and round-trips compressed messages.

One test body per client kind (the raw asyncio client, the Locust gevent-free blocking client,
the websockets-library echo driver), each against uvicorn's WebSocket implementations and
hypercorn (wsproto). The bytes a client counts on the wire must be fewer than the inflated
messages: proof the server compressed them, and that the client inflated them correctly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvloop

from pushbench.compare.run import CompareConfig, run_compare
from pushbench.core.kinds import Transport
from pushbench.core.schema import Scenario, load_results
from pushbench.core.server_config import ServerConfig
from pushbench.drivers.echo import run_echo
from pushbench.drivers.rawws import open_raw
from pushbench.drivers.wshandshake import HandshakeError
from pushbench.harness.client_deflate import DEFLATE_ENV, offering
from pushbench.harness.launcher import ServerProcess
from pushbench.locust.ws_client import connect
from pushbench.report.deflate_table import deflate_table
from tests.conftest import timeout
from tests.integration.cli import assert_refused_in_one_line, pushbench

#: A compressible message: the reference server echoes it back as "Your text was: ...".
MESSAGE = "pushbench " * 50
ECHO = f"Your text was: {MESSAGE}"
ROUNDS = 3

DEFLATE_SERVERS = [
    ("uvicorn", "auto"),
    ("uvicorn", "websockets"),
    ("uvicorn", "wsproto"),
    ("hypercorn", "auto"),
]


@pytest.fixture(
    scope="module",
    params=DEFLATE_SERVERS,
    ids=[f"{server}-{impl}" for server, impl in DEFLATE_SERVERS],
)
def deflate_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    server, impl = request.param
    config = ServerConfig(server=server, ws_impl=impl, ws_per_message_deflate=True)
    log = tmp_path_factory.mktemp("server") / f"server-{server}-{impl}.log"
    with ServerProcess(config, log) as process:
        yield process


def _raw(url: str) -> tuple[list[str], int, bool]:
    async def run() -> tuple[list[str], int, bool]:
        got: list[bytes] = []
        arrived = asyncio.Event()

        def on_message(payload: bytes) -> None:
            got.append(payload)
            if len(got) == ROUNDS:
                arrived.set()

        client = await open_raw(url, on_message=on_message)
        try:
            for _ in range(ROUNDS):
                client.send_text(MESSAGE.encode())
            async with asyncio.timeout(timeout(10)):
                await arrived.wait()
            return [g.decode() for g in got], client.received_bytes, client.deflate is not None
        finally:
            client.close()

    return uvloop.run(run())


def _locust(url: str) -> tuple[list[str], int, bool]:
    with connect(url, timeout_s=timeout(10)) as ws:
        got = []
        for _ in range(ROUNDS):
            ws.send_text(MESSAGE)
            got.append(ws.recv_text())
        return got, ws.received_wire_bytes, ws.deflate is not None


CLIENTS: dict[str, Callable[[str], tuple[list[str], int, bool]]] = {"raw": _raw, "locust": _locust}


@pytest.mark.parametrize("client", CLIENTS)
def test_clients_negotiate_and_round_trip_compressed_messages(
    deflate_server: ServerProcess, client: str
) -> None:
    with offering(True):
        got, wire_bytes, negotiated = CLIENTS[client](deflate_server.ws_url + "/ws")
    assert negotiated
    assert got == [ECHO] * ROUNDS
    # Compressed (and, context kept, the repeats shrink to a few bytes each).
    assert 0 < wire_bytes < len(ECHO) // 2


def test_the_websockets_library_driver_negotiates_too(deflate_server: ServerProcess) -> None:
    with offering(True):
        run = uvloop.run(
            run_echo(deflate_server.ws_url, connections=2, duration_s=0.2, warmup_s=0.0)
        )
    assert not run.errors
    assert run.round_trips > 0


@pytest.mark.parametrize("client", CLIENTS)
def test_a_server_without_deflate_is_refused_not_measured_uncompressed(
    default_server: ServerProcess, client: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DEFLATE_ENV, "1")
    with pytest.raises((HandshakeError, ConnectionError), match="declined permessage-deflate"):
        CLIENTS[client](default_server.ws_url + "/ws")


@pytest.mark.parametrize("client", CLIENTS)
def test_without_the_offer_frames_stay_uncompressed(
    deflate_server: ServerProcess, client: str
) -> None:
    with offering(False):
        got, wire_bytes, negotiated = CLIENTS[client](deflate_server.ws_url + "/ws")
    assert not negotiated
    assert got == [ECHO] * ROUNDS
    assert wire_bytes >= ROUNDS * len(ECHO)


def _compare(out: Path, deflate: bool, payload_kind: str) -> Scenario:
    config = CompareConfig(
        transports=(Transport.WS,),
        rate_per_s=100.0,
        publishers=1,
        subscribers=3,
        payload_bytes=512,
        payload_kind=payload_kind,
        duration_s=0.6,
        warmup_s=0.1,
        flavors=("asgi",),
        pin=False,
        server=ServerConfig(ws_per_message_deflate=deflate),
    )
    outcome = run_compare(config, out)
    document = load_results(outcome.run_dir / "results.json")
    assert not document.errors
    (scenario,) = document.scenarios
    assert not scenario.errors
    assert scenario.lost == 0
    assert scenario.delivered == scenario.sent > 0
    params = scenario.typed_params
    assert params.ws_per_message_deflate is deflate
    assert params.payload_kind == payload_kind
    return scenario


def test_compare_with_deflate_puts_fewer_bytes_per_message_on_the_wire(tmp_path: Path) -> None:
    """Measured bytes: far fewer for the compressible payload with deflate on than off; for
    the random one, no more than base64's 6 bits per character can save."""
    sizes = {
        (deflate, kind): _compare(
            tmp_path / f"{deflate}-{kind}", deflate, kind
        ).ws_bytes_per_delivery
        for deflate in (False, True)
        for kind in ("text", "random")
    }
    assert all(size is not None for size in sizes.values())
    on_text, off_text = sizes[True, "text"], sizes[False, "text"]
    on_random, off_random = sizes[True, "random"], sizes[False, "random"]
    assert on_text is not None
    assert off_text is not None
    assert on_random is not None
    assert off_random is not None
    # Off: the envelope (payload + ~100 B with this short room name) plus a 4-byte header.
    assert 512 + 80 < off_text < 512 + 160
    assert 512 + 80 < off_random < 512 + 160
    print(f"ws bytes/delivery: {sizes}")
    assert on_text < off_text / 4
    assert 0.6 * off_random < on_random < off_random


def test_the_compare_report_labels_each_figure_with_its_deflate_setting(tmp_path: Path) -> None:
    scenario = _compare(tmp_path, True, "text")
    document = load_results(next(tmp_path.glob("*/results.json")))
    (row,) = deflate_table(document)
    assert row[:3] == [scenario.name, "on", "text"]
    assert float(row[3].replace(",", "")) == pytest.approx(scenario.ws_bytes_per_delivery, rel=0.01)


@pytest.mark.parametrize(
    "argv",
    [
        [command, "--server", "granian", "--ws-per-message-deflate"]
        for command in ("serve", "compare", "serverbench")
    ]
    + [["sweep", "--server", "granian", "--ws-per-message-deflate", "on"]],
    ids=["serve", "compare", "serverbench", "sweep"],
)
def test_deflate_with_granian_exits_2_with_one_line(argv: list[str], tmp_path: Path) -> None:
    out = [] if argv[0] == "serve" else ["--out", str(tmp_path)]
    result = pushbench(*argv, *out, timeout_s=30)
    assert_refused_in_one_line(result, "--server granian has no permessage-deflate", tmp_path)


def test_sweep_takes_deflate_as_an_axis(tmp_path: Path) -> None:
    result = pushbench(
        "sweep",
            "--workers", "1", "--loop", "uvloop", "--ws-impl", "websockets-sansio",
            "--http-impl", "httptools", "--ws-per-message-deflate", "off,on",
            "--duration", "0.5", "--warmup", "0.2", "--push-rate", "200",
            "--out", str(tmp_path),
        timeout_s=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    document = load_results(tmp_path / "latest" / "results.json")
    assert document.errors == []
    assert document.config["matrix"]["ws_per_message_deflate"] == [False, True]
    slug = "w1/uvloop/websockets-sansio/httptools"
    assert [s.name for s in document.scenarios] == [
        f"{workload}/{slug}{suffix}"
        for suffix in ("", "/deflate")
        for workload in ("echo", "fanout", "poll", "push")
    ]
    assert [s.params["ws_per_message_deflate"] for s in document.scenarios] == [False] * 4 + [
        True
    ] * 4
    off, on = (s for s in document.scenarios if s.name.startswith("push/"))
    assert off.ws_bytes_per_delivery is not None
    assert on.ws_bytes_per_delivery is not None
    assert on.ws_bytes_per_delivery < off.ws_bytes_per_delivery / 2
    for scenario in document.scenarios:
        assert scenario.errors == [], scenario.name
        assert scenario.throughput_msgs_per_s > 0, scenario.name


def test_a_ramp_negotiates_deflate_and_publishes_the_payload_asked(tmp_path: Path) -> None:
    """``ramp --ws-per-message-deflate --payload text``: the server offers it, the subscribers
    negotiate it (512 B of 'x' arrive in far fewer bytes), and every step records both."""
    result = pushbench(
        "ramp", "--transports", "ws", "--start", "2", "--step", "2", "--max-steps", "2",
        "--step-duration", "0.4", "--warmup", "0.1", "--rate", "50", "--payload-bytes", "512",
        "--payload", "text", "--ws-per-message-deflate", "--slo-p99-ms", "1000", "--no-pin",
        "--out", str(tmp_path),
        timeout_s=90,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    document = load_results(tmp_path / "latest" / "results.json")
    assert document.config["payload_kind"] == "text"
    assert len(document.scenarios) == 2
    for scenario in document.scenarios:
        assert scenario.params["ws_per_message_deflate"] is True, scenario.name
        assert scenario.params["payload_kind"] == "text", scenario.name
        assert scenario.ws_bytes_per_delivery is not None
        assert scenario.ws_bytes_per_delivery < 100, scenario.name  # uncompressed: > 600


def test_a_ramp_refuses_an_unknown_payload_in_one_line(tmp_path: Path) -> None:
    result = pushbench("ramp", "--payload", "zeros", "--out", str(tmp_path), timeout_s=30)
    assert_refused_in_one_line(result, "unknown --payload zeros; choose text or random", tmp_path)
