"""The launcher: servers on a free port, stopped cleanly, never left behind."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import psutil

from tests.conftest import timeout


def test_server_dies_with_a_killed_harness(tmp_path: Path) -> None:
    """A harness killed with SIGKILL (no cleanup runs) takes its server with it."""
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from pushbench.harness.launcher import ServerProcess
        from pushbench.core.server_config import ServerConfig
        server = ServerProcess(ServerConfig(), Path({str(tmp_path / "server.log")!r}))
        server.start()
        print(server.pid, flush=True)
        os.kill(os.getpid(), 9)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout(60)
    )
    assert result.returncode == -9
    server = psutil.Process(int(result.stdout.split()[0]))
    _, alive = psutil.wait_procs([server], timeout=timeout(15))
    for process in alive:
        process.kill()
    assert alive == [], "the server outlived the process that launched it"
