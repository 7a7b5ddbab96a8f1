"""The "pushbench" tab in Locust's own web UI, in real headless Chromium, on a master with two
workers: live exact percentiles and integrity counts while the test runs, the final figures equal
to ``results.json`` once it stops, and the report behind the tab's link.

Locust runs in subprocesses (it monkey-patches sockets with gevent on import); the browser is
Debian's Chromium driven by Playwright (``scripts/ensure-chromium.sh`` installs it; skipped with
the reason when it is missing).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pushbench.core.schema import load_results
from pushbench.harness.chromium import CHROMIUM_ARGS, find_chromium
from pushbench.harness.launcher import ServerProcess
from tests.conftest import timeout

pytest.importorskip("playwright.sync_api", reason="playwright is not importable: make install")

from playwright.sync_api import Page, sync_playwright

CHROMIUM = find_chromium()
LOCUSTFILE = Path(__file__).parents[2] / "loadtests" / "locustfile.py"
WAIT_MS = timeout(30) * 1000
#: The tab's columns, in order (pushbench.locust.live.COLUMNS).
COLUMNS = [
    "name", "transport", "count", "p50", "p90", "p99", "p999", "max",
    "sent", "delivered", "lost", "duplicated", "reordered",
]  # fmt: skip

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Chromium not installed (no /usr/bin/chromium): run scripts/ensure-chromium.sh",
    ),
    pytest.mark.timeout(timeout(120)),
]


def _free_port() -> int:
    # Locust binds its own ports: the only way to give it free ones (a tiny race, loopback).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait_until(condition: Any, limit_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout(limit_s)
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)  # paces the re-check of the condition; it is not the synchronisation


def _reachable(url: str) -> bool:
    try:
        return _get(url)[0] == 200
    except OSError:
        return False


def _state(ui: str) -> str:
    state: str = json.loads(_get(ui + "/stats/requests")[1])["state"]
    return state


@pytest.fixture
def swarm(default_server: ServerProcess, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A Locust master (web UI, autostart) and two workers: (web UI URL, run directory)."""
    master_port, web_port = str(_free_port()), _free_port()
    run_dir = tmp_path / "run"
    log = (tmp_path / "master.log").open("w")
    master = subprocess.Popen(
        [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--master",
            "--master-bind-host", "127.0.0.1", "--master-bind-port", master_port,
            "--expect-workers", "2", "--web-host", "127.0.0.1", "--web-port", str(web_port),
            "--autostart", "--autoquit", "120", "-u", "6", "-r", "6", "-t", "10s",
            "--host", default_server.url, "--room", f"webui-{uuid.uuid4().hex[:10]}",
            "--pushbench-run-dir", str(run_dir), "--publish-rate", "20", "--drain-timeout", "3",
            "WebSocketSubscriberUser", "RoomPublisherUser",
        ],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(LOCUSTFILE),
                "--worker",
                "--master-host",
                "127.0.0.1",
                "--master-port",
                master_port,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        ui = f"http://127.0.0.1:{web_port}"
        _wait_until(lambda: _reachable(ui + "/"), 30, "Locust's web UI")
        yield ui, run_dir
    finally:
        for process in [master, *workers]:
            if process.poll() is None:
                process.kill()
            process.wait()
        log.close()


def _row(page: Page, name: str) -> dict[str, str]:
    row = page.locator("tbody tr").filter(has=page.locator("td", has_text=re.compile(f"^{name}$")))
    row.first.wait_for(timeout=WAIT_MS)
    return dict(zip(COLUMNS, row.first.locator("td").all_inner_texts(), strict=True))


def test_the_pushbench_tab_shows_live_exact_figures_and_links_the_report(
    swarm: tuple[str, Path],
) -> None:
    ui, run_dir = swarm
    with sync_playwright() as playwright:
        assert CHROMIUM is not None
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=WAIT_MS
        )
        page = browser.new_page()
        page.set_default_timeout(WAIT_MS)
        # Locust's page shows its start form until the test runs (autostart waits for both
        # workers), and it does not poll in that state: open it once the test runs.
        _wait_until(lambda: _state(ui) in ("spawning", "running"), 60, "the test to start")
        page.goto(ui + "/?tab=pushbench")
        page.get_by_role("tab", name="pushbench").wait_for()

        # Live: samples merged from the workers show while the test still runs.
        page.wait_for_function(
            """() => [...document.querySelectorAll('tbody tr')].some(tr => {
                const cells = [...tr.querySelectorAll('td')].map(td => td.innerText);
                return cells[0] === 'ws' && Number(cells[2]) > 0; })"""
        )
        live = _row(page, "ws")
        assert not (run_dir / "results.json").exists(), "the test had ended: not a live view"
        assert int(live["count"]) > 0
        assert int(live["p50"]) <= int(live["p99"])

        # The end: results.json is written; the tab's figures are the document's, exactly.
        _wait_until(lambda: (run_dir / "report.html").exists(), 60, "the report")
        document = load_results(run_dir / "results.json")
        assert document.config["workers"] == 2
        ws = next(s for s in document.scenarios if s.name == "ws")
        page.goto(ui + "/?tab=pushbench")
        page.wait_for_function(
            """() => [...document.querySelectorAll('tbody tr td')]
                .some(td => td.innerText.endsWith('/pushbench/report'))"""
        )
        final = _row(page, "ws")
        latency = ws.latency_us
        assert final == {
            "name": "ws", "transport": "ws", "count": str(latency.count),
            "p50": str(latency.p50), "p90": str(latency.p90), "p99": str(latency.p99),
            "p999": str(latency.p999), "max": str(latency.max), "sent": str(ws.sent),
            "delivered": str(ws.delivered), "lost": str(ws.lost),
            "duplicated": str(ws.duplicated), "reordered": str(ws.reordered),
        }  # fmt: skip
        assert ws.delivered > 0
        assert ws.lost == ws.duplicated == 0
        assert _row(page, "report")["transport"] == "/pushbench/report"
        assert json.loads(_get(ui + "/pushbench/live")[1])[0]["name"] == "ws"

        # The link (Locust's "Download Data" tab) opens the report.
        page.goto(ui + "/?tab=reports")
        link = page.get_by_role("link", name=re.compile("pushbench report"))
        href = link.get_attribute("href")
        assert href == "/pushbench/report"
        response = page.goto(ui + href)
        assert response is not None
        assert response.status == 200
        assert page.locator("h1").first.inner_text()  # the rendered report, not an error page
        assert "pushbench" in page.content()
        browser.close()
