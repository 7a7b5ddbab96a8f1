"""The printed figure is the validated one (issue 21): synthetic runs, no sockets.

The issue's scenario: runs at 10 and 40 subscribers at one publish rate (one room, so fan-out is
the subscriber count), whose CPU is an idle server plus costs per delivery and per publish. A
plan for 25 subscribers at that rate lies inside the measured range and must be the linear
interpolation of the two runs' cores, the idle server and the publishes included; a plan at
another publish rate cannot know the publish cost (the rate never varied) and must say so with
a range and the run that would identify it.
"""

from __future__ import annotations

import dataclasses

import pytest

from pushbench.plan.fit import Term, cores_range, fit_cpu, held_out, measured_rates
from pushbench.plan.html import render_plan_html
from pushbench.plan.inputs import Inputs, Point
from pushbench.plan.model import PlanRequest, make_plan
from pushbench.plan.text import plan_rows, render_plan_markdown

#: One worker's idle server (cores), and CPU seconds per delivery, publish and poll.
IDLE, PER_DELIVERY, PER_PUBLISH, PER_REQUEST = 0.017, 7e-6, 40e-6, 150e-6
RATE, SPAN_S = 100.0, 8.0


def run(transport: str, subscribers: int, rate: float = RATE, cpu_factor: float = 1.0) -> Point:
    """A run whose CPU follows the module's costs over its sampled seconds."""
    interval = 1.0 if transport == "short-poll" else None
    published = rate * SPAN_S
    delivered = round(published * subscribers)
    requests = round(subscribers * SPAN_S / interval) if interval else 0
    cpu = IDLE * SPAN_S + PER_DELIVERY * delivered + PER_PUBLISH * published
    cpu += PER_REQUEST * requests
    return Point(
        source=f"synthetic: {transport} S={subscribers} R={rate:g}",
        transport=transport,
        poll_interval_s=interval,
        subscribers=subscribers,
        published=published,
        delivered=delivered,
        requests=requests,
        span_s=SPAN_S,
        payload_bytes=64,
        cpu_s=cpu * cpu_factor,
        rss_peak_bytes=50_000_000 + 30_000 * subscribers,
        p50_us=1_000,
        p99_us=5_000,
        saturated=False,
        wall_s=SPAN_S,
    )


@pytest.mark.parametrize("transport", ["ws", "short-poll"])
def test_a_plan_inside_the_measured_range_is_the_linear_interpolation(transport: str) -> None:
    low, middle, high = (run(transport, s) for s in (10, 25, 40))
    interpolated = low.utilisation + (high.utilisation - low.utilisation) * 15 / 30
    assert middle.utilisation == pytest.approx(interpolated)  # the model is linear
    plan = make_plan(Inputs(points=[low, high]), PlanRequest(25, RATE, fanout=25))
    (planned,) = plan.transports
    # WebSocket pings (25 / 20 s) are priced as deliveries: 0.05 % of 2,500 deliveries/s.
    assert planned.cpu_cores.value == pytest.approx(interpolated, rel=1e-3)
    assert planned.cpu_cores.low is None  # the planned rates keep the measured proportions
    assert planned.workers.value == 1


def test_the_held_out_run_checks_the_figure_the_plan_prints() -> None:
    low, middle, high = (run("ws", s) for s in (10, 25, 40))
    fit = fit_cpu([low, high])
    (row,) = held_out(fit, [middle])
    assert row.how == "held out"
    assert row.predicted_cores == pytest.approx(fit.cores(measured_rates(middle)))
    assert row.predicted_cores == pytest.approx(middle.utilisation)
    assert abs(row.error_pct) < 1e-6
    assert fit.cost(Term.IDLE) == pytest.approx(IDLE + PER_PUBLISH * RATE)  # publishes in it


def test_a_cost_the_runs_did_not_separate_gives_a_range_and_the_run_to_add() -> None:
    points = [run("ws", s) for s in (10, 40)]
    plan = make_plan(Inputs(points=points), PlanRequest(100_000, 0.1, fanout=1))
    (ws,) = plan.transports
    cores = ws.cpu_cores
    assert cores.low is not None
    assert cores.high is not None
    assert cores.low == pytest.approx(cores.value)  # the fit puts the publishes in `idle`
    # All of the idle term could be publishing at 100/s (at 10,000 publishes/s), and all of
    # the delivery cost could be the connections' (100 deliveries/s each in every run).
    fit = ws.fit
    workers = ws.workers.value
    most_per_publish = fit.cost(Term.IDLE) / RATE
    most_per_connection = fit.cost(Term.DELIVERY) * RATE
    expected_high = (
        cores.value
        + most_per_publish * (10_000 - RATE * workers)
        + most_per_connection * (100_000 - (10_000 + 100_000 / 20) / RATE)  # pings priced too
    )
    assert cores.high == pytest.approx(expected_high)
    assert cores.high > 2 * cores.low
    connection = next(n for n in ws.notes if n.startswith("cost per connection"))
    assert "would identify it" in connection
    note = next(n for n in ws.notes if n.startswith("cost per publish"))
    assert "a run at another --rate with the same --subscribers would identify it" in note
    assert "range" in note
    row = plan_rows(plan)[0]
    assert "–" in row[1].text  # the table shows low–high, not one number
    assert "–" in render_plan_markdown(plan, "run-1")


def test_cores_range_is_one_number_when_every_term_is_identified() -> None:
    points = [run("ws", 10), run("ws", 40), run("ws", 25, rate=300)]
    fit = fit_cpu(points)
    assert Term.PUBLISH not in fit.aliases
    assert fit.cost(Term.PUBLISH) == pytest.approx(PER_PUBLISH)
    assert fit.cost(Term.IDLE) == pytest.approx(IDLE)
    rates = {Term.IDLE: 1.0, Term.DELIVERY: 10_000.0, Term.PUBLISH: 10_000.0}
    low, high, widening = cores_range(fit, rates)
    assert Term.PUBLISH not in widening
    assert low <= fit.cores(rates) <= high


def test_a_held_out_miss_beyond_20_percent_is_flagged_in_every_report() -> None:
    fitted = [run("ws", 10), run("ws", 40), run("ws", 25, rate=300)]
    good = run("ws", 25)
    bad = dataclasses.replace(run("ws", 60, rate=50), source="synthetic: off", cpu_s=1.0)
    plan = make_plan(Inputs(points=fitted), PlanRequest(25, RATE, fanout=25), holdout=[good, bad])
    (ws,) = plan.transports
    assert [row.point.source for row in ws.validation] == [good.source, "synthetic: off"]
    assert abs(ws.validation[0].error_pct) < 1e-6
    assert ws.validation[1].missed
    assert ws.validation_missed
    assert plan_rows(plan)[0][-1].text.startswith("⚠ ")
    markdown = render_plan_markdown(plan, "run-1")
    assert "beyond 20%, the CPU figure is not validated" in markdown
    assert "| synthetic: off | held out |" in markdown
    html = render_plan_html(plan, "run-1", [])
    assert 'id="validation"' in html
    assert "synthetic: off" in html


def test_without_held_out_runs_each_run_is_predicted_from_the_others() -> None:
    fitted = [run("ws", 10), run("ws", 40), run("ws", 25, rate=300), run("ws", 25)]
    plan = make_plan(Inputs(points=fitted), PlanRequest(25, RATE, fanout=25))
    (ws,) = plan.transports
    assert {row.how for row in ws.validation} == {"leave-one-out"}
    assert len(ws.validation) == 4
