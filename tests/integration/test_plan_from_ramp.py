"""``pushbench plan --from-ramp``: a tiny real ramp of the reference server, then a plan fitted
on the steps it held, naming the ramp run; a ramp the plan cannot use is refused in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pushbench.core.schema import load_results
from pushbench.plan.cli import plan
from tests.conftest import timeout

pytestmark = pytest.mark.timing

ROOT = Path(__file__).parents[2]
GOLDEN = ROOT / "tests" / "fixtures" / "results-v1.json"
PLAN = ("--clients", "2000", "--msgs-per-client-per-s", "5")

app = typer.Typer()
app.command()(plan)


def _pushbench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pushbench.cli.app", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout(180),
        stdin=subprocess.DEVNULL,
    )


def _run_dir(out: Path) -> Path:
    (run,) = [p for p in out.iterdir() if p.is_dir() and p.name != "latest"]
    return run


@pytest.fixture(scope="module")
def ramp_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A three-step ws ramp that holds every step (an SLO of 2 s)."""
    out = tmp_path_factory.mktemp("ramp")
    result = _pushbench(
        "ramp", "--no-pin", "--start", "4", "--step", "8", "--max-steps", "3", "--rate", "40",
        "--step-duration", "1", "--warmup", "0.2", "--slo-p99-ms", "2000", "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return _run_dir(out) / "results.json"


def test_a_plan_from_a_real_ramp_fits_its_held_steps_and_names_the_run(
    ramp_results: Path, tmp_path: Path
) -> None:
    ramp = load_results(ramp_results)
    out = tmp_path / "plan"
    result = _pushbench("plan", "--from-ramp", str(ramp_results), *PLAN, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"measured by ramp {ramp.run_id}" in result.stdout
    run = _run_dir(out)
    document = json.loads((run / "plan.json").read_text(encoding="utf-8"))
    assert document["ramp_runs"] == [ramp.run_id]
    assert document["sources"] == [f"{ramp_results} (ramp run {ramp.run_id})"]
    (ws,) = document["transports"]
    fitted = [p["source"] for p in ws["cpu_model"]["points"]]
    assert fitted == [f"ramp {ramp.run_id}: {s.name}" for s in ramp.scenarios]
    assert ws["cpu_cores"]["value"] > 0
    assert ramp.run_id in (run / "plan.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ("--from-ramp", str(GOLDEN)),
            f"error: --from-ramp {GOLDEN} is a compare run, not a ramp run (give it with --from)",
        ),
        (("--transports", "ws,sse"), "did not run sse (it ran: ws)"),
    ],
    ids=["another-kind", "transport-not-ramped"],
)
def test_a_ramp_the_plan_cannot_use_is_one_line_and_exit_2(
    ramp_results: Path, tmp_path: Path, args: tuple[str, ...], error: str
) -> None:
    given = args if args[0] == "--from-ramp" else ("--from-ramp", str(ramp_results), *args)
    result = CliRunner().invoke(app, [*given, *PLAN, "--out", str(tmp_path)])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert said.startswith("error: "), said
    assert error in said, said
    assert said.count("error:") == 1
    assert not any(tmp_path.iterdir())
