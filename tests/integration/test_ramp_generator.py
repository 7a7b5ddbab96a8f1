"""``pushbench ramp`` names the generator, not the server, as the limit when the generator is the
one that ran out: a real ramp against the reference server, whose second step runs while the
harness process is starved of CPU from outside (stopped 150 ms of every 250 ms, a 40 % share).

The starving is what a noisy neighbour or a too-small client machine does to a generator; the
ramp must see it from what the harness measures about itself (its event loop's lateness and the
publisher's lag behind its schedule) while the server, idle meanwhile, stays far from saturated.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pushbench.core.schema import load_results
from tests.conftest import timeout

pytestmark = pytest.mark.timing

ROOT = Path(__file__).parents[2]
#: Stopped, then running, per cycle: a stop lasts 3× the 50 ms lag that counts as saturated.
STOPPED_S, RUNNING_S = 0.15, 0.10


def _starve(process: subprocess.Popen[str], done: threading.Event) -> None:
    """SIGSTOP/SIGCONT ``process`` until it exits (the sleeps are the duty cycle, not a wait
    for anything); it is always left running."""
    try:
        while not done.is_set() and process.poll() is None:
            process.send_signal(signal.SIGSTOP)
            time.sleep(STOPPED_S)
            process.send_signal(signal.SIGCONT)
            time.sleep(RUNNING_S)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)


def test_a_starved_generator_is_named_as_the_limit_not_the_server(tmp_path: Path) -> None:
    out = tmp_path / "out"
    stdout = tmp_path / "stdout.txt"
    command = [
        sys.executable, "-m", "pushbench.cli.app", "ramp", "--no-pin",
        "--start", "5", "--step", "5", "--max-steps", "3", "--rate", "50",
        "--step-duration", "1.5", "--warmup", "0.3", "--slo-p99-ms", "2000", "--out", str(out),
    ]  # fmt: skip
    done = threading.Event()
    starver: threading.Thread | None = None
    lines: list[str] = []
    with stdout.open("w") as sink:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=sink, stderr=subprocess.PIPE, text=True,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            assert process.stderr is not None
            for line in process.stderr:
                lines.append(line)
                # The ramp says each step before it connects its subscribers: starve from the
                # second on.
                if line.startswith("step 2 ") and starver is None:
                    starver = threading.Thread(target=_starve, args=(process, done))
                    starver.start()
            process.wait(timeout(180))
        finally:
            done.set()
            if starver is not None:
                starver.join()
            if process.poll() is None:
                process.kill()
    stderr = "".join(lines)
    assert process.returncode == 0, stderr
    (run,) = [p for p in out.iterdir() if p.is_dir() and p.name != "latest"]
    document = load_results(run / "results.json")
    # The third step never ran: the ramp stopped at the starved one.
    assert [s.name for s in document.scenarios] == ["ws@5", "ws@10"], stderr
    held, starved = document.scenarios
    assert held.generator is not None
    assert not held.generator.saturated
    assert held.lost == 0
    assert held.delivered == held.sent > 0
    assert starved.params["ramp_stop_reason"] == "generator-saturated"
    assert starved.generator is not None
    assert starved.generator.saturated
    # Seen from the harness's own clock: its loop woke a stop's length late.
    assert starved.params["generator_max_loop_lag_ms"] > 100
    assert starved.server is not None
    assert not starved.server.saturated
    said = "the generator, not the server, was the limit"
    headline = stdout.read_text()
    assert "ws held 5 subscribers at 50 msgs/s with p99" in headline
    assert "the load generator saturated (its event loop up to" in headline
    assert said in headline
    for report in ("report.html", "summary.md"):
        assert said in (run / report).read_text(), report
