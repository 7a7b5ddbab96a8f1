"""``pushbench plan --from-ramp``: a ramp run's held steps as the plan's inputs (pure, no
sockets), from a synthetic ramp built on the golden v1 fixture's WebSocket scenario."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pushbench.core.kinds import Transport
from pushbench.core.schema import ResultsDocument, Scenario, load_results
from pushbench.plan.inputs import read_inputs
from pushbench.plan.model import PlanRequest, Term, make_plan
from pushbench.plan.ramp_inputs import RampUnusable, held_limit_notes, ramp_inputs
from pushbench.plan.text import plan_document, plan_title

GOLDEN = load_results(Path(__file__).parents[1] / "fixtures" / "results-v1.json")
RUN_ID = "20261201-125521-ramp-cb51"
#: CPU seconds: the idle server over a step, and per delivery.
IDLE_S, PER_DELIVERY_S = 0.05, 40e-6


def _step(index: int, subscribers: int, stop: str | None = None, **update: Any) -> Scenario:
    """Step ``index`` of a ws subscriber ramp at 200 msgs/s for 2 s: its CPU follows known
    costs; ``stop``: the ramp ended here, for that reason."""
    base = GOLDEN.scenarios[0]
    assert base.server is not None
    sent = 200 * 2 * subscribers
    params: dict[str, Any] = {
        "rate_per_s": 200.0, "publishers": 2, "subscribers": subscribers, "payload_bytes": 64,
        "duration_s": 1.5, "warmup_s": 0.5, "ramp_step": index, "ramp_axis": "subscribers",
        "ramp_load": float(subscribers), "flavor": "asgi",
    }  # fmt: skip
    if stop is not None:
        params |= {"ramp_stop": f"the {stop} condition", "ramp_stop_reason": stop}
    step = base.model_copy(
        update={
            "name": f"ws@{subscribers}",
            "params": params,
            "sent": sent,
            "delivered": sent,
            "lost": 0,
            "errors": [],
            "throughput_msgs_per_s": 200.0 * subscribers,
            "server": base.server.model_copy(
                update={"cpu_s": IDLE_S + PER_DELIVERY_S * sent, "saturated": False}
            ),
        }
    )
    return step.model_copy(update=update)


def _ramp(*steps: Scenario, workers: int = 1) -> ResultsDocument:
    config = {
        "transports": ["ws", "sse"], "axis": "subscribers", "slo_p99_ms": 50.0,
        "server": {"workers": workers, "ws_impl": "auto", "flavor": "asgi"},
    }  # fmt: skip
    return GOLDEN.model_copy(
        update={"kind": "ramp", "run_id": RUN_ID, "config": config, "scenarios": list(steps)}
    )


HELD_AT_20 = _ramp(_step(0, 10), _step(1, 20), _step(2, 40, stop="slo"))


def test_the_steps_up_to_the_held_one_are_the_inputs_and_the_plan_names_the_ramp() -> None:
    ramp = ramp_inputs("ramp.json", HELD_AT_20)
    (limit,) = ramp.limits
    assert [s.name for s in limit.steps] == ["ws@10", "ws@20"]  # ws@40 broke the SLO
    inputs = read_inputs([], ramps=[ramp])
    assert [p.source for p in inputs.points] == [f"ramp {RUN_ID}: ws@10", f"ramp {RUN_ID}: ws@20"]
    assert [p.subscribers for p in inputs.points] == [10, 20]
    assert inputs.ramp_runs == [RUN_ID]
    assert any(
        note.startswith(f"ramp {RUN_ID} (ramp.json): ws held 20 subscribers at 200 msgs/s with p99")
        for note in inputs.notes
    )
    plan = make_plan(inputs, PlanRequest(clients=100, msgs_per_client_per_s=10))
    assert [t.name for t in plan.transports] == ["ws"]
    assert plan_title(plan).endswith(f"asgi flavor, measured by ramp {RUN_ID}")
    assert plan_document(plan, "plan-id", ["ramp.json"])["ramp_runs"] == [RUN_ID]
    # The fit recovers the cost per delivery the steps were made of.
    assert plan.transports[0].fit.costs[Term.DELIVERY] == pytest.approx(PER_DELIVERY_S)


def test_a_plan_beyond_what_the_ramp_held_on_one_worker_says_so() -> None:
    ramp = ramp_inputs("ramp.json", HELD_AT_20)
    inputs = read_inputs([], ramps=[ramp])
    within = make_plan(inputs, PlanRequest(clients=15, msgs_per_client_per_s=200))
    assert held_limit_notes(within, [ramp]) == []
    beyond = make_plan(inputs, PlanRequest(clients=50_000, msgs_per_client_per_s=200))
    (note,) = held_limit_notes(beyond, [ramp])
    workers = beyond.transports[0].workers.value
    assert workers is not None
    assert note.startswith(f"ws: the plan puts {50_000 / workers:,.0f} clients (")
    assert note.endswith("(ws held 20 subscribers at 200 msgs/s with p99 0.996 ms (SLO 50 ms))")


@pytest.mark.parametrize(
    ("document", "transports", "error"),
    [
        (
            GOLDEN,
            (),
            "--from-ramp ramp.json is a compare run, not a ramp run (give it with --from)",
        ),
        (
            _ramp(_step(0, 10, stop="loss")),
            (),
            f"ramp {RUN_ID}: nothing to plan from: ws held no step: the loss condition",
        ),
        (
            HELD_AT_20,
            (Transport.WS, Transport.SSE),
            f"ramp {RUN_ID} did not run sse (it ran: ws); plan the transports it ran with "
            "--transports, or ramp the others",
        ),
        (
            _ramp(_step(0, 10), workers=2),
            (),
            f"ramp {RUN_ID} ran 2 workers; the plan fits one worker's costs: ramp with --workers 1",
        ),
    ],
    ids=["another-kind", "no-held-step", "transport-not-ramped", "several-workers"],
)
def test_unusable_ramps_are_refused_in_one_line(
    document: ResultsDocument, transports: tuple[Transport, ...], error: str
) -> None:
    with pytest.raises(RampUnusable) as caught:
        ramp_inputs("ramp.json", document, transports)
    assert str(caught.value) == error


def test_a_transport_that_held_nothing_is_left_out_when_another_held() -> None:
    sse = _step(0, 10, stop="slo", name="sse@10", transport=Transport.SSE)
    ramp = ramp_inputs("ramp.json", _ramp(_step(0, 10), _step(1, 20, stop="slo"), sse))
    assert [(str(limit.transport), len(limit.steps)) for limit in ramp.limits] == [("ws", 1)]
    with pytest.raises(RampUnusable, match="sse held no step"):
        ramp_inputs("ramp.json", ramp.document, (Transport.SSE,))
