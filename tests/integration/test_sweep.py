"""One tiny real sweep through the CLI: two configurations, every workload, report and pick."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pushbench.core.interval_log import interval_log_name
from pushbench.core.schema import load_results
from tests.conftest import timeout
from tests.integration.cli import pushbench


def test_tiny_sweep_end_to_end(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pushbench.cli.app",
            "sweep",
            "--workers",
            "1",
            "--loop",
            "asyncio,uvloop",
            "--ws-impl",
            "websockets-sansio",
            "--http-impl",
            "httptools",
            "--duration",
            "0.5",
            "--warmup",
            "0.2",
            "--push-rate",
            "200",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=timeout(90),
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir() and not p.is_symlink()]
    document = load_results(run_dir / "results.json")
    assert document.kind == "sweep"
    assert not document.interrupted
    assert document.errors == []
    assert document.finished_at is not None
    names = [s.name for s in document.scenarios]
    assert names == [
        f"{workload}/w1/{loop}/websockets-sansio/httptools"
        for loop in ("asyncio", "uvloop")
        for workload in ("echo", "fanout", "poll", "push")
    ]
    # Every scenario's intervals also as an .hlog, as compare and serverbench write them.
    assert sorted(p.name for p in run_dir.glob("*.hlog")) == sorted(
        interval_log_name(s.name) for s in document.scenarios if s.intervals
    )
    assert any(s.intervals for s in document.scenarios)
    for scenario in document.scenarios:
        assert scenario.throughput_msgs_per_s > 0, scenario.name
        assert scenario.params["workers"] == 1
        assert scenario.params["broker"] == "memory"
        assert scenario.server is not None
        assert scenario.errors == [], scenario.name
    push = [s for s in document.scenarios if s.params["workload"] == "push"]
    assert all(s.lost == 0 for s in push)
    # 1 worker: every push connection (subscribers + publishers) on it.
    assert [s.params["connections_per_worker"] for s in push] == [[52], [52]]
    for name in ("report.html", "summary.md", "results.csv"):
        assert (run_dir / name).is_file()
    summary = (run_dir / "summary.md").read_text()
    assert "**Verdict:** Recommended: --workers 1" in summary
    assert "### What this run could not conclude" in summary
    assert "Recommended: --workers 1" in result.stdout
    assert 'id="chart-sweep"' in (run_dir / "report.html").read_text()


def test_tiny_ci_sweep_over_both_flavors(tmp_path: Path) -> None:
    """``--flavor asgi,fastapi`` is a matrix axis: one configuration per flavor, each on its own
    server, the flavor in every scenario's params, in the fastapi configuration's name, and
    gated like any other (``--ci``)."""
    result = pushbench(
        "sweep", "--ci",
            "--workers", "1", "--loop", "uvloop", "--flavor", "asgi,fastapi",
            "--duration", "0.5", "--warmup", "0.2", "--push-rate", "200",
            "--p99-slo-ms", "1000", "--out", str(tmp_path),
        timeout_s=90,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    document = load_results(tmp_path / "latest" / "results.json")
    assert document.config["matrix"]["flavors"] == ["asgi", "fastapi"]
    slugs = [
        "w1/uvloop/websockets-sansio/httptools",
        "w1/uvloop/websockets-sansio/httptools/fastapi",
    ]
    assert [s.name for s in document.scenarios] == [
        f"{workload}/{slug}" for slug in slugs for workload in ("echo", "fanout", "poll", "push")
    ]
    assert [s.params["flavor"] for s in document.scenarios] == ["asgi"] * 4 + ["fastapi"] * 4
    assert all(s.errors == [] and s.throughput_msgs_per_s > 0 for s in document.scenarios)
    # The terminal table may wrap a label within its cell: the Markdown table does not.
    summary = (tmp_path / "latest" / "summary.md").read_text()
    assert "| w1 uvloop websockets-sansio httptools fastapi |" in summary
    assert "PASS" in result.stdout  # the --ci gate ran on both flavors' scenarios
