"""Every ASGI server of ``--server`` through the real process: what it answers, and the launcher's
guarantees (a free port, TCP_NODELAY, pinning, the sampled tree, death with the harness)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import psutil
import pytest
import websockets

from pushbench.core.schema import load_results
from pushbench.core.server_config import SERVERS, ServerConfig
from pushbench.harness.client_tls import client_context, trusting
from pushbench.harness.launcher import ServerProcess
from pushbench.harness.processes import pin_server
from pushbench.harness.resources import TreeSampler
from pushbench.harness.throwaway_ca import make_tls_files
from tests.conftest import timeout
from tests.integration.cli import assert_refused_in_one_line, pushbench
from tests.integration.clients import poll, publish, room_name

#: ``pidfd_getfd(2)`` (Linux >= 5.6): a copy of another process's descriptor, to read the socket
#: options the server set on a connection it accepted.
_SYS_PIDFD_GETFD = 438


@pytest.fixture(params=SERVERS)
def asgi_server(request: pytest.FixtureRequest) -> str:
    """Each ASGI server in turn."""
    return str(request.param)


@pytest.fixture
def running(asgi_server: str, tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(ServerConfig(server=asgi_server), tmp_path / "server.log") as server:
        yield server


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _listening_port(pid: int) -> int | None:
    for process in _tree(pid):
        with contextlib.suppress(psutil.Error):
            for conn in process.net_connections("tcp"):
                if conn.status == psutil.CONN_LISTEN:
                    return int(conn.laddr.port)
    return None


async def _health_echo_and_poll(base: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as response:
            assert response.status == 200
            assert (await response.json())["status"] == "ok"
        room = room_name("srv")
        await publish(http, base, room, 1, payload="hello")
        status, body = await poll(http, base, room, after=0)
        assert status == 200
        assert [m["payload"] for m in body["messages"]] == ["hello"]
    async with websockets.connect("ws" + base.removeprefix("http") + "/ws") as ws:
        await ws.send("ping")
        assert await ws.recv() == "Your text was: ping"
        await ws.send(b"\x00\x01")
        assert await ws.recv() == b"\x00\x01"


def test_serve_runs_the_reference_server_under_each_server(asgi_server: str) -> None:
    """``pushbench serve --server X --port 0`` execs X itself: it answers /healthz, a poll after
    a publish, and /ws echo (text and binary)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pushbench.cli.app",
            "serve",
            "--server",
            asgi_server,
            "--port",
            "0",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout(30)
        port = None
        while port is None or not _answers(f"http://127.0.0.1:{port}/healthz"):
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, f"{asgi_server} did not start"
            port = _listening_port(process.pid)
            time.sleep(0.05)  # readiness probe pacing; the condition is what is waited for
        asyncio.run(_health_echo_and_poll(f"http://127.0.0.1:{port}"))
        assert process.pid in {p.pid for p in _tree(process.pid)}
        assert asgi_server in " ".join(psutil.Process(process.pid).cmdline())
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        process.wait(timeout(15))


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def test_the_launcher_serves_each_server_on_a_free_port(running: ServerProcess) -> None:
    assert running.port != 0
    assert _listening_port(running.pid) == running.port
    asyncio.run(_health_echo_and_poll(running.url))


def _accepted_nodelay(server: ServerProcess, client: socket.socket) -> int:
    """TCP_NODELAY of the server's end of ``client``'s connection."""
    libc = ctypes.CDLL(None, use_errno=True)
    client_port = client.getsockname()[1]
    for process in _tree(server.pid):
        for conn in process.net_connections("tcp"):
            if conn.raddr and conn.raddr.port == client_port and conn.fd >= 0:
                pidfd = os.pidfd_open(process.pid)
                try:
                    fd = libc.syscall(_SYS_PIDFD_GETFD, pidfd, conn.fd, 0)
                    if fd < 0:
                        pytest.skip(f"pidfd_getfd: {os.strerror(ctypes.get_errno())}")
                    with socket.socket(fileno=fd) as theirs:
                        return theirs.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                finally:
                    os.close(pidfd)
    raise AssertionError("the server holds no end of the client's connection")


def test_every_server_sets_tcp_nodelay_on_what_it_accepts(running: ServerProcess) -> None:
    """Nagle + delayed ACK would add ~40 ms to small responses: each server's accepted sockets
    have TCP_NODELAY (uvicorn and hypercorn inherit it from the harness's listening socket,
    granian sets it on the sockets its workers accept)."""
    with socket.create_connection((running.host, running.port), timeout=timeout(5)) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.recv(4096).startswith(b"HTTP/1.1 200")
        assert _accepted_nodelay(running, client) == 1


def test_pinning_reaches_every_thread_of_the_tree(running: ServerProcess) -> None:
    allowed = sorted(os.sched_getaffinity(0))
    cpus = allowed[:1]
    pin_server(running.pid, cpus)
    threads = [t.id for p in _tree(running.pid) for t in p.threads()]
    assert len(threads) >= 1
    assert all(os.sched_getaffinity(tid) == set(cpus) for tid in threads)


def _maps_uvloop(process: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return any("uvloop" in Path(m.path).parts for m in process.memory_maps(grouped=True))
    return False


def test_loop_auto_runs_uvloop_under_every_server(running: ServerProcess) -> None:
    """``--loop auto`` (the default) is the same event loop under every server: uvloop, as
    uvicorn picks it, not hypercorn's own asyncio worker. The process that serves has uvloop's
    extension loaded, whatever the server's own default."""
    asyncio.run(_health_echo_and_poll(running.url))
    assert any(_maps_uvloop(p) for p in _tree(running.pid))


def test_the_sampler_sees_the_master_and_its_workers(running: ServerProcess) -> None:
    sampler = TreeSampler(running.pid, interval_s=0.05)
    sampler.start()
    asyncio.run(_health_echo_and_poll(running.url))
    usage = sampler.stop()
    pids = {p.pid for p in usage.processes}
    assert pids == {p.pid for p in _tree(running.pid)}
    assert usage.cpu_s > 0
    assert usage.rss_peak_bytes > 10 * 2**20  # a Python process with the app imported


def test_each_server_dies_with_a_killed_harness(asgi_server: str, tmp_path: Path) -> None:
    """A harness killed with SIGKILL takes the server and every worker with it."""
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        import psutil
        from pushbench.harness.launcher import ServerProcess
        from pushbench.core.server_config import ServerConfig
        server = ServerProcess(
            ServerConfig(server={asgi_server!r}), Path({str(tmp_path / "server.log")!r})
        )
        server.start()
        root = psutil.Process(server.pid)
        print(*[p.pid for p in [root, *root.children(recursive=True)]], flush=True)
        os.kill(os.getpid(), 9)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout(60)
    )
    assert result.returncode == -9, result.stderr
    pids = [int(pid) for pid in result.stdout.split()]
    assert len(pids) >= 1
    tree = []
    for pid in pids:  # one already gone (NoSuchProcess) is what the test wants
        with contextlib.suppress(psutil.NoSuchProcess):
            tree.append(psutil.Process(pid))
    _, alive = psutil.wait_procs(tree, timeout=timeout(15))
    for process in alive:
        process.kill()
    assert alive == [], f"{asgi_server} outlived the process that launched it"


def test_serverbench_runs_under_hypercorn(tmp_path: Path) -> None:
    result = pushbench(
        "serverbench", "--server", "hypercorn",
            "--connections", "3", "--subscribers", "4", "--duration", "0.3", "--warmup", "0.1",
            "--repeat", "1", "--idle", "50", "--pollers", "2", "--out", str(tmp_path),
        timeout_s=90,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    document = load_results(tmp_path / "latest" / "results.json")
    assert document.config["asgi_server"]["name"] == "hypercorn"
    assert document.config["asgi_server"]["version"]
    assert document.environment.packages["hypercorn"] == document.config["asgi_server"]["version"]
    scenarios = {s.name: s for s in document.scenarios}
    assert set(scenarios) == {
        "echo/auto/reference",
        "echo/auto/bare",
        "fanout/auto",
        "poll/reference",
        "poll/bare",
    }
    assert all(s.params["server"] == "hypercorn" for s in document.scenarios)
    # --loop auto ran uvloop under hypercorn too, and the results say so (not "auto").
    assert document.config["loop"] == "uvloop"
    assert all(s.params["loop"] == "uvloop" for s in document.scenarios)
    assert all(s.errors == [] and s.throughput_msgs_per_s > 0 for s in document.scenarios)
    assert "hypercorn" in result.stdout  # the table's row says whose figures they are
    # hypercorn's sockets live in its worker process: their memory is measured there (the
    # process the launcher started stays flat, which read as 0 B per idle connection).
    for name in ("fanout/auto", "echo/auto/bare"):
        assert scenarios[name].params["idle_rss_bytes_per_connection"] > 1024, name


def test_ci_sweep_over_granian_and_uvicorn(tmp_path: Path) -> None:
    """``--server granian,uvicorn`` is a matrix axis: a configuration per server, the server in
    every scenario's params and its configuration's name, gated like any other (``--ci``)."""
    result = pushbench(
        "sweep", "--ci",
            "--server", "granian,uvicorn", "--workers", "1", "--loop", "uvloop",
            "--duration", "0.4", "--warmup", "0.1", "--push-rate", "200",
            "--p99-slo-ms", "1000", "--out", str(tmp_path),
        timeout_s=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    document = load_results(tmp_path / "latest" / "results.json")
    assert document.config["matrix"]["servers"] == ["granian", "uvicorn"]
    assert [r["name"] for r in document.config["asgi_servers"]] == ["granian", "uvicorn"]
    names = {s.name for s in document.scenarios}
    for workload in ("echo", "fanout", "poll", "push"):
        assert f"{workload}/w1/uvloop/granian" in names
        assert f"{workload}/w1/uvloop/websockets-sansio/httptools" in names
    assert {s.params["server"] for s in document.scenarios} == {"granian", "uvicorn"}
    assert all(s.errors == [] and s.throughput_msgs_per_s > 0 for s in document.scenarios)
    # The recommendation weighs the servers against each other, whichever wins here.
    assert "switch server to granian: " in result.stdout or "stay on uvicorn: " in result.stdout
    summary = (tmp_path / "latest" / "summary.md").read_text()
    assert "Served by granian " in summary
    assert "PASS" in result.stdout


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["serve", "--server", "granian", "--ws-impl", "wsproto"], "--server granian has no"),
        (["compare", "--server", "hypercorn", "--http-impl", "httptools"], "--server hypercorn"),
        (["serverbench", "--server", "granian", "--ws-impl", "websockets"], "granian has no"),
        (["ramp", "--server", "granian", "--http-impl", "h11"], "--server granian has no"),
        (["serve", "--server", "daphne"], "unknown server 'daphne'"),
        (["sweep", "--server", "uvicorn,daphne"], "--server: unknown daphne"),
    ],
)
def test_a_bad_server_combination_exits_2_with_one_line(
    argv: list[str], says: str, tmp_path: Path
) -> None:
    out = [] if argv[0] == "serve" else ["--out", str(tmp_path)]
    assert_refused_in_one_line(pushbench(*argv, *out, timeout_s=30), says, tmp_path)


def test_each_server_serves_https_and_wss_with_the_run_s_certificate(
    asgi_server: str, tmp_path: Path
) -> None:
    """``--ssl-keyfile/--ssl-certfile`` reach every server under its own option names: a client
    that trusts only the throwaway CA gets /healthz over https and an echo over wss."""
    files = make_tls_files(tmp_path / "tls")
    config = ServerConfig(
        server=asgi_server, ssl_keyfile=str(files.keyfile), ssl_certfile=str(files.certfile)
    )
    with trusting(files.ca_file), ServerProcess(config, tmp_path / "server.log") as server:
        assert server.url.startswith("https://")
        context = client_context()
        with urllib.request.urlopen(
            server.url + "/healthz", timeout=timeout(10), context=context
        ) as response:
            assert response.status == 200

        async def echo() -> object:
            async with websockets.connect(server.ws_url + "/ws", ssl=context) as ws:
                await ws.send("ping")
                return await ws.recv()

        assert asyncio.run(echo()) == "Your text was: ping"
