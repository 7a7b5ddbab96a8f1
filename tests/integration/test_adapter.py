"""The Python escape hatch: ``pushbench compare --profile MODULE:CLASS`` drives an app whose
binary, compressed frames no TOML profile can describe, and counts the gap and the duplicate the
app injects exactly; an adapter that does not load is refused in one line, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pushbench.core.schema import load_results
from tests.conftest import timeout

ROOT = Path(__file__).parents[2]
ADAPTER = "examples.binary_relay_adapter:BinaryRelayAdapter"
QUICK = ["--quick", "--duration", "0.6", "--warmup", "0.2", "--poll-interval", "0.1"]


def _compare(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pushbench.cli.app", "compare", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout(180),
        stdin=subprocess.DEVNULL,
    )


def test_an_adapter_drives_a_binary_app_and_its_faults_are_counted(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _compare(
        "--app", "tests.apps.faulty_binary_relay:app", "--app-dir", str(ROOT),
        "--profile", ADAPTER, *QUICK, "--out", str(out),
        cwd=tmp_path,  # the adapter is found through --app-dir, as the app is
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (run,) = [p for p in out.iterdir() if p.is_dir() and p.name != "latest"]
    document = load_results(run / "results.json")
    names = [s.name for s in document.scenarios]
    assert {"ws", "long-poll"} <= set(names)
    assert any(n.startswith("short-poll") for n in names)
    assert document.config["skipped"] == {"sse": "adapter 'binary-relay' offers no sse endpoint"}
    for scenario in document.scenarios:
        subscribers = scenario.params["subscribers"]
        assert scenario.params["profile"] == "binary-relay"
        assert scenario.publishes_sent is not None
        assert scenario.publishes_sent > 5
        # Every room loses message 4 and gets message 3 twice, for every subscriber.
        assert scenario.sent == scenario.publishes_sent * subscribers, scenario.name
        assert scenario.lost == subscribers, scenario.name
        assert scenario.duplicated == subscribers, scenario.name
        assert scenario.delivered == scenario.sent - subscribers, scenario.name
        # The "joined" frame holds no token: one unexpected frame per WebSocket subscriber.
        assert scenario.unexpected == (subscribers if scenario.name == "ws" else 0)
        assert scenario.latency_us.p50 > 0


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        (
            "examples.no_such_adapter:Adapter",
            'error: Error loading adapter. Could not import module "examples.no_such_adapter".',
        ),
        (
            "examples.binary_relay_adapter:Nope",
            'error: Error loading adapter. Attribute "Nope" not found in module '
            '"examples.binary_relay_adapter".',
        ),
        (
            "examples.binary_relay_adapter:struct",
            "error: adapter examples.binary_relay_adapter:struct: an Adapter subclass or "
            "instance, not a module",
        ),
    ],
)
def test_an_adapter_that_does_not_load_is_refused_in_one_line_with_exit_2(
    tmp_path: Path, profile: str, message: str
) -> None:
    out = tmp_path / "out"
    result = _compare(
        "--app", "examples.binary_relay_app:app", "--profile", profile, "--out", str(out), cwd=ROOT
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert " ".join(result.stderr.split()) == message
    assert not out.exists() or not any(out.iterdir())
