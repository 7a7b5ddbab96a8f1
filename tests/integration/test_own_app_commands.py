"""``--app``/``--app-dir``/``--factory``/``--profile`` on ``serve``, ``serverbench`` and
``sweep``: the same names as ``compare``, the same one-line refusals with exit 2."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from websockets.sync.client import connect

from pushbench.core.schema import load_results
from tests.conftest import timeout

ROOT = Path(__file__).parents[2]
_RUNNING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


def _pushbench(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pushbench.cli.app", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout(60),
        stdin=subprocess.DEVNULL,
    )


def test_serve_runs_the_users_app_under_uvicorn(tmp_path: Path) -> None:
    """``serve --app`` with ``--app-dir`` from elsewhere: the tutorial answers on the port
    uvicorn chose (``--port 0``, read from its log)."""
    log_path = tmp_path / "serve.log"
    args = [sys.executable, "-m", "pushbench.cli.app", "serve", "--port", "0"]
    args += ["--app", "examples.tutorial_app:app", "--app-dir", str(ROOT), "--ws-impl", "wsproto"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            args, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout(30)
        while (found := _RUNNING.search(log_path.read_text())) is None:
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)  # readiness probe back-off: the log line is the condition
        with connect(f"ws://127.0.0.1:{found[1]}/ws") as ws:
            ws.send("hello")
            assert ws.recv(timeout=timeout(5)) == "Your text was: hello"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout(20))
    text = " ".join(log_path.read_text().split())
    banner = "examples.tutorial_app:app on http://127.0.0.1:0 (uvicorn workers=1 loop=uvloop"
    assert f"{banner} ws=wsproto" in text


@pytest.mark.parametrize("command", ["serve", "serverbench", "sweep"])
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--app", "examples.no_such_app:app", "--profile", "tutorial"],
            'error: Error loading ASGI app. Could not import module "examples.no_such_app".',
        ),
        (
            ["--app", "examples.tutorial_app:nope", "--profile", "tutorial"],
            'error: Error loading ASGI app. Attribute "nope" not found in module '
            '"examples.tutorial_app".',
        ),
        (
            ["--app", "examples.docs_chat_app:app", "--profile", "fastapi-docs-chat",
             "--flavor", "asgi"],
            "error: --flavor chooses how the reference server serves; your app (--app/--profile) "
            "serves its own way",
        ),
    ],
)  # fmt: skip
def test_what_cannot_be_used_is_refused_in_one_line_with_exit_2(
    tmp_path: Path, command: str, args: list[str], message: str
) -> None:
    if command == "serve":  # serve drives nothing: it takes no profile
        at = args.index("--profile")
        args = args[:at] + args[at + 2 :]
    out = ["--out", str(tmp_path / "out")] if command != "serve" else []
    result = _pushbench(command, *args, *out)
    assert result.returncode == 2, result.stderr
    assert " ".join(result.stderr.split()) == message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["serverbench", "sweep"])
def test_a_bad_profile_is_refused_naming_its_key(tmp_path: Path, command: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[echo]\npath = "/ws"\nframe = "hi"\n')
    result = _pushbench(
        command, "--app", "examples.tutorial_app:app", "--profile", str(bad),
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert " ".join(result.stderr.split()) == (
        f"error: {bad}: echo.frame: no {{token}} in 'hi': receivers would have nothing to find"
    )


def test_a_ci_sweep_of_the_documented_chat_recommends_from_what_it_offers(tmp_path: Path) -> None:
    """The issue's ``pushbench sweep --app examples.docs_chat_app:app --profile
    fastapi-docs-chat --ci``, one worker count to keep it short: fan-out and push run in
    tokens, echo and polls are skipped with the reason, and a configuration is recommended."""
    result = subprocess.run(
        [sys.executable, "-m", "pushbench.cli.app", "sweep", "--app", "examples.docs_chat_app:app",
         "--profile", "fastapi-docs-chat", "--ci", "--workers", "1", "--duration", "0.5",
         "--warmup", "0.2", "--push-rate", "200", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout(120),
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir() and not p.is_symlink()]
    document = load_results(run_dir / "results.json")
    assert [s.name for s in document.scenarios] == [
        f"{workload}/w1/{loop}/websockets-sansio/httptools"
        for loop in ("asyncio", "uvloop")
        for workload in ("fanout", "push")
    ]
    assert document.config["skipped_workloads"] == {
        "echo": "profile 'fastapi-docs-chat' offers no echo endpoint",
        "poll": "profile 'fastapi-docs-chat' offers no short-poll endpoint",
    }
    assert "echo not measured: profile 'fastapi-docs-chat' offers no echo endpoint" in (
        document.warnings
    )
    for scenario in document.scenarios:
        assert scenario.params["profile"] == "fastapi-docs-chat"
        assert scenario.params["broker"] == "app"
        assert scenario.throughput_msgs_per_s > 0, scenario.name
        assert scenario.errors == [], scenario.name
        assert scenario.unexpected == 0, scenario.name
    push = [s for s in document.scenarios if s.params["workload"] == "push"]
    assert all(s.lost == 0 and s.delivered == s.sent > 0 and s.latency_us.p99 > 0 for s in push)
    assert "connections_per_worker" not in push[0].params  # the app has no /metrics of ours
    assert "Recommended: --workers 1" in result.stdout
    assert "(the app's own state)" in result.stdout
