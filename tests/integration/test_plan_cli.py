"""``pushbench plan`` from the command line, on fixture files: files written, output, exit codes.

The command runs in process through typer's ``CliRunner``; one test runs the real console entry
point in a subprocess to pin the registration in ``pushbench.cli.app``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from pushbench.plan.cli import plan
from tests.conftest import timeout

FIXTURES = Path(__file__).parent.parent / "fixtures"
GOLDEN = FIXTURES / "results-v1.json"

app = typer.Typer()
app.command()(plan)
runner = CliRunner()

PLAN_100K = ("--clients", "100000", "--msgs-per-client-per-s", "0.1")


def run(*args: str | Path) -> Any:
    return runner.invoke(app, [str(a) for a in args])


def one_line(text: str) -> str:
    return " ".join(text.split())


def level(tmp_path: Path, name: str, subscribers: int, rate: float) -> Path:
    """The golden run moved to another load level: counts and CPU scaled to match."""
    data = json.loads(GOLDEN.read_text(encoding="utf-8"))
    factor = subscribers * rate / (10 * 200)
    for scenario in data["scenarios"]:
        scenario["params"]["subscribers"] = subscribers
        scenario["params"]["rate"] = rate
        for field in ("sent", "delivered"):
            scenario[field] = round(scenario[field] * factor)
        scenario["server"]["cpu_s"] = 0.3 + scenario["server"]["cpu_s"] * factor
        scenario["server"]["rss_peak_bytes"] += 30_000 * subscribers
        if scenario["http_requests"]:
            scenario["http_requests"] = round(scenario["http_requests"] * factor)
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_plan_writes_json_html_and_markdown(tmp_path: Path) -> None:
    result = run("--from", GOLDEN, *PLAN_100K, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in (tmp_path / "out").iterdir() if p.name != "latest"]
    assert "-plan-" in run_dir.name
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "plan.html",
        "plan.json",
        "plan.md",
        "plan.png",
    ]
    assert (run_dir / "plan.png").read_bytes().startswith(b"\x89PNG")
    document = json.loads((run_dir / "plan.json").read_text(encoding="utf-8"))
    assert document["plan_version"] == 2
    assert document["sources"] == [str(GOLDEN)]
    assert [t["name"] for t in document["transports"]] == [
        "ws",
        "short-poll@0.1",
        "long-poll",
        "sse",
    ]
    html = (run_dir / "plan.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 1
    assert "<script" not in html
    assert "| transport | CPU cores |" in (run_dir / "plan.md").read_text(encoding="utf-8")
    output = one_line(result.output)
    assert "pushbench plan: 100,000 clients, 0.1 messages/s each, fan-out 1" in output
    assert "proportional model" in output  # one run: the fallback is said out loud
    assert "connections per worker: 50,000 planned, 10 measured (5,000× above)" in output


def test_plan_fits_several_files(tmp_path: Path) -> None:
    files = [level(tmp_path, f"l{s}.json", s, 200) for s in (10, 40)]
    files.append(level(tmp_path, "l-rate.json", 10, 600))
    args = [arg for path in files for arg in ("--from", path)]
    result = run(*args, *PLAN_100K, "--poll-interval", "1,5", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "proportional" not in result.output
    (run_dir,) = [p for p in (tmp_path / "out").iterdir() if p.name != "latest"]
    document = json.loads((run_dir / "plan.json").read_text(encoding="utf-8"))
    names = [t["name"] for t in document["transports"]]
    assert names == ["ws", "short-poll@1", "short-poll@5", "long-poll", "sse"]
    ws = document["transports"][0]
    # The 0.3 s each scenario adds is the idle server over the seconds the server was sampled.
    generator = json.loads(GOLDEN.read_text(encoding="utf-8"))["scenarios"][0]["generator"]
    sampled_s = generator["cpu_s"] * 100 / generator["cpu_percent"]
    assert ws["cpu_model"]["cpu_s_per_unit"]["idle"] * sampled_s == pytest.approx(0.3)
    assert ws["memory_model"]["bytes_per_connection"] == pytest.approx(30_000)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing.json", "cannot read --from"),
        (lambda tmp: _write(tmp / "bad.json", "{not json"), "not valid JSON"),
        (lambda tmp: _write(tmp / "v9.json", '{"schema_version": 9}'), "is not supported"),
        (lambda tmp: FIXTURES / "results-v1-sweep.json", "no usable compare scenario"),
    ],
    ids=["missing", "not-json", "unknown-version", "no-compare-scenario"],
)
def test_bad_from_exits_2_with_one_clear_line(tmp_path: Path, make: Any, message: str) -> None:
    result = run("--from", make(tmp_path), *PLAN_100K, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert message in one_line(result.output)
    assert not (tmp_path / "out").exists()  # nothing written for unusable input


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--cpu-headroom", "1.5"), "CPU headroom must be in (0, 1]"),
        (("--poll-interval", "soon"), "--poll-interval takes seconds"),
        (("--fanout", "0"), "fan-out must be between 1 and the clients"),
    ],
)
def test_bad_options_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = run("--from", GOLDEN, *PLAN_100K, *args, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert message in one_line(result.output)


def test_missing_required_option_exits_2(tmp_path: Path) -> None:
    result = run("--from", GOLDEN, "--clients", "10", "--out", tmp_path)
    assert result.exit_code == 2


def test_registered_on_the_pushbench_command(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pushbench.cli.app",
        "plan",
        "--from",
        str(tmp_path / "no.json"),
    ]
    completed = subprocess.run(
        [*command, *PLAN_100K, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=timeout(60),
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert one_line(completed.stderr).startswith("error: cannot read --from")


def test_mixed_flavors_exit_2_and_a_chosen_flavor_is_planned(tmp_path: Path) -> None:
    from pushbench.core.schema import dump_results
    from tests.unit.test_framework_tax import two_flavors

    both = tmp_path / "both.json"
    both.write_text(dump_results(two_flavors()), encoding="utf-8")
    refused = run("--from", both, *PLAN_100K, "--out", tmp_path / "r")
    assert refused.exit_code == 2
    assert "several server flavors (asgi, fastapi)" in one_line(refused.output)
    assert not (tmp_path / "r").exists()
    chosen = run("--from", both, *PLAN_100K, "--flavor", "asgi", "--out", tmp_path / "r")
    assert chosen.exit_code == 0, chosen.output
    plan_json = tmp_path / "r" / "latest" / "plan.json"
    assert json.loads(plan_json.read_text())["flavor"] == "asgi"
    assert "asgi flavor" in one_line(chosen.output)
    bad = run("--from", both, *PLAN_100K, "--flavor", "flask", "--out", tmp_path / "r2")
    assert bad.exit_code == 2
    assert "unknown --flavor 'flask'" in one_line(bad.output)
