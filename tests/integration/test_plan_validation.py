"""Does the capacity model mean something? Fit it on two measured load levels, predict a third.

Three real ``pushbench compare`` runs (WebSocket and short polling every 0.1 s, 200 messages/s,
20, 40 and 60 subscribers): the CPU model of :mod:`pushbench.plan_fit`, fitted on 20 and 60
subscribers, must predict the server CPU measured at 40 within 20 %, for both transports. The
load keeps the server busy (15–50 % of a core) so that CPU follows the load rather than the fixed
cost of a scenario (start-up imports, connects), which the fit's ``fixed`` term takes.

Why the middle level, and why a second attempt: on this shared 2-core VM the CPU time one
scenario takes varies by ±30 % from run to run (WebSocket at 20 subscribers: 0.44 to 0.99 s
within an hour), with neighbours' load rather than with ours. Predicting 60 from 20 and 40
doubles that noise and missed 20 % in 4 of 11 measured tries; predicting 40 from 20 and 60 halves
it and missed in 1 of 9. A miss is therefore measured once more, from scratch; the 20 % bound is
never widened, and a model that is wrong misses twice.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pushbench.plan_fit import fit_cpu
from pushbench.plan_inputs import Point, read_inputs
from pushbench.schema import load_results
from tests.conftest import timeout

pytestmark = pytest.mark.slow

#: Subscribers at the two fitted load levels and at the predicted one.
FITTED, PREDICTED = (20, 60), 40
RATE, POLL_INTERVAL_S, DURATION_S, WARMUP_S = 200, 0.1, 4.0, 0.5
TOLERANCE = 0.20
ATTEMPTS = 2


def compare(out: Path, subscribers: int) -> dict[str, Point]:
    """One real compare run; its points by scenario name."""
    command = [
        sys.executable,
        "-m",
        "pushbench.cli",
        "compare",
        "--transports",
        "ws,short-poll",
        "--poll-interval",
        str(POLL_INTERVAL_S),
        "--subscribers",
        str(subscribers),
        "--rate",
        str(RATE),
        "--duration",
        str(DURATION_S),
        "--warmup",
        str(WARMUP_S),
        "--out",
        str(out),
    ]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout(120), check=False
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    path = out / "latest" / "results.json"
    inputs = read_inputs([(f"{subscribers} subscribers", load_results(path))])
    return {p.source.split(": ", 1)[1]: p for p in inputs.points}


def check(out: Path) -> tuple[list[str], list[str]]:
    """Measure the three levels, fit, predict: (report lines, misses)."""
    runs = {s: compare(out / f"s{s}", s) for s in (*FITTED, PREDICTED)}
    report = []
    misses = []
    for name in ("ws", f"short-poll@{POLL_INTERVAL_S:g}"):
        fit = fit_cpu([runs[s][name] for s in FITTED])
        target = runs[PREDICTED][name]
        predicted = fit.cpu_s(target)
        error = (predicted - target.cpu_s) / target.cpu_s
        fitted = ", ".join(f"{runs[s][name].cpu_s:.2f} s at {s}" for s in FITTED)
        costs = ", ".join(f"{term.value} {cost:.3g}" for term, cost in fit.costs.items())
        line = (
            f"{name}: fitted on {fitted} subscribers ({costs} CPU s per unit); at {PREDICTED} "
            f"predicted {predicted:.2f} s, measured {target.cpu_s:.2f} s ({error:+.0%})"
        )
        report.append(line)
        if abs(error) > TOLERANCE:
            misses.append(line)
    return report, misses


@pytest.mark.timeout(timeout(600))
def test_two_load_levels_predict_the_third_within_20_percent(tmp_path: Path) -> None:
    attempts = []
    for attempt in range(1, ATTEMPTS + 1):
        report, misses = check(tmp_path / f"attempt-{attempt}")
        attempts.append(f"attempt {attempt}:\n  " + "\n  ".join(report))
        print(attempts[-1])  # the numbers behind the README's check (pytest -s)
        if not misses:
            return
    pytest.fail(f"missed by more than {TOLERANCE:.0%} in every attempt:\n" + "\n".join(attempts))
