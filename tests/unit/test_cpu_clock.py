"""CPU time at nanosecond resolution: another process's CPU clock, checked against psutil."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from pushbench.harness.cpu_clock import CPU_CLOCK, CPU_RESOLUTION_NS, process_cpu_ns

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the ns CPU clock is Linux's"
)


def test_linux_reads_cpu_time_in_nanoseconds() -> None:
    assert (CPU_CLOCK, CPU_RESOLUTION_NS) == ("clock_gettime", 1)


def test_another_process_cpu_time_agrees_with_psutil_at_finer_resolution() -> None:
    # The child spins ~0.3 s of CPU, then waits for its stdin to close.
    spin = "import sys,time\nt=time.process_time()\nwhile time.process_time()-t<0.3: pass\n"
    child = subprocess.Popen(
        [sys.executable, "-c", spin + "print('spun', flush=True)\nsys.stdin.read()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "spun\n"
        process = psutil.Process(child.pid)
        readings = [process_cpu_ns(process) for _ in range(3)]
        times = process.cpu_times()
        ticks_ns = round((times.user + times.system) * 1e9)
        assert readings == sorted(readings)
        assert readings[0] >= 300_000_000
        assert abs(readings[-1] - ticks_ns) <= 20_000_000  # psutil: 10 ms ticks
        # Not a tick count: the ns clock is not rounded to 10 ms.
        assert any(reading % 10_000_000 for reading in readings)
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)
    with pytest.raises(psutil.Error):
        process_cpu_ns(process)


def test_own_process_matches_process_time() -> None:
    me = psutil.Process()
    before, clock_before = process_cpu_ns(me), time.process_time_ns()
    sum(i * i for i in range(200_000))
    spent, clock_spent = process_cpu_ns(me) - before, time.process_time_ns() - clock_before
    assert spent > 0
    assert abs(spent - clock_spent) < 5_000_000
