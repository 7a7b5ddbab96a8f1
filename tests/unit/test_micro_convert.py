"""pytest-benchmark JSON → ``kind: micro`` results, and how such a document renders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pushbench.core.micro_convert import (
    LATENCY_FROM_DATA,
    LATENCY_FROM_STATS,
    convert_pytest_benchmark,
    is_pytest_benchmark,
    load_any_results,
    micro_transport,
)
from pushbench.core.schema import SchemaError, dump_results, load_results
from pushbench.report import render_markdown, render_report, summary_table, verdict
from pushbench.report.charts import charts

FIXTURES = Path(__file__).parent.parent / "fixtures"
SAMPLE = FIXTURES / "pytest-benchmark-v5.json"


@pytest.fixture(scope="module")
def sample() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SAMPLE.read_text())
    return data


def test_detects_the_format(sample: dict[str, Any]) -> None:
    assert is_pytest_benchmark(sample)
    assert not is_pytest_benchmark(json.loads((FIXTURES / "results-v1.json").read_text()))
    assert not is_pytest_benchmark([])


def test_one_scenario_per_benchmark(sample: dict[str, Any]) -> None:
    document = convert_pytest_benchmark(sample)
    assert document.kind == "micro"
    assert document.run_id.startswith("micro-20261124-145515")
    names = [s.name for s in document.scenarios]
    assert names == [f"{b['group']}/{b['name']}" for b in sample["benchmarks"]]
    transports = {s.params["benchmark"]: s.transport for s in document.scenarios}
    assert transports["test_push_vs_poll_latency[ws-push-64B]"] == "ws"
    assert transports["test_push_vs_poll_latency[short-poll-64B]"] == "short-poll"
    assert transports["test_histogram_merge"] == "micro"
    # A valid document of the schema: it survives a dump and a strict load.
    assert load_results(dump_results(document)) == document


def test_stats_are_kept_exactly(sample: dict[str, Any]) -> None:
    document = convert_pytest_benchmark(sample)
    for scenario, benchmark in zip(document.scenarios, sample["benchmarks"], strict=True):
        stats = benchmark["stats"]
        assert scenario.params["mean_ns"] == pytest.approx(stats["mean"] * 1e9, abs=0.1)
        assert scenario.params["rounds"] == stats["rounds"] == scenario.delivered
        assert scenario.throughput_msgs_per_s == stats["ops"]
        assert scenario.latency_us.mean == pytest.approx(stats["mean"] * 1e6)
        assert scenario.params["group"] == benchmark["group"]


def test_histogram_source_is_stated(sample: dict[str, Any]) -> None:
    document = convert_pytest_benchmark(sample)
    by_name = {s.params["benchmark"]: s for s in document.scenarios}
    with_data = by_name["test_push_vs_poll_latency[ws-push-64B]"]
    assert with_data.params["latency_source"] == LATENCY_FROM_DATA
    assert with_data.latency_us.count == 20  # the fixture keeps 20 rounds of data
    stats_only = by_name["test_histogram_merge"]
    assert stats_only.params["latency_source"] == LATENCY_FROM_STATS
    assert stats_only.latency_us.count == stats_only.params["rounds"]
    assert any("min, median and max" in w for w in document.warnings)


def test_transport_keywords() -> None:
    assert micro_transport({"name": "t[1KiB-bare-asgi]", "group": "asgi-ws-echo"}) == "echo"
    assert micro_transport({"name": "t", "param": "long-poll-waiting-64B"}) == "long-poll"
    assert micro_transport({"name": "test_sse_format[64B-1]", "group": "sse-format"}) == "sse"
    assert micro_transport({"name": "test_x", "group": None}) == "micro"


def test_rejects_what_it_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(SchemaError):
        convert_pytest_benchmark({"benchmarks": []})
    with pytest.raises(SchemaError, match="unusable benchmark"):
        convert_pytest_benchmark({"machine_info": {}, "benchmarks": [{"name": "x"}]})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SchemaError, match=r"bad\.json"):
        load_any_results(bad)


def test_load_any_results(tmp_path: Path) -> None:
    assert load_any_results(SAMPLE).run_id == "micro-pytest-benchmark-v5"
    assert load_any_results(FIXTURES / "results-v1.json").kind != "micro"


def test_renders_like_any_run(sample: dict[str, Any]) -> None:
    document = convert_pytest_benchmark(sample)
    text = verdict(document)
    assert text.startswith("4 micro-benchmarks in 3 groups.")
    assert "push-vs-poll 64B: test_push_vs_poll_latency[ws-push-64B] fastest" in text
    assert len(summary_table(document)) == 4
    assert [chart.id for chart in charts(document)] == ["latency"]
    assert "micro-benchmarks" in render_markdown(document)
    files = render_report(document)
    assert "<svg" in files["report.html"]
