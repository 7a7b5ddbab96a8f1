"""``compare --target URL`` launches no server: the options of the server it would launch are
refused (one line, exit 2) rather than silently ignored."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pushbench.cli.app import app


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--server", "granian"], "--server configures"),
        (["--server", "uvicorn"], "--server configures"),  # given, even as the default
        (["--workers", "2"], "--workers configures"),
        (["--loop", "uvloop"], "--loop configures"),
        (["--ws-impl", "wsproto"], "--ws-impl configures"),
        (["--http-impl", "h11"], "--http-impl configures"),
        (["--broker", "redis://127.0.0.1:6379/0"], "--broker configures"),
        (["--server", "hypercorn", "--workers", "2"], "--server, --workers configure"),
    ],
)
def test_server_options_with_target_exit_2_in_one_line(
    options: list[str], named: str, tmp_path: Path
) -> None:
    out = tmp_path / "reports"
    # Port 9 (discard): nothing is reached, the refusal comes before any connection.
    argv = ["compare", "--target", "http://127.0.0.1:9", *options, "--out", str(out)]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    text = " ".join(result.output.split())
    assert text.startswith(f"error: {named} the server compare launches"), text
    assert "--target is already running" in text
    assert not out.exists()
