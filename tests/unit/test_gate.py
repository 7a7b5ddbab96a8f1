"""The gate: SLO parsing and evaluation, baseline ratios with noise floors, verdicts, config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pushbench.core.scenario_metrics import METRICS, metric_value
from pushbench.core.schema import ResultsDocument, load_results
from pushbench.gate.checks import (
    DEFAULT_MAX_REGRESSION_PCT,
    REGRESSION_METRICS,
    CheckKind,
    CheckResult,
    GateInputError,
    RegressionMetric,
    Verdict,
    compare_to_baseline,
    describe_regression_method,
    evaluate_slos,
    gate_rows,
    parse_slo,
    run_gate,
)
from pushbench.gate.config import (
    GateConfig,
    find_pyproject,
    load_gate_config,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture(scope="module")
def golden() -> ResultsDocument:
    return load_results(FIXTURES / "results-v1.json")


@pytest.fixture(scope="module")
def lossy() -> ResultsDocument:
    return load_results(FIXTURES / "results-v1-lossy.json")


def changed(document: ResultsDocument, name: str, **fields: Any) -> ResultsDocument:
    """``document`` with scenario ``name``'s fields replaced; ``latency_us`` / ``server`` take
    a dict of their own fields."""
    scenarios = []
    for s in document.scenarios:
        if s.name == name:
            update = dict(fields)
            for nested in ("latency_us", "server"):
                if isinstance(update.get(nested), dict):
                    update[nested] = getattr(s, nested).model_copy(update=update[nested])
            s = s.model_copy(update=update)
        scenarios.append(s)
    return document.model_copy(update={"scenarios": scenarios})


def verdicts(checks: list[CheckResult]) -> dict[str, Verdict]:
    return {c.check: c.verdict for c in checks}


# --- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scenario", "metric", "op", "limit"),
    [
        ("ws.latency_us.p99<=5000", "ws", "latency_us.p99", "<=", 5000.0),
        ("short-poll@0.1.lost==0", "short-poll@0.1", "lost", "==", 0.0),
        ("ws.throughput_msgs_per_s>=20000", "ws", "throughput_msgs_per_s", ">=", 20000.0),
        (
            "  sse.server.cpu_us_per_delivered_msg < 12.5 ",
            "sse",
            "server.cpu_us_per_delivered_msg",
            "<",
            12.5,
        ),
        ("*.lost_ratio<1e-3", "*", "lost_ratio", "<", 0.001),
        ("long-poll.errors!=3", "long-poll", "errors", "!=", 3.0),
        ("x.y.latency_us.max>1_000", "x.y", "latency_us.max", ">", 1000.0),
    ],
)
def test_parse_slo(text: str, scenario: str, metric: str, op: str, limit: float) -> None:
    slo = parse_slo(text)
    assert (slo.scenario, slo.metric, slo.op, slo.limit) == (scenario, metric, op, limit)
    assert slo.text.startswith(f"{scenario}.{metric} {op} ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ws.latency_us.p99", "expected <scenario>.<metric><op><number>"),
        ("ws.latency_us.p99 =< 5", "expected <scenario>.<metric><op><number>"),
        ("ws.latency.p99<=5000", "no known metric"),
        ("latency_us.p99<=5000", "no known metric"),  # no scenario
        (".lost==0", "no known metric"),
        ("ws.lost<=five", "'five' is not a number"),
        ("ws.lost<=inf", "finite"),
        ("ws.lost<=nan", "finite"),
        ("", "expected"),
    ],
)
def test_bad_slo_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(GateInputError, match="bad SLO") as info:
        parse_slo(text)
    assert message in str(info.value)


def test_every_metric_reads_a_number_or_none(golden: ResultsDocument) -> None:
    for scenario in golden.scenarios:
        for path in METRICS:
            value = metric_value(scenario, path)
            assert value is None or isinstance(value, int | float), (scenario.name, path)
    ws = golden.scenarios[0]
    assert metric_value(ws, "latency_us.p99") == 996
    assert metric_value(ws, "server.cpu_us_per_delivered_msg") == 71.0
    assert metric_value(ws, "http_requests") is None
    assert metric_value(ws, "generator.saturated") == 0
    assert metric_value(golden.scenarios[1], "lost_ratio") == pytest.approx(10 / 20000)


# --- SLOs ----------------------------------------------------------------------------------------


def test_slos_pass_and_fail(golden: ResultsDocument) -> None:
    slos = [parse_slo("ws.latency_us.p99<=5000"), parse_slo("ws.latency_us.p99<900")]
    checks = evaluate_slos(golden, slos)
    assert [(c.check, c.measured, c.limit, c.verdict) for c in checks] == [
        ("ws.latency_us.p99 <= 5000", "996", "<= 5000", Verdict.PASS),
        ("ws.latency_us.p99 < 900", "996", "< 900", Verdict.FAIL),
    ]
    assert all(c.kind is CheckKind.SLO for c in checks)


def test_slo_names_scenarios_with_dots(lossy: ResultsDocument) -> None:
    checks = evaluate_slos(lossy, [parse_slo("short-poll@0.1.lost==0")])
    assert verdicts(checks) == {"short-poll@0.1.lost == 0": Verdict.FAIL}
    assert checks[0].measured == "25"


def test_transport_alone_addresses_its_only_scenario(golden: ResultsDocument) -> None:
    checks = evaluate_slos(golden, [parse_slo("short-poll.lost<=10")])
    assert verdicts(checks) == {"short-poll-100ms.lost <= 10": Verdict.PASS}


def test_transport_with_several_scenarios_is_ambiguous(lossy: ResultsDocument) -> None:
    with pytest.raises(GateInputError, match=r"ambiguous.*short-poll@0\.1, short-poll@1"):
        evaluate_slos(lossy, [parse_slo("short-poll.lost==0")])


def test_missing_scenario_fails(golden: ResultsDocument) -> None:
    (check,) = evaluate_slos(golden, [parse_slo("quic.lost==0")])
    assert check.verdict is Verdict.FAIL
    assert check.measured == "missing"
    assert "no scenario 'quic'" in check.detail


def test_unmeasured_metric_of_a_named_scenario_fails(golden: ResultsDocument) -> None:
    (check,) = evaluate_slos(golden, [parse_slo("ws.http_requests<=0")])
    assert check.verdict is Verdict.FAIL
    assert "not measured" in check.detail


def test_wildcard_checks_every_scenario_that_has_the_metric(golden: ResultsDocument) -> None:
    checks = evaluate_slos(golden, [parse_slo("*.http_requests_per_delivered_msg<0.5")])
    assert verdicts(checks) == {  # ws has no HTTP requests: not a check
        "short-poll-100ms.http_requests_per_delivered_msg < 0.5": Verdict.PASS,
        "long-poll.http_requests_per_delivered_msg < 0.5": Verdict.FAIL,
        "sse.http_requests_per_delivered_msg < 0.5": Verdict.PASS,
    }
    lost = evaluate_slos(golden, [parse_slo("*.lost==0")])
    assert [c.verdict for c in lost] == [Verdict.PASS, Verdict.FAIL, Verdict.PASS, Verdict.PASS]


def test_wildcard_fails_when_no_scenario_has_the_metric(golden: ResultsDocument) -> None:
    no_server = golden.model_copy(
        update={"scenarios": [s.model_copy(update={"server": None}) for s in golden.scenarios]}
    )
    (check,) = evaluate_slos(no_server, [parse_slo("*.server.cpu_s<1")])
    assert check.verdict is Verdict.FAIL
    assert "no scenario has server.cpu_s" in check.detail


# --- baseline ------------------------------------------------------------------------------------


def test_identical_baseline_passes(golden: ResultsDocument) -> None:
    checks, notes = compare_to_baseline(golden, golden)
    assert checks
    assert {c.verdict for c in checks} <= {Verdict.PASS, Verdict.SKIP}
    assert notes == []
    # ws has no HTTP requests: that metric is not compared for it
    assert not any(c.check == "ws http_requests_per_delivered_msg vs baseline" for c in checks)


def test_latency_regression_beyond_the_limit_fails(golden: ResultsDocument) -> None:
    slower = changed(golden, "long-poll", latency_us={"p99": 5600})  # 4463 -> 5600: x1.25
    checks, _ = compare_to_baseline(slower, golden, max_regression_pct=20)
    check = next(c for c in checks if c.check == "long-poll latency_us.p99 vs baseline")
    assert check.verdict is Verdict.FAIL
    assert check.measured == "1.25× (4,463 → 5,600)"
    assert check.limit == "<= 1.20×"
    checks, _ = compare_to_baseline(slower, golden, max_regression_pct=30)
    assert verdicts(checks)["long-poll latency_us.p99 vs baseline"] is Verdict.PASS


def test_cpu_per_message_regression_fails(golden: ResultsDocument) -> None:
    costly = changed(golden, "ws", server={"cpu_us_per_delivered_msg": 90.0})
    checks, _ = compare_to_baseline(costly, golden)
    assert verdicts(checks)["ws server.cpu_us_per_delivered_msg vs baseline"] is Verdict.FAIL


def test_throughput_drop_fails_and_gain_passes(golden: ResultsDocument) -> None:
    slower = changed(golden, "sse", throughput_msgs_per_s=1500.0)  # x0.75
    checks, _ = compare_to_baseline(slower, golden, max_regression_pct=20)
    assert verdicts(checks)["sse throughput_msgs_per_s vs baseline"] is Verdict.FAIL
    faster = changed(golden, "sse", throughput_msgs_per_s=5000.0)
    checks, _ = compare_to_baseline(faster, golden, max_regression_pct=20)
    assert verdicts(checks)["sse throughput_msgs_per_s vs baseline"] is Verdict.PASS


def test_values_below_the_noise_floor_are_skipped(golden: ResultsDocument) -> None:
    # ws p50 312 µs -> 800 µs is x2.6, but both are below the 1 ms floor: jitter, not a verdict.
    jittery = changed(golden, "ws", latency_us={"p50": 800})
    checks, _ = compare_to_baseline(jittery, golden)
    check = next(c for c in checks if c.check == "ws latency_us.p50 vs baseline")
    assert check.verdict is Verdict.SKIP
    assert "noise floor" in check.detail


def test_values_below_the_floor_count_as_the_floor(golden: ResultsDocument) -> None:
    # 312 µs -> 1150 µs: against the floor (1000 µs) that is x1.15, within 20 %...
    checks, _ = compare_to_baseline(changed(golden, "ws", latency_us={"p50": 1150}), golden)
    assert verdicts(checks)["ws latency_us.p50 vs baseline"] is Verdict.PASS
    # ... while 312 µs -> 5 ms is a real regression whatever the floor.
    checks, _ = compare_to_baseline(changed(golden, "ws", latency_us={"p50": 5000}), golden)
    check = next(c for c in checks if c.check == "ws latency_us.p50 vs baseline")
    assert check.verdict is Verdict.FAIL
    assert check.measured.startswith("5.00×")
    assert "count as 1,000" in check.detail


def test_scenario_missing_from_results_fails(golden: ResultsDocument) -> None:
    fewer = golden.model_copy(update={"scenarios": golden.scenarios[:2]})
    checks, _ = compare_to_baseline(fewer, golden)
    assert verdicts(checks)["long-poll present"] is Verdict.FAIL
    assert verdicts(checks)["sse present"] is Verdict.FAIL


def test_what_the_harness_measured_about_itself_is_not_a_different_load(
    golden: ResultsDocument,
) -> None:
    """Two runs of one load always differ in the loop lag and publisher lateness they saw."""
    measured = {"generator_max_loop_lag_ms": 3.2, "publisher_lateness_p99_us": 180}
    base = changed(
        golden, "ws", params={**golden.scenarios[0].params, "generator_max_loop_lag_ms": 1.0}
    )
    now = changed(golden, "ws", params={**golden.scenarios[0].params, **measured})
    _, notes = compare_to_baseline(now, base)
    assert not [note for note in notes if "params differ" in note]


def test_new_scenarios_and_changed_params_are_noted(golden: ResultsDocument) -> None:
    base = golden.model_copy(update={"scenarios": golden.scenarios[:3], "interrupted": True})
    now = changed(golden, "ws", params={**golden.scenarios[0].params, "rate": 400})
    _, notes = compare_to_baseline(now, base)
    assert notes == [
        "ws: params differ from the baseline (rate); the ratios compare unlike loads",
        "sse: new scenario, no baseline to compare with",
        "the baseline run was interrupted: its numbers are partial",
    ]


def test_custom_metrics_and_floors(golden: ResultsDocument) -> None:
    only_p99 = (RegressionMetric("latency_us.p99", higher_is_worse=True, noise_floor=0.0),)
    slower = changed(golden, "ws", latency_us={"p99": 1300})
    checks, _ = compare_to_baseline(slower, golden, metrics=only_p99)
    assert {c.check.split(" ", 1)[1] for c in checks} == {"latency_us.p99 vs baseline"}
    assert verdicts(checks)["ws latency_us.p99 vs baseline"] is Verdict.FAIL


def test_negative_max_regression_is_unusable(golden: ResultsDocument) -> None:
    with pytest.raises(GateInputError, match=">= 0"):
        compare_to_baseline(golden, golden, max_regression_pct=-1)


def test_method_description_names_the_metrics() -> None:
    text = describe_regression_method(15)
    for metric in REGRESSION_METRICS:
        assert metric.metric in text
    assert "must not grow by more than 15 %" in text
    assert "throughput_msgs_per_s must not drop by more than 15 %" in text
    assert "noise floor" in text


# --- the whole gate ------------------------------------------------------------------------------


def test_gate_passes(golden: ResultsDocument) -> None:
    report = run_gate(golden, slos=[parse_slo("ws.latency_us.p99<=5000")], baseline=golden)
    assert report.passed
    assert report.exit_code == 0
    assert report.failed == ()
    assert report.checks[0].check == "run complete"
    assert report.notes[0].startswith("Baseline: ratio current / baseline")


def test_gate_fails_on_an_slo(golden: ResultsDocument) -> None:
    report = run_gate(golden, slos=[parse_slo("*.lost==0")])
    assert not report.passed
    assert report.exit_code == 1
    assert [c.check for c in report.failed] == ["short-poll-100ms.lost == 0"]


def test_gate_fails_on_a_regression(golden: ResultsDocument) -> None:
    baseline = changed(golden, "sse", latency_us={"p99": 1000})  # now 1334: x1.33
    report = run_gate(golden, baseline=baseline, max_regression_pct=DEFAULT_MAX_REGRESSION_PCT)
    assert report.exit_code == 1
    assert [c.check for c in report.failed] == ["sse latency_us.p99 vs baseline"]


def test_gate_fails_an_interrupted_run(lossy: ResultsDocument) -> None:
    report = run_gate(lossy)
    assert report.exit_code == 1
    assert report.failed[0].check == "run complete"
    assert report.failed[0].measured == "no"
    assert report.failed[0].detail.startswith("interrupted: the results are partial; ")


# --- the whole gate: completeness ----------------------------------------------------------------


def complete_check(document: ResultsDocument) -> CheckResult:
    report = run_gate(document)
    assert report.checks[0].check == "run complete"
    return report.checks[0]


def test_a_scenario_error_makes_the_run_incomplete(golden: ResultsDocument) -> None:
    # Kept inside the scenario, as `compare` records a target that stopped answering.
    error = "publishing failed 12.3 s into the schedule: ConnectionRefusedError: [Errno 111]"
    document = changed(golden, "ws", errors=[error, "subscriber failed: EOF"])
    assert document.errors == []
    assert not document.interrupted
    check = complete_check(document)
    assert (check.measured, check.verdict) == ("no", Verdict.FAIL)
    assert check.detail == f"ws: {error} (and 1 more error)"
    assert run_gate(document, slos=[parse_slo("*.lost<=10")], baseline=golden).exit_code == 1


def test_publishes_attempted_but_never_sent_make_the_run_incomplete(
    golden: ResultsDocument,
) -> None:
    # No error, nothing lost among the sent: only the attempted count shows what vanished.
    document = changed(golden, "sse", publishes_attempted=114_250, publishes_sent=57_000)
    assert document.scenarios[3].errors == []
    assert document.scenarios[3].lost == 0
    check = complete_check(document)
    assert (check.measured, check.verdict) == ("no", Verdict.FAIL)
    assert check.detail == "sse: 57,250 of 114,250 publishes failed"


def test_a_run_error_makes_the_run_incomplete(golden: ResultsDocument) -> None:
    document = golden.model_copy(update={"errors": ["sse: the server died:\nTraceback ..."]})
    check = complete_check(document)
    assert (check.measured, check.detail) == ("no", "run error: sse: the server died:")


def test_many_reasons_are_counted_not_listed(golden: ResultsDocument) -> None:
    errors = [f"error {i}" for i in range(3)]
    document = golden.model_copy(update={"errors": errors, "interrupted": True})
    for name in ("ws", "sse", "long-poll"):
        document = changed(document, name, errors=["boom"])
    check = complete_check(document)
    assert check.detail.endswith("; and 2 more (see results.json)")
    assert check.detail.count(";") == 5


def test_a_complete_run_passes(golden: ResultsDocument) -> None:
    # Every publish sent, no error, not interrupted (losses are a measurement, for the SLOs).
    assert {(s.publishes_attempted, s.publishes_sent) for s in golden.scenarios} == {(2000, 2000)}
    check = complete_check(golden)
    assert (check.measured, check.verdict, check.detail) == ("yes", Verdict.PASS, "")


def test_gate_without_checks_says_so(golden: ResultsDocument) -> None:
    report = run_gate(golden)
    assert report.passed
    assert "no SLOs and no baseline" in report.notes[-1]


def test_gate_rows(golden: ResultsDocument) -> None:
    report = run_gate(golden, slos=[parse_slo("ws.lost==0")])
    assert gate_rows(report) == [
        ["run complete", "yes", "complete", "PASS"],
        ["ws.lost == 0", "0", "== 0", "PASS"],
    ]


# --- configuration -------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_config_from_pyproject(tmp_path: Path) -> None:
    path = write(
        tmp_path / "pyproject.toml",
        """
[project]
name = "x"

[tool.pushbench.gate]
slo = ["ws.latency_us.p99<=5000", "*.lost==0"]
max_regression = 15
baseline = "bench/baseline.json"
regression_metrics = ["latency_us.p99", "throughput_msgs_per_s"]

[tool.pushbench.gate.noise_floor]
"latency_us.p99" = 2000
""",
    )
    config = load_gate_config(path)
    assert config.slo == ("ws.latency_us.p99<=5000", "*.lost==0")
    assert config.max_regression_pct == 15.0
    assert config.baseline == tmp_path / "bench" / "baseline.json"
    assert [(m.metric, m.noise_floor) for m in config.regression_metrics] == [
        ("latency_us.p99", 2000.0),
        ("throughput_msgs_per_s", 10.0),
    ]
    assert config.source == path


def test_pyproject_without_a_gate_section_is_empty(tmp_path: Path) -> None:
    config = load_gate_config(write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n'))
    assert config == GateConfig()


def test_standalone_file_holds_keys_at_top_level(tmp_path: Path) -> None:
    config = load_gate_config(write(tmp_path / "gate.toml", 'slo = "ws.lost==0"\n'))
    assert config.slo == ("ws.lost==0",)
    assert config.regression_metrics == REGRESSION_METRICS


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("slos = []", "unknown gate setting(s) slos"),
        ("slo = [1]", "slo must be a list of strings"),
        ("max_regression = -5", "max_regression must be a number"),
        ("max_regression = true", "max_regression must be a number"),
        ("baseline = 3", "baseline must be a path"),
        ('regression_metrics = ["latency_us.p75"]', "'latency_us.p75' is not a regression metric"),
        ('noise_floor = { "lost" = 1 }', "'lost' is not a regression metric"),
        ('noise_floor = { "latency_us.p99" = "x" }', "must be a number >= 0"),
        ("[tool.pushbench]\ngate = 3", "must be a table"),
        ("slo = [", "not valid TOML"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "gate.toml", text + "\n")
    with pytest.raises(GateInputError) as info:
        load_gate_config(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GateInputError, match="cannot read gate config"):
        load_gate_config(tmp_path / "nope.toml")


def test_find_pyproject_walks_up(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert find_pyproject(nested) == (tmp_path / "pyproject.toml").resolve()
