"""When a ramp stops and what it held: pure, from synthetic steps (no sockets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pushbench.core.ramp_stop import StopReason, held_load, stop_reason
from pushbench.core.schema import GeneratorCost, Scenario, load_results

FIXTURE = Path(__file__).parents[1] / "fixtures" / "results-v1.json"


def _step(**update: Any) -> Scenario:
    """A clean step (the golden fixture's ws scenario), then ``update`` on top."""
    base = load_results(FIXTURE).scenarios[0]
    clean = base.model_copy(
        update={
            "lost": 0,
            "errors": [],
            "publishes_attempted": base.publishes_sent,
            "generator": GeneratorCost(cpu_s=1.0, cpu_percent=20.0, saturated=False),
            "server": None,
            "latency_us": base.latency_us.model_copy(update={"p99": 5_000}),
        }
    )
    return clean.model_copy(update=update)


def test_a_clean_step_under_the_slo_goes_on() -> None:
    assert stop_reason(_step(), slo_p99_ms=50) is None


def test_p99_over_the_slo_stops_and_the_step_before_is_what_was_held() -> None:
    over = _step(latency_us=_step().latency_us.model_copy(update={"p99": 73_000}))
    stop = stop_reason(over, slo_p99_ms=50)
    assert stop is not None
    assert stop.reason is StopReason.SLO
    assert stop.text == "p99 73 ms over the SLO of 50 ms"
    first = _step(name="ws@50")
    assert held_load([first, over], stop) is first
    assert held_load([over], stop) is None


def test_a_saturated_generator_is_blamed_before_the_latency_it_caused() -> None:
    """The harness's limit, not the server's: said first, whatever else the step shows."""
    step = _step(
        generator=GeneratorCost(cpu_s=9.0, cpu_percent=97.0, saturated=True),
        lost=3,
        latency_us=_step().latency_us.model_copy(update={"p99": 900_000}),
    )
    stop = stop_reason(step, slo_p99_ms=50)
    assert stop is not None
    assert stop.reason is StopReason.GENERATOR
    assert stop.text.startswith("the load generator saturated (97% CPU): the generator, not the")


def test_a_generator_that_lagged_says_how_late_and_where_the_server_was() -> None:
    """Starved rather than busy (its CPU low): the lags it measured on itself are the evidence,
    the server's busiest process beside them."""
    golden = load_results(FIXTURE).scenarios[0]
    assert golden.server is not None
    step = _step(
        generator=GeneratorCost(cpu_s=1.0, cpu_percent=31.0, saturated=True),
        params={
            **golden.params,
            "generator_max_loop_lag_ms": 151.2,
            "publisher_max_schedule_lag_ms": 12.0,
        },
        server=golden.server.model_copy(update={"busiest_process_cpu_percent": 8.0}),
    )
    stop = stop_reason(step, slo_p99_ms=50)
    assert stop is not None
    assert stop.text == (
        "the load generator saturated (its event loop up to 151 ms late, the server's busiest "
        "process at 8% CPU): the generator, not the server, was the limit (from here the "
        "latencies are the harness's own)"
    )


def test_loss_stops_even_under_the_slo() -> None:
    stop = stop_reason(_step(lost=12, sent=10_000), slo_p99_ms=50)
    assert stop is not None
    assert (stop.reason, stop.text) == (StopReason.LOSS, "12 of 10,000 deliveries lost")


def test_an_error_makes_the_step_incomplete() -> None:
    stop = stop_reason(_step(errors=["subscriber failed: ConnectionResetError"]), slo_p99_ms=50)
    assert stop is not None
    assert stop.reason is StopReason.INCOMPLETE


@pytest.mark.parametrize("saturated", [True, False])
def test_a_saturated_server_that_met_the_slo_held_its_step(saturated: bool) -> None:
    golden = load_results(FIXTURE).scenarios[0]
    assert golden.server is not None
    server = golden.server.model_copy(
        update={"saturated": saturated, "busiest_process_cpu_percent": 99.0}
    )
    step = _step(server=server)
    stop = stop_reason(step, slo_p99_ms=50)
    if not saturated:
        assert stop is None
        return
    assert stop is not None
    assert stop.reason is StopReason.SERVER
    assert stop.step_held
    assert held_load([_step(), step], stop) is step
