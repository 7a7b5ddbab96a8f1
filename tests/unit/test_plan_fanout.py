"""Fan-out apart from the connected clients, and the model's two forms (issue 21): no sockets.

Runs over several rooms make the cost per connection and the cost per delivery separable (one
room: deliveries are publishes × connections); a plan fits a linear and a falling form and keeps
the falling one only when it predicts the held-out runs better; a per-connection cost measured at
many messages per client is only an upper bound for clients that get far fewer.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from pushbench.core.kinds import Transport
from pushbench.plan.fit import Form, Term, fit_cpu, form_scores, missing_term
from pushbench.plan.inputs import Inputs, Point, read_inputs
from pushbench.plan.measure import design
from pushbench.plan.model import PlanRequest, make_plan
from pushbench.plan.text import validation_verdict
from tests.unit.test_plan import golden

IDLE, PER_CONNECTION, PER_DELIVERY, PER_PUBLISH, FALLING = 0.006, 130e-6, 11e-6, 150e-6, 4e-4
SPAN_S = 4.0


def run(rate: float, subscribers: int, rooms: int, falling: float = 0.0) -> Point:
    """A WebSocket run over ``rooms`` rooms whose CPU follows the module's costs."""
    published = rate * SPAN_S
    delivered = round(published * subscribers / rooms)
    cpu = (
        IDLE * SPAN_S
        + PER_CONNECTION * subscribers * SPAN_S
        + PER_DELIVERY * delivered
        + PER_PUBLISH * published
        + falling * math.sqrt(delivered * SPAN_S)
    )
    return Point(
        source=f"synthetic: ws R={rate:g} S={subscribers} rooms={rooms}",
        transport=Transport.WS,
        poll_interval_s=None,
        subscribers=subscribers,
        published=published,
        delivered=delivered,
        requests=0,
        span_s=SPAN_S,
        payload_bytes=64,
        cpu_s=cpu,
        rss_peak_bytes=50_000_000 + 20_000 * subscribers,
        p50_us=1_000,
        p99_us=4_000,
        saturated=False,
        wall_s=SPAN_S,
        rooms=rooms,
    )


def corners(falling: float = 0.0) -> list[Point]:
    return [run(r, s, k, falling) for r in (50, 150) for s in (10, 40) for k in (1, 5)]


def held(falling: float = 0.0) -> list[Point]:
    return [run(100, 24, 2, falling), run(300, 24, 2, falling), run(100, 24, 24, falling)]


def test_the_design_varies_fanout_apart_from_the_subscribers() -> None:
    scenarios = design([Transport.WS, Transport.SHORT_POLL], 1.0, 3.0, 1.0)
    ws = [d for d in scenarios if d.spec.transport == Transport.WS and d.role.fitted]
    assert {(d.spec.subscribers, d.spec.fanout) for d in ws} == {
        (10, 10),
        (10, 2),
        (40, 40),
        (40, 8),
    }
    assert all(d.spec.publishers % d.spec.rooms == 0 for d in scenarios)
    beyond = [d for d in scenarios if d.role.label == "beyond fan-out"]
    assert [d.spec.fanout for d in beyond] == [1, 1]  # the plan's usual fan-out, held out
    assert "F=1 (beyond fan-out)" in beyond[0].name
    # Held-out runs spread among the corners (not all last), in the same order every time.
    order = [d.role.fitted for d in scenarios if d.spec.transport == Transport.WS]
    assert order[0]
    assert order[-1]
    assert not all(order[:8])
    assert [d.name for d in design([Transport.WS], 1.0, 3.0, 1.0)] == [
        d.name for d in scenarios if d.spec.transport == Transport.WS
    ]


def test_rooms_separate_the_cost_per_connection_from_the_cost_per_delivery() -> None:
    fit = fit_cpu(corners())
    assert fit.cost(Term.CONNECTION) == pytest.approx(PER_CONNECTION, rel=1e-6)
    assert fit.cost(Term.DELIVERY) == pytest.approx(PER_DELIVERY, rel=1e-6)
    assert fit.cost(Term.PUBLISH) == pytest.approx(PER_PUBLISH, rel=1e-6)
    assert fit.cost(Term.IDLE) == pytest.approx(IDLE, rel=1e-6)


def test_a_rooms_run_reads_its_publishes_from_deliveries_owed_over_fanout() -> None:
    document = golden()
    scenario = document.scenarios[0]  # ws, 10 subscribers
    params = scenario.params | {"rooms": 5}
    rooms = document.model_copy(
        update={"scenarios": [scenario.model_copy(update={"params": params})]}
    )
    one, five = (read_inputs([("r.json", d)]).points[0] for d in (document, rooms))
    assert five.rooms == 5
    assert five.fanout == 2
    assert five.published == 5 * one.published  # the same deliveries owed, fan-out 2 not 10


def test_the_falling_form_is_kept_only_when_it_predicts_the_held_out_runs_better() -> None:
    fit, rows, scores = form_scores(corners(falling=FALLING), held(falling=FALLING))
    assert fit.form == Form.FALLING
    assert fit.cost(Term.FALLING) == pytest.approx(FALLING, rel=1e-6)
    assert all(abs(row.error_pct) < 1e-6 for row in rows)
    linear, falling = scores
    assert (linear.form, linear.chosen, falling.chosen) == (Form.LINEAR, False, True)
    assert linear.mean_abs_pct > falling.mean_abs_pct

    fit, _, scores = form_scores(corners(), held())
    assert fit.form == Form.LINEAR
    assert [s.chosen for s in scores] == [True, False]
    assert "fitted as 0" in scores[1].note


def test_workers_carry_the_falling_forms_per_worker_cost() -> None:
    inputs = Inputs(points=corners(falling=FALLING))
    plan = make_plan(inputs, PlanRequest(20_000, 20.0, fanout=20), held(falling=FALLING))
    (ws,) = plan.transports
    assert ws.fit.form == Form.FALLING
    workers = ws.workers.value or 0
    assert (ws.cpu_cores.value or 0) <= 0.7 * workers
    assert plan.cores_at("ws", 20_000) == pytest.approx(ws.cpu_cores.value)


def test_a_connection_cost_measured_at_many_messages_is_an_upper_bound_for_few() -> None:
    plan = make_plan(Inputs(points=corners()), PlanRequest(100_000, 0.1, fanout=1), held())
    (ws,) = plan.transports
    cpu = ws.cpu_cores
    share = PER_CONNECTION * 100_000
    assert cpu.high == pytest.approx(cpu.value)
    assert cpu.low == pytest.approx((cpu.value or 0) - share, rel=1e-6)
    assert any("cost per connection" in n and "upper bound" in n for n in ws.notes)
    # At the measured messages per client the figure is one number.
    inside = make_plan(Inputs(points=corners()), PlanRequest(1_000, 20.0, fanout=10), held())
    assert inside.transports[0].cpu_cores.low is None


def test_a_missed_held_out_run_names_the_term_that_misses() -> None:
    dear = run(300, 24, 2)
    dear = dataclasses.replace(dear, cpu_s=dear.cpu_s + PER_PUBLISH * dear.published)
    plan = make_plan(Inputs(points=corners()), PlanRequest(1_000, 20.0, fanout=10), [dear])
    (ws,) = plan.transports
    assert ws.validation_missed
    missing = missing_term(ws.fit, ws.validation)
    assert missing is not None
    term, before, after = missing
    assert term is Term.PUBLISH
    assert before == pytest.approx(PER_PUBLISH)
    assert after > before
    assert "the term that misses: the cost per publish, 150 µs fitted" in validation_verdict(ws)
