"""A subscriber that stops reading: the reference server keeps everyone else's stream whole; the
broadcast loop of FastAPI's documentation stops for everyone, and the scenario still ends on time
and says why."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvloop

from pushbench.core.kinds import Transport
from pushbench.core.server_config import ServerConfig
from pushbench.core.target_profile import BUILTIN_PROFILES
from pushbench.drivers.scenario import ScenarioSpec, run_scenario
from pushbench.harness.launcher import ServerProcess

pytestmark = pytest.mark.timing

ROOT = Path(__file__).parents[2]
# 16 KiB at 400 msgs/s: ~10 MB for the stalled socket within the run, past what the kernel's
# buffers (4 MiB send buffer here) can hide.
LOAD = {"rate_per_s": 400.0, "payload_bytes": 16384, "duration_s": 1.5, "warmup_s": 0.2}


def test_a_stalled_subscriber_costs_the_reference_server_s_other_subscribers_nothing(
    server: ServerProcess,
) -> None:
    spec = ScenarioSpec(Transport.WS, subscribers=5, stalled_subscribers=1, **LOAD)  # type: ignore[arg-type]
    run = uvloop.run(run_scenario(server.url, spec))
    assert run.errors == []
    assert run.integrity.delivered == run.integrity.sent == run.publish.sent_total * 5
    assert run.integrity.lost == 0
    assert spec.params()["stalled_subscribers"] == 1


@pytest.fixture
def docs_chat(tmp_path: Path) -> Iterator[ServerProcess]:
    config = ServerConfig(app="examples.docs_chat_app:app", app_dir=str(ROOT), health_path=None)
    with ServerProcess(config, tmp_path / "chat.log") as server:
        yield server


def test_a_stalled_subscriber_stops_the_documented_broadcast_for_everyone(
    docs_chat: ServerProcess,
) -> None:
    spec = ScenarioSpec(
        Transport.WS,
        subscribers=5,
        stalled_subscribers=1,
        profile=BUILTIN_PROFILES["fastapi-docs-chat"],
        **LOAD,  # type: ignore[arg-type]
    )
    started = time.monotonic()
    run = uvloop.run(run_scenario(docs_chat.url, spec))
    elapsed = time.monotonic() - started
    # Bounded: the schedule (1.7 s), the give-up on blocked sends (drain, 2 s), the drain (2 s).
    assert elapsed < 1.7 + 2 + 2 + 3
    assert run.integrity.lost > 0
    assert run.integrity.delivered < run.integrity.sent
    assert any(e.startswith("publishing blocked:") for e in run.errors), run.errors


def test_stalled_subscribers_are_websocket_clients_only() -> None:
    with pytest.raises(ValueError, match="ws scenarios only"):
        ScenarioSpec(Transport.SSE, stalled_subscribers=1)
