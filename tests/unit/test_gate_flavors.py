"""The gate on flavor-qualified scenario names (``ws@fastapi``), and SLOs and baselines written
before flavors still working on a two-flavor run."""

from __future__ import annotations

from pathlib import Path

import pytest

from pushbench.core.schema import load_results
from pushbench.gate.checks import (
    GateInputError,
    Verdict,
    compare_to_baseline,
    evaluate_slos,
    parse_slo,
)
from tests.unit.test_framework_tax import two_flavors

FIXTURES = Path(__file__).parent.parent / "fixtures"


def checked(*slos: str) -> dict[str, Verdict]:
    checks = evaluate_slos(two_flavors(), [parse_slo(text) for text in slos])
    return {c.check: c.verdict for c in checks}


def test_a_flavor_qualified_scenario_checks_that_flavor_only() -> None:
    assert checked("ws@fastapi.latency_us.p99<=2000") == {
        "ws@fastapi.latency_us.p99 <= 2000": Verdict.FAIL  # fastapi's p99 is 2,500 µs
    }
    assert checked("ws@asgi.latency_us.p99<=2000") == {
        "ws@asgi.latency_us.p99 <= 2000": Verdict.PASS  # asgi's is 996 µs
    }
    assert checked("short-poll-100ms@fastapi.lost==0") == {
        "short-poll-100ms@fastapi.lost == 0": Verdict.FAIL  # the fixture lost 10
    }


def test_a_transport_with_a_flavor_names_that_flavor_s_one_scenario() -> None:
    assert checked("long-poll@asgi.server.cpu_us_per_delivered_msg<=200") == {
        "long-poll@asgi.server.cpu_us_per_delivered_msg <= 200": Verdict.PASS
    }


def test_an_slo_written_before_flavors_checks_every_flavor() -> None:
    assert checked("ws.latency_us.p99<=2000") == {
        "ws@asgi.latency_us.p99 <= 2000": Verdict.PASS,
        "ws@fastapi.latency_us.p99 <= 2000": Verdict.FAIL,
    }
    # By scenario name (its name without the flavor), and by transport.
    assert set(checked("short-poll-100ms.lost==0")) == {
        "short-poll-100ms@asgi.lost == 0",
        "short-poll-100ms@fastapi.lost == 0",
    }
    assert set(checked("sse.lost==0")) == {"sse@asgi.lost == 0", "sse@fastapi.lost == 0"}


def test_a_wildcard_with_a_flavor_checks_every_scenario_of_that_flavor() -> None:
    results = checked("*@fastapi.http_requests_per_delivered_msg<=1")
    # ws has no HTTP requests: skipped by a wildcard, as "*" does.
    assert set(results) == {
        "short-poll-100ms@fastapi.http_requests_per_delivered_msg <= 1",
        "long-poll@fastapi.http_requests_per_delivered_msg <= 1",
        "sse@fastapi.http_requests_per_delivered_msg <= 1",
    }


def test_unknown_flavor_or_scenario_fails_as_missing() -> None:
    [check] = evaluate_slos(two_flavors(), [parse_slo("ws@flask.lost==0")])
    assert (check.measured, check.verdict) == ("missing", Verdict.FAIL)


def test_a_transport_with_two_scenarios_in_one_flavor_is_still_ambiguous() -> None:
    document = two_flavors()
    extra = [
        s.model_copy(update={"name": s.name.replace("100ms", "1s")})
        for s in document.scenarios
        if s.transport == "short-poll"
    ]
    document = document.model_copy(update={"scenarios": [*document.scenarios, *extra]})
    with pytest.raises(GateInputError, match="ambiguous"):
        evaluate_slos(document, [parse_slo("short-poll@asgi.lost==0")])
    with pytest.raises(GateInputError, match="ambiguous"):
        evaluate_slos(document, [parse_slo("short-poll.lost==0")])


def test_a_baseline_without_flavors_is_compared_with_the_default_flavor() -> None:
    baseline = load_results(FIXTURES / "results-v1.json")  # written before flavors
    checks, notes = compare_to_baseline(two_flavors(), baseline)
    names = {c.check.split(" ")[0] for c in checks}
    assert names == {"ws", "short-poll-100ms", "long-poll", "sse"}
    assert all(c.verdict is not Verdict.FAIL for c in checks)  # asgi's figures are the fixture's
    assert "ws: the baseline records no flavor; compared with ws@asgi" in notes
    assert "ws@fastapi: new scenario, no baseline to compare with" in notes
    assert "ws@asgi: new scenario, no baseline to compare with" not in notes
    assert not any("params differ" in note for note in notes)  # the flavor key is not a change


def test_a_flavored_baseline_is_matched_by_name() -> None:
    checks, notes = compare_to_baseline(two_flavors(), two_flavors())
    assert {c.check.split(" ")[0] for c in checks} == {s.name for s in two_flavors().scenarios}
    assert notes == []
