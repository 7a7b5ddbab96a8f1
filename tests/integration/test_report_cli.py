"""``pushbench report`` and ``pushbench gate`` from the command line: files written, exit codes.

Most tests drive the two commands through typer's ``CliRunner`` (in process, fast); one runs the
real console entry point in a subprocess to pin the registration and the one-line error.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from pushbench.cli.report import gate, report
from tests.conftest import timeout

FIXTURES = Path(__file__).parent.parent / "fixtures"
GOLDEN = FIXTURES / "results-v1.json"
LOSSY = FIXTURES / "results-v1-lossy.json"

app = typer.Typer()
app.command()(report)
app.command()(gate)

runner = CliRunner()


def run(*args: str | Path) -> Any:
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """A copy of the golden results in a run folder of its own."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    return Path(shutil.copy(GOLDEN, run_dir / "results.json"))


def edited(tmp_path: Path, name: str, edit: dict[str, dict[str, Any]]) -> Path:
    """The golden results with scenario fields changed: ``{scenario: {field: value}}``; a dict
    value for ``latency_us`` or ``server`` updates those sub-objects."""
    data = json.loads(GOLDEN.read_text(encoding="utf-8"))
    for scenario in data["scenarios"]:
        for field, value in edit.get(scenario["name"], {}).items():
            if isinstance(value, dict):
                scenario[field].update(value)
            else:
                scenario[field] = value
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# --- report --------------------------------------------------------------------------------------


def test_report_writes_next_to_the_results(results: Path) -> None:
    result = run("report", results)
    assert result.exit_code == 0, result.stderr
    for name in ("report.html", "summary.md", "results.csv"):
        assert (results.parent / name).stat().st_size > 0
    assert "short-poll-100ms" in result.stdout  # the comparison table
    assert "WebSocket push delivered every message" in result.stdout  # the verdict
    assert "report.html" in result.stderr


def test_report_out_writes_a_run_folder(results: Path, tmp_path: Path) -> None:
    result = run("report", results, "--out", tmp_path / "reports")
    assert result.exit_code == 0, result.stderr
    out = tmp_path / "reports" / "20261124T130000Z-golden"
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "results.csv", "summary.md"]
    assert "<svg " in (out / "report.html").read_text(encoding="utf-8")


def test_report_of_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = run("report", tmp_path / "nope.json")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "cannot read results" in result.stderr


def test_report_that_cannot_be_written_exits_1(results: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    result = run("report", results, "--out", blocker)
    assert result.exit_code == 1
    assert "cannot write the report" in result.stderr


# --- gate: verdicts ------------------------------------------------------------------------------


def test_gate_passes(results: Path) -> None:
    result = run(
        "gate", results, "--slo", "ws.latency_us.p99<=5000", "--slo", "sse.lost==0",
        "--baseline", results,
    )  # fmt: skip
    assert result.exit_code == 0, result.stdout + result.stderr
    for heading in ("check", "measured", "limit", "verdict"):
        assert heading in result.stdout
    assert "ws.latency_us.p99 <= 5000" in result.stdout
    assert "PASS" in result.stdout
    assert "Baseline: ratio current / baseline" in result.stdout  # says how it compares


def test_gate_fails_on_an_slo(results: Path) -> None:
    result = run("gate", results, "--slo", "short-poll-100ms.lost==0")
    assert result.exit_code == 1
    assert "FAIL: 1 of 2 checks failed" in result.stdout


def test_gate_fails_on_a_regression(results: Path, tmp_path: Path) -> None:
    # The baseline was faster: long-poll p99 3000 µs, now 4463 µs (x1.49).
    baseline = edited(tmp_path, "base.json", {"long-poll": {"latency_us": {"p99": 3000}}})
    result = run("gate", results, "--baseline", baseline)
    assert result.exit_code == 1
    assert "long-poll latency_us.p99 vs baseline" in result.stdout
    assert "FAIL: 1 of" in result.stdout
    # ... and passes once 50 % worse is allowed.
    result = run("gate", results, "--baseline", baseline, "--max-regression", "50")
    assert result.exit_code == 0, result.stdout


def test_gate_fails_an_interrupted_run() -> None:
    result = run("gate", LOSSY)
    assert result.exit_code == 1
    assert "run complete" in result.stdout


def test_gate_fails_a_run_whose_target_died(tmp_path: Path) -> None:
    # The error stays in its scenario, nothing was lost of what was sent, not interrupted.
    died = edited(
        tmp_path,
        "died.json",
        {"ws": {"publishes_sent": 900, "errors": ["publishing failed 4.5 s into the schedule"]}},
    )
    result = run("gate", died, "--slo", "*.lost<=10")
    assert result.exit_code == 1, result.stdout
    assert re.search(r"run complete\s*│\s*no\s*│\s*complete\s*│\s*FAIL", result.stdout)
    reasons = " ".join(result.stdout.split())
    assert "✗ run complete: ws: 1,100 of 2,000 publishes failed; ws: publishing failed 4.5 s" in (
        reasons
    )
    assert "FAIL: 1 of" in result.stdout


# --- gate: unusable input ------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda tmp, ok: ["gate", tmp / "missing.json"], "cannot read results"),
        (lambda tmp, ok: ["gate", write(tmp / "bad.json", "{not json")], "not valid JSON"),
        (
            lambda tmp, ok: ["gate", write(tmp / "v9.json", '{"schema_version": 9}')],
            "schema_version 9 is not supported",
        ),
        (lambda tmp, ok: ["gate", write(tmp / "list.json", "[]")], "expected a JSON object"),
        (lambda tmp, ok: ["gate", ok, "--slo", "ws.latency.p99<=5"], "bad SLO"),
        (lambda tmp, ok: ["gate", ok, "--slo", "ws.lost<=lots"], "is not a number"),
        (lambda tmp, ok: ["gate", ok, "--baseline", tmp / "gone.json"], "cannot read baseline"),
        (lambda tmp, ok: ["gate", ok, "--config", tmp / "gone.toml"], "cannot read gate config"),
        (
            lambda tmp, ok: ["gate", ok, "--config", write(tmp / "g.toml", "slo = 'x'")],
            "bad SLO 'x'",
        ),
        (lambda tmp, ok: ["gate", LOSSY, "--slo", "short-poll.lost==0"], "ambiguous"),
        (lambda tmp, ok: ["gate", ok, "--max-regression", "-1"], "--max-regression"),
    ],
)
def test_gate_on_unusable_input_exits_2(
    tmp_path: Path, results: Path, make_args: Any, message: str
) -> None:
    result = run(*make_args(tmp_path, results))
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


# --- gate: configuration -------------------------------------------------------------------------


def test_gate_reads_pyproject_in_the_working_directory(
    results: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path / "pyproject.toml",
        '[tool.pushbench.gate]\nslo = ["*.lost==0"]\nbaseline = "run/results.json"\n',
    )
    monkeypatch.chdir(tmp_path)
    result = run("gate", results)
    assert result.exit_code == 1  # short-poll-100ms lost 10
    assert "short-poll-100ms.lost == 0" in result.stdout
    assert "ws latency_us.p99 vs baseline" in result.stdout  # the configured baseline
    # Command-line options add SLOs and override the rest.
    result = run("gate", results, "--config", write(tmp_path / "empty.toml", ""))
    assert result.exit_code == 0, result.stdout


def test_gate_config_file(results: Path, tmp_path: Path) -> None:
    config = write(tmp_path / "gate.toml", 'slo = ["ws.throughput_msgs_per_s>=1000"]\n')
    result = run("gate", results, "--config", config, "--slo", "sse.latency_us.p99<=2000")
    assert result.exit_code == 0, result.stdout
    assert "ws.throughput_msgs_per_s >= 1000" in result.stdout
    assert "sse.latency_us.p99 <= 2000" in result.stdout


# --- the real entry point ------------------------------------------------------------------------


def test_console_entry_point(tmp_path: Path, results: Path) -> None:
    command = [sys.executable, "-m", "pushbench.cli.app", "gate"]
    ok = subprocess.run(
        [*command, str(results), "--slo", "ws.lost==0"],
        capture_output=True,
        text=True,
        timeout=timeout(60),
        check=False,
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
    assert "ws.lost == 0" in ok.stdout
    bad = subprocess.run(
        [*command, str(tmp_path / "missing.json")],
        capture_output=True,
        text=True,
        timeout=timeout(60),
        check=False,
        cwd=tmp_path,
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr.startswith("error: cannot read results")
    assert bad.stderr.count("\n") == 1
