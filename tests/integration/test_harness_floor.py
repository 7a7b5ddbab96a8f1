"""The harness's own floor: measured by the generator (loopback echo, publisher lateness),
printed next to the latencies, and latencies near it flagged."""

from __future__ import annotations

from pathlib import Path

import pytest
import uvloop

from pushbench.core.schema import load_results
from pushbench.drivers.floor import FLOOR_ROUND_TRIPS, measure_floor
from pushbench.report.table import harness_floor_note
from pushbench.report.verdict import findings

pytestmark = pytest.mark.timing

FIXTURE = Path(__file__).parents[1] / "fixtures" / "results-v1.json"


def test_the_floor_is_a_loopback_round_trip() -> None:
    floor = uvloop.run(measure_floor())
    assert floor.round_trips == FLOOR_ROUND_TRIPS
    assert 0 < floor.p50_us <= floor.p99_us < 100_000


def test_a_latency_within_twice_the_floor_is_flagged_and_the_floor_is_said() -> None:
    document = load_results(FIXTURE)
    ws = document.scenarios[0]
    floor = ws.latency_us.p50 * 0.6  # the ws p50 is then within 2x of it
    config = {**document.config, "harness_floor": {"echo_p50_us": floor, "echo_p99_us": floor}}
    params = {**ws.params, "publisher_lateness_p50_us": 40, "publisher_lateness_p99_us": 900}
    scenarios = [ws.model_copy(update={"params": params}), *document.scenarios[1:]]
    near = document.model_copy(update={"config": config, "scenarios": scenarios})
    texts = [f.text for f in findings(near)]
    assert any(t.startswith(f"{ws.name}: p50 ") and "harness's own floor" in t for t in texts)
    note = harness_floor_note(near)
    assert note is not None
    assert "publishers left at most p50 40 µs, p99 900 µs behind schedule" in note
    assert harness_floor_note(document) is None  # a run that did not measure it says nothing
    assert not [t for t in (f.text for f in findings(document)) if "floor" in t]
