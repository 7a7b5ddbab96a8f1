"""The capacity model: least squares, inputs from results files, fits, predictions, notes, errors.

Synthetic scenarios whose CPU follows known costs check that the fit recovers them exactly; the
golden v1 fixture checks reading real documents (and the single-run proportional fallback).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest

from pushbench.core import wire_bytes
from pushbench.core.least_squares import independent_columns, lstsq, nnls
from pushbench.core.schema import ResultsDocument, load_results
from pushbench.plan.fit import fit_cpu, fit_memory
from pushbench.plan.inputs import Inputs, Point, read_inputs
from pushbench.plan.model import (
    LONG_POLL_WAIT_S,
    WS_PING_INTERVAL_S,
    PlanError,
    PlanRequest,
    Term,
    make_plan,
)
from pushbench.plan.text import (
    grouped_notes,
    plan_document,
    plan_rows,
    render_plan_markdown,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"

#: The costs the synthetic scenarios are made of: CPU seconds per unit.
FIXED, PER_DELIVERY, PER_PUBLISH, PER_REQUEST = 0.2, 30e-6, 80e-6, 150e-6


def golden() -> ResultsDocument:
    return load_results(FIXTURES / "results-v1.json")


def point(
    transport: str = "ws",
    subscribers: int = 20,
    rate: float = 100.0,
    interval: float | None = None,
    span_s: float = 10.0,
    cpu_s: float | None = None,
    rss: int | None = None,
    **fields: Any,
) -> Point:
    """A scenario whose CPU and RSS follow the module's known costs unless given."""
    published = rate * span_s
    delivered = round(published * subscribers)
    requests = 0
    if interval:
        requests = round(subscribers * span_s / interval)
    elif transport == "long-poll":
        requests = delivered // 2
    cost = FIXED + PER_DELIVERY * delivered + PER_PUBLISH * published + PER_REQUEST * requests
    values: dict[str, Any] = {
        "source": f"synthetic: {transport} S={subscribers} R={rate:g}",
        "transport": transport,
        "poll_interval_s": interval,
        "subscribers": subscribers,
        "published": published,
        "delivered": delivered,
        "requests": requests,
        "span_s": span_s,
        "payload_bytes": 64,
        "cpu_s": cost if cpu_s is None else cpu_s,
        "rss_peak_bytes": 50_000_000 + 30_000 * subscribers if rss is None else rss,
        "p50_us": 1_000,
        "p99_us": 5_000,
        "saturated": False,
    }
    return Point(**(values | fields))


def three_levels(transport: str = "ws", interval: float | None = None) -> list[Point]:
    """Three load levels that vary deliveries and publishes independently."""
    return [
        point(transport, 50, 40, interval),
        point(transport, 10, 200, interval),
        point(transport, 100, 40, interval),
    ]


# --- least squares ---------------------------------------------------------------------------


def test_lstsq_recovers_coefficients_of_very_different_sizes() -> None:
    ones = [1.0, 1.0, 1.0, 1.0]
    big = [1e4, 3e4, 2e4, 8e4]
    y = [0.5 + 3e-5 * b for b in big]
    fixed, per = lstsq([ones, big], y)
    assert fixed == pytest.approx(0.5)
    assert per == pytest.approx(3e-5)


def test_lstsq_refuses_dependent_columns() -> None:
    with pytest.raises(ValueError, match="not linearly independent"):
        lstsq([[1.0, 2.0], [2.0, 4.0]], [1.0, 2.0])


def test_independent_columns_keeps_the_first_of_a_dependent_pair() -> None:
    assert independent_columns([[1.0, 1.0, 1.0], [2.0, 4.0, 6.0], [4.0, 8.0, 12.0]]) == [0, 1]
    assert independent_columns([[1.0, 1.0], [3.0, 3.0], [1.0, 2.0]]) == [0, 2]


def test_nnls_sets_a_cost_that_would_be_negative_to_zero() -> None:
    # y falls with the second column: plain least squares would give it a negative cost.
    x = nnls([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]], [3.0, 2.0, 1.0])
    assert x[1] == 0.0
    assert x[0] == pytest.approx(2.0)


# --- inputs ----------------------------------------------------------------------------------


def test_read_inputs_from_the_golden_compare_run() -> None:
    inputs = read_inputs([("golden.json", golden())])
    assert [p.transport for p in inputs.points] == ["ws", "short-poll", "long-poll", "sse"]
    ws = inputs.points[0]
    assert ws.subscribers == 10
    assert ws.published == 2000  # sent 20,000 over 10 subscribers
    assert ws.span_s == 12.0  # duration from params, warm-up from the run's config
    assert ws.requests == 0
    assert inputs.points[1].poll_interval_s == 0.1
    assert inputs.points[2].requests == 14210
    assert not any("reported errors" in n for n in inputs.notes)


def test_inputs_with_errors_are_used_with_a_note() -> None:
    document = golden()
    poll = document.scenarios[1].model_copy(update={"errors": ["history overflow"]})
    document = document.model_copy(update={"scenarios": [document.scenarios[0], poll]})
    inputs = read_inputs([("golden.json", document)])
    assert [p.transport for p in inputs.points] == ["ws", "short-poll"]
    assert any("short-poll-100ms: used, but it reported errors" in n for n in inputs.notes)


def test_read_inputs_skips_what_it_cannot_use_and_says_why() -> None:
    document = golden()
    no_server = document.scenarios[0].model_copy(update={"server": None})
    nothing = document.scenarios[3].model_copy(update={"delivered": 0})
    edited = document.model_copy(update={"scenarios": [no_server, nothing]})
    sweep = load_results(FIXTURES / "results-v1-sweep.json")
    inputs = read_inputs([("a.json", edited), ("sweep.json", sweep)])
    assert inputs.points == []
    assert inputs.notes == [
        "a.json: ws: no server CPU measured (--target run); skipped",
        "a.json: sse: nothing delivered; skipped",
        "sweep.json: a sweep run, not a compare run; skipped",
    ]


def _serverbench(document: ResultsDocument, idle: dict[str, int]) -> ResultsDocument:
    scenarios = [
        document.scenarios[0].model_copy(
            update={
                "name": f"fanout/{impl}",
                "params": {
                    "ws_impl": impl,
                    "idle_rss_bytes_per_connection": rss,
                    "idle_connections": 2000,
                },
            }
        )
        for impl, rss in idle.items()
    ]
    # The bare app's idle echo sockets are the floor the figure is compared with, not an input.
    scenarios.append(
        document.scenarios[0].model_copy(
            update={
                "name": "echo/websockets/bare",
                "transport": "echo",
                "params": {"idle_rss_bytes_per_connection": 99_000, "idle_connections": 2000},
            }
        )
    )
    return document.model_copy(update={"kind": "serverbench", "scenarios": scenarios})


def test_idle_websocket_memory_of_the_implementation_the_compare_runs_used() -> None:
    document = golden()  # a compare run with the server's ws_impl left at "auto"
    bench = _serverbench(document, {"websockets-sansio": 20_000, "websockets": 28_000})
    inputs = read_inputs([("run.json", document), ("bench.json", bench)])
    assert inputs.idle_ws_bytes_per_connection == 20_000  # auto is websockets-sansio
    assert inputs.idle_ws_source == (
        "bench.json: fanout/websockets-sansio, 2000 idle subscribers "
        "(websockets-sansio: the implementation the compare runs used)"
    )


def test_idle_websocket_memory_is_the_dearest_without_a_match() -> None:
    document = golden()
    wsproto = document.model_copy(
        update={"config": {**document.config, "server": {"ws_impl": "wsproto"}}}
    )
    bench = _serverbench(document, {"websockets-sansio": 20_000, "websockets": 28_000})
    for compare in ([("run.json", wsproto)], []):
        inputs = read_inputs([*compare, ("bench.json", bench)])
        assert inputs.idle_ws_bytes_per_connection == 28_000
        assert inputs.idle_ws_source is not None
        assert inputs.idle_ws_source.endswith("(websockets: the dearest measured)")


# --- fits ------------------------------------------------------------------------------------


def test_fit_recovers_fixed_delivery_and_publish_costs() -> None:
    fit = fit_cpu(three_levels())
    assert not fit.proportional
    # The per-scenario fixed cost is the idle server over the scenarios' 10 s.
    assert fit.cost(Term.IDLE) * 10.0 == pytest.approx(FIXED)
    assert fit.cost(Term.DELIVERY) == pytest.approx(PER_DELIVERY)
    assert fit.cost(Term.PUBLISH) == pytest.approx(PER_PUBLISH)
    assert "moved with" in fit.absent[Term.CONNECTION]
    assert all(abs(e) < 1e-6 for e in fit.errors_pct)
    # Three points, three costs: each held-out point falls back to a smaller model.
    assert len(fit.holdout_errors_pct) == 3


def test_fit_on_two_levels_predicts_a_third() -> None:
    low, middle, high = (point("ws", s, 100) for s in (20, 40, 60))
    fit = fit_cpu([low, middle])
    assert fit.cpu_s(high) == pytest.approx(high.cpu_s)
    assert "did not vary" in fit.absent[Term.PUBLISH]  # same rate: publishing is in `idle`


def test_short_poll_intervals_separate_request_from_delivery_cost() -> None:
    fit = fit_cpu([point("short-poll", 50, 40, 0.1), point("short-poll", 50, 40, 1.0)])
    assert fit.proportional  # one load level: no fixed term ...
    # ... but two intervals: requests vary while deliveries do not.
    assert set(fit.costs) == {Term.REQUEST, Term.DELIVERY}
    assert all(abs(e) < 1e-6 for e in fit.errors_pct)


def test_one_load_level_falls_back_to_a_proportional_model() -> None:
    single = point("ws", 20, 100)
    fit = fit_cpu([single])
    assert fit.proportional
    assert set(fit.costs) == {Term.DELIVERY}
    assert fit.cost(Term.DELIVERY) == pytest.approx(single.cpu_s / single.delivered)
    assert fit.holdout_errors_pct == ()


def test_a_cost_the_noise_makes_negative_is_left_out() -> None:
    points = three_levels()
    # More publishes, less CPU: the data would rather have a negative publish cost.
    noisy = [dataclasses.replace(points[1], cpu_s=points[1].cpu_s * 0.3), points[0], points[2]]
    fit = fit_cpu(noisy)
    assert Term.PUBLISH not in fit.costs
    assert "fitted as 0" in fit.absent[Term.PUBLISH]
    assert all(cost > 0 for cost in fit.costs.values())


def test_fit_refuses_mixed_or_missing_points() -> None:
    with pytest.raises(PlanError, match="no measured scenario"):
        fit_cpu([])
    with pytest.raises(PlanError, match="one transport per fit"):
        fit_cpu([point("ws"), point("sse")])


def test_memory_fit_base_and_bytes_per_connection() -> None:
    memory = fit_memory(three_levels())
    assert memory.base_bytes == pytest.approx(50_000_000)
    assert memory.bytes_per_connection == pytest.approx(30_000)
    single = fit_memory([point("ws", 20)])
    assert single.bytes_per_connection is None
    assert "one subscriber count" in single.source
    measured = fit_memory([point("ws", 20)], idle_bytes=10_000, idle_source="bench")
    assert measured.bytes_per_connection == 10_000
    assert measured.base_bytes == pytest.approx(50_000_000 + 20 * 20_000)


# --- predictions -----------------------------------------------------------------------------


def plan_for(points: list[Point], **request: Any) -> Any:
    fields = {"clients": 100_000, "msgs_per_client_per_s": 0.1} | request
    return make_plan(Inputs(points=points), PlanRequest(**fields))


def test_websocket_plan_figures_follow_the_equations() -> None:
    plan = plan_for(three_levels())
    (ws,) = plan.transports
    deliveries, pings = 100_000 * 0.1, 100_000 / WS_PING_INTERVAL_S
    variable = PER_DELIVERY * (deliveries + pings) + PER_PUBLISH * deliveries  # fan-out 1
    # Every worker pays the idle server (the synthetic 0.2 s per 10 s scenario).
    idle = FIXED / 10.0
    workers = math.ceil(variable / (0.7 - idle))
    cores = variable + idle * workers
    assert ws.rates["publishes"] == deliveries
    assert ws.cpu_cores.value == pytest.approx(cores)
    assert ws.workers.value == workers
    assert cores / workers <= 0.7
    assert ws.memory_bytes.value == pytest.approx(ws.workers.value * 50e6 + 100_000 * 30_000)
    assert ws.requests_per_s.value == 0
    per_delivery = wire_bytes.delivery_bytes("ws", 64)
    assert per_delivery == 64 + wire_bytes.ENVELOPE_OVERHEAD + 4 + 52
    assert ws.wire_bytes_per_s.value == pytest.approx(
        deliveries * per_delivery
        + deliveries * wire_bytes.publish_bytes(64)
        + pings * wire_bytes.keepalive_bytes("ws")
    )
    assert ws.p50_us.value == 1_000  # measured
    assert ws.cpu_cores.basis == "20.0 ms/s/worker, 30.0 µs/deliv, 80.0 µs/pub"


def test_fanout_divides_publishes() -> None:
    (ws,) = plan_for(three_levels(), fanout=10).transports
    assert ws.rates["publishes"] == pytest.approx(1_000)


def test_short_poll_costs_requests_whatever_the_message_rate() -> None:
    points = three_levels("short-poll", 0.1) + three_levels("short-poll", 1.0)
    plan = plan_for(points, poll_intervals_s=(1.0, 5.0))
    assert [t.name for t in plan.transports] == ["short-poll@1", "short-poll@5"]
    every_1s, every_5s = plan.transports
    assert every_1s.requests_per_s.value == 100_000
    assert every_5s.requests_per_s.value == 20_000
    variable = 100_000 * PER_REQUEST + 10_000 * (PER_DELIVERY + PER_PUBLISH)
    workers = every_1s.workers.value
    assert every_1s.cpu_cores.value == pytest.approx(variable + workers * FIXED / 10.0)
    rtt = plan.rtt_us
    assert rtt == pytest.approx(0.0)  # synthetic p50 1 ms < T/2: clamped
    assert every_5s.p50_us.value == pytest.approx(2.5e6 + rtt)
    assert every_5s.p99_us.value == pytest.approx(0.99 * 5e6 + rtt)
    assert every_5s.p50_us.basis.startswith("T/2 + ")
    assert every_5s.p50_us.derivation.startswith("model:")
    assert any(
        n.startswith("poll interval s: 5 planned, 0.1–1 measured") for n in every_5s.extrapolation
    )


def test_long_poll_requests_follow_deliveries_with_a_timeout_floor() -> None:
    plan = plan_for(three_levels("long-poll"), msgs_per_client_per_s=0.001)
    (long_poll,) = plan.transports
    # At one message per 1,000 s, most polls time out: about N / 30 s, more than deliveries.
    assert long_poll.requests_per_s.value == pytest.approx(100_000 / LONG_POLL_WAIT_S, rel=0.02)
    busy = plan_for(three_levels("long-poll"), msgs_per_client_per_s=0.1).transports[0]
    assert busy.requests_per_s.value == pytest.approx(10_000, rel=0.06)


def test_extrapolation_is_noted_with_its_factor() -> None:
    (ws,) = plan_for(three_levels()).transports
    workers = int(ws.workers.value)
    planned = 100_000 // workers
    expected = f"connections per worker: {planned:,} planned, 10–100 measured"
    note = next(n for n in ws.extrapolation if n.startswith(expected))
    assert note.endswith(f"({planned / 100:,.0f}× above)")
    assert ws.beyond == pytest.approx(planned / 100)
    inside = plan_for(three_levels(), clients=50, msgs_per_client_per_s=40, fanout=50)
    assert not any(n.startswith("connections") for n in inside.transports[0].extrapolation)


def test_latency_comes_from_the_closest_cpu_load() -> None:
    idle, busy = point("sse", 20, 40, p50_us=500), point("sse", 60, 400, p50_us=9_000)
    plan = plan_for([idle, busy], clients=1_000, msgs_per_client_per_s=400, fanout=1000)
    (sse,) = plan.transports
    assert sse.p50_us.value == 9_000
    assert sse.p50_us.basis == "meas. @77% CPU"


def test_one_run_plan_says_it_is_proportional() -> None:
    plan = make_plan(read_inputs([("golden.json", golden())]), PlanRequest(1000, 1.0))
    assert [t.name for t in plan.transports] == ["ws", "short-poll@0.1", "long-poll", "sse"]
    for transport in plan.transports:
        assert transport.fit.proportional
        assert any("proportional model" in n for n in transport.notes)
        assert transport.memory_bytes.value is None  # one subscriber count
    assert plan.payload_bytes == 256


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"clients": 0}, "clients must be at least 1"),
        ({"msgs_per_client_per_s": 0.0}, "messages per client per second"),
        ({"fanout": 0.5}, "fan-out must be between 1 and the clients"),
        ({"fanout": 200_000}, "fan-out must be between 1 and the clients"),
        ({"payload_bytes": -1}, "payload bytes"),
        ({"poll_intervals_s": (0.0,)}, "poll intervals"),
        ({"cpu_headroom": 1.5}, "CPU headroom"),
    ],
)
def test_bad_requests_are_refused_with_the_reason(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        PlanRequest(**({"clients": 100_000, "msgs_per_client_per_s": 0.1} | fields))


def test_no_usable_scenario_is_an_error_that_lists_why() -> None:
    sweep = load_results(FIXTURES / "results-v1-sweep.json")
    with pytest.raises(PlanError, match=r"no usable compare scenario.*a sweep run"):
        make_plan(read_inputs([("sweep.json", sweep)]), PlanRequest(10, 1.0))


def test_missing_transports_are_noted() -> None:
    plan = plan_for(three_levels())
    assert "sse: not measured in the inputs, so not planned" in plan.notes


# --- wire bytes and outputs ------------------------------------------------------------------


def test_envelope_overhead_matches_the_reference_server() -> None:
    from target_app.envelope import PublishRequest, encode_envelope

    request = PublishRequest(publisher="pub-0", seq=12345, sent_ns=1_234_567_890_123_456_789)
    request = request.model_copy(update={"payload": "x" * 64})
    envelope = encode_envelope(123_456, "ws-1a2b3c4d", request)
    overhead = len(envelope.text) - 64
    assert abs(overhead - wire_bytes.ENVELOPE_OVERHEAD) <= 15


def test_outputs_carry_every_figure_with_its_basis() -> None:
    plan = plan_for(three_levels() + three_levels("sse"))
    document = plan_document(plan, "run-1", ["a.json"])
    text = json.dumps(document)  # serialisable as it is
    assert json.loads(text)["plan_version"] == 2
    ws = document["transports"][0]
    assert ws["cpu_model"]["cpu_s_per_unit"]["delivery"] == pytest.approx(PER_DELIVERY)
    assert ws["cpu_cores"]["basis"]
    rows = plan_rows(plan)
    assert [row[0].text for row in rows] == ["ws", "sse"]
    sse_cells = rows[1][1:8]  # SSE makes no HTTP requests: that cell says so
    assert all(cell.basis for cell in sse_cells)
    markdown = render_plan_markdown(plan, "run-1")
    assert "| transport | CPU cores |" in markdown
    assert "CPU cores    = c_del" in markdown


def test_notes_every_transport_shares_are_listed_once() -> None:
    plan = plan_for(three_levels() + three_levels("sse"))
    notes = grouped_notes(plan)
    shared = [note for scope, note in notes if scope == "all transports"]
    assert any(n.startswith("messages/s per client: 0.1 planned") for n in shared)
    assert not any(n in shared for scope, n in notes if scope in ("ws", "sse"))
    assert plan.cores_at("ws", 200_000) == pytest.approx(2 * (plan.transports[0].cpu_cores.value))
