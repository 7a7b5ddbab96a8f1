"""Run the ``pushbench`` command as a user would: a subprocess, no stdin, output captured."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import timeout


def pushbench(
    *args: str, timeout_s: float = 120.0, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m pushbench.cli.app ARGS``, its timeout scaled by ``PUSHBENCH_TIMEOUT_FACTOR``;
    never raises on a non-zero exit (the test looks at it)."""
    return subprocess.run(
        [sys.executable, "-m", "pushbench.cli.app", *args],
        capture_output=True,
        text=True,
        timeout=timeout(timeout_s),
        check=False,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


def assert_refused_in_one_line(
    result: subprocess.CompletedProcess[str], says: str, out: Path
) -> None:
    """Exit 2, one line on stderr that says ``says``, and nothing written to ``out``."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert says in lines[0]
    assert not list(out.iterdir())  # nothing was started or written
