"""The micro-benchmarks run once each (``--benchmark-disable``), so they cannot rot.

``benchmarks/micro`` is outside ``testpaths``: ``make test`` reaches it only through this test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import timeout

pytestmark = pytest.mark.timing

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_micro_benchmarks_smoke_pass(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "benchmarks/micro",
            "--benchmark-disable",
            "-q",
            "-p",
            "no:cacheprovider",
            "--basetemp",
            str(tmp_path / "pytest"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout(60),
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
    assert " passed" in completed.stdout


def test_microbench_compare_without_a_saved_run_says_what_to_do(tmp_path: Path) -> None:
    """Not pytest-benchmark's UsageError traceback: one line naming the command to run first."""
    completed = subprocess.run(
        ["make", "--no-print-directory", "microbench-compare", f"MICRO_STORAGE={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout(60),
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert "run 'make microbench' first" in completed.stderr
    assert "UsageError" not in completed.stdout + completed.stderr
