"""``pushbench ramp``: the load grows step by step on one server until a step breaks the SLO; the
report says what was held. Against an app whose latency grows with its audience (known in
advance), and against the reference server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pushbench.core.schema import load_results
from tests.conftest import timeout

pytestmark = pytest.mark.timing

ROOT = Path(__file__).parents[2]
PROFILE = """
name = "slow-fanout"
[ws]
path = "/listen"
[publish.http]
url = "/say"
body = "{token} {payload}"
content_type = "text/plain"
"""


def _ramp(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pushbench.cli.app", "ramp", *args, "--no-pin"],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout(180),
        stdin=subprocess.DEVNULL,
    )


def _results(out: Path) -> Path:
    (run,) = [p for p in out.iterdir() if p.is_dir() and p.name != "latest"]
    return run


def test_the_ramp_stops_at_the_step_whose_p99_breaks_the_slo(tmp_path: Path) -> None:
    """4 listeners: ~4 ms to the last one, under 15 ms; 40: ~40 ms, over it. The third step
    is never run."""
    profile = tmp_path / "slow.toml"
    profile.write_text(PROFILE)
    out = tmp_path / "out"
    result = _ramp(
        "--app", "tests.apps.slow_fanout:app", "--app-dir", str(ROOT), "--profile", str(profile),
        "--start", "4", "--step", "36", "--max-steps", "3", "--rate", "10",
        "--step-duration", "1.5", "--warmup", "0.3", "--slo-p99-ms", "15", "--out", str(out),
        cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    run = _results(out)
    document = load_results(run / "results.json")
    assert [s.name for s in document.scenarios] == ["ws@4", "ws@40"]
    held, broke = document.scenarios
    assert held.latency_us.p99 < 15_000 < broke.latency_us.p99
    assert broke.params["ramp_stop_reason"] == "slo"
    assert [s.params["ramp_step"] for s in document.scenarios] == [0, 1]
    assert "ws held 4 subscribers at 10 msgs/s with p99" in result.stdout
    assert "over the SLO of 15 ms" in result.stdout
    html = (run / "report.html").read_text()
    assert "What each transport held" in html
    assert 'id="chart-ramp' in html


def test_every_step_the_reference_server_holds_is_kept(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _ramp(
        "--transports", "ws,short-poll", "--start", "5", "--step", "5", "--max-steps", "2",
        "--step-duration", "0.5", "--warmup", "0.2", "--rate", "50", "--poll-interval", "0.1",
        "--slo-p99-ms", "1000", "--out", str(out),
        cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = load_results(_results(out) / "results.json")
    names = [s.name for s in document.scenarios]
    assert names == ["ws@5", "ws@10", "short-poll@5", "short-poll@10"]
    assert [s.params["ramp_stop_reason"] for s in document.scenarios[1::2]] == ["max-steps"] * 2
    assert all(s.lost == 0 and s.delivered == s.sent > 0 for s in document.scenarios)


def test_a_flavor_with_your_own_app_is_refused_in_one_line(tmp_path: Path) -> None:
    result = _ramp(
        "--app", "examples.docs_chat_app:app", "--profile", "fastapi-docs-chat",
        "--flavor", "asgi", "--out", str(tmp_path),
        cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 2
    assert " ".join(result.stderr.split()) == (
        "error: --flavor chooses how the reference server serves; your app (--app/--profile) "
        "serves its own way"
    )
    assert not any(tmp_path.iterdir())
