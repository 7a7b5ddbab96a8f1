"""Scenarios over several rooms: fan-out apart from the connected clients (issue 21).

Each subscriber is owed its own room's messages only: over four rooms, 8 subscribers and 4
publishers at 40 messages/s deliver 40 × 2 = 80 messages/s (fan-out 2), not 40 × 8, and nothing
is lost, duplicated or unexpected.
"""

from __future__ import annotations

import pytest
import uvloop

from pushbench.drivers.scenario import ScenarioSpec, run_scenario
from pushbench.harness.launcher import ServerProcess


@pytest.fixture
def server(default_server: ServerProcess) -> ServerProcess:
    return default_server


@pytest.mark.parametrize("transport", ["ws", "short-poll"])
def test_each_subscriber_gets_its_rooms_messages_only(
    server: ServerProcess, transport: str
) -> None:
    spec = ScenarioSpec(
        transport,
        rate_per_s=40.0,
        publishers=4,
        subscribers=8,
        rooms=4,
        duration_s=1.0,
        warmup_s=0.2,
        poll_interval_s=0.1 if transport == "short-poll" else None,
    )
    run = uvloop.run(run_scenario(server.url, spec))
    assert run.errors == []
    sent = run.publish.sent_total
    assert sent >= 40
    counts = run.integrity
    assert (counts.lost, counts.duplicated, counts.unexpected) == (0, 0, 0)
    # Every message is owed to, and reaches, the 2 subscribers of its room: sent × fan-out.
    assert counts.sent == counts.delivered == sent * 2
    assert spec.params()["rooms"] == 4
