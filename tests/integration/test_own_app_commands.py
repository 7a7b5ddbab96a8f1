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
    assert "examples.tutorial_app:app on http://127.0.0.1:0 (workers=1 loop=auto ws=wsproto" in text


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
