"""``raise_open_files``: enough file descriptors for many sockets, or a clear refusal."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

from pushbench.harness.processes import raise_open_files


def test_refuses_past_the_hard_limit_and_says_how_to_fix_it() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no hard limit on open files here")
    with pytest.raises(OSError, match=rf"needs {hard + 1} open files but the hard limit is {hard}"):
        raise_open_files(hard + 1)
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (soft, hard)


def test_raises_the_soft_limit_up_to_what_is_needed() -> None:
    # In a child process: the test run's own limit stays as it was.
    script = (
        "import resource\n"
        "from pushbench.harness.processes import raise_open_files\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))\n"
        "raise_open_files(100)\n"
        "print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
        "raise_open_files(80)\n"
        "print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=30
    ).stdout.split()
    assert out == ["100", "100"]
