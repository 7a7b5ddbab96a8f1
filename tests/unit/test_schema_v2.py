"""Results schema v2: the golden v2 fixture with intervals, v1 still loading, .hlog, report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

from pushbench.cli import kinds as _kinds  # noqa: F401  (every kind's report parts, registered)
from pushbench.core.histogram import (
    HIGHEST_TRACKABLE_US,
    LOWEST_TRACKABLE_US,
    SIGNIFICANT_FIGURES,
    LatencyHistogram,
)
from pushbench.core.interval_log import interval_log, interval_log_name, write_interval_log
from pushbench.core.schema import SchemaError, dump_results, latency_summary, load_results
from pushbench.core.units import format_rate
from pushbench.report import render_markdown
from pushbench.report.charts import charts, over_time_chart
from pushbench.report.over_time import over_time_line

FIXTURES = Path(__file__).parent.parent / "fixtures"
V2 = FIXTURES / "results-v2.json"


def test_the_v2_golden_loads_round_trips_and_carries_intervals() -> None:
    text = V2.read_text(encoding="utf-8")
    document = load_results(text)
    assert document.schema_version == 2
    assert dump_results(document) == text
    for scenario in document.scenarios:
        assert scenario.interval_s == 1.0
        assert scenario.intervals_started_at is not None
        assert [i.start_s for i in scenario.intervals] == [0.0, 1.0]
        assert all(i.server is not None and i.server.connections for i in scenario.intervals)
        # The intervals partition the measured window: their histograms merge to the whole.
        whole = scenario.intervals[0].latency_us.decode_histogram()
        for interval in scenario.intervals[1:]:
            whole.merge(interval.latency_us.decode_histogram())
        assert whole.encode() == scenario.latency_us.histogram
        assert sum(i.sent for i in scenario.intervals) <= scenario.sent  # warm-up: whole only


@pytest.mark.parametrize(
    "name", ["results-v1.json", "results-v1-lossy.json", "results-v1-sweep.json"]
)
def test_v1_documents_still_load_and_write_no_interval_fields(name: str) -> None:
    document = load_results(FIXTURES / name)
    assert document.schema_version == 1
    assert all(not s.intervals and s.interval_s is None for s in document.scenarios)
    assert '"interval' not in dump_results(document)


def test_a_v1_document_with_intervals_is_refused() -> None:
    data: dict[str, Any] = json.loads(V2.read_text(encoding="utf-8"))
    data["schema_version"] = 1
    with pytest.raises(SchemaError, match="intervals need schema_version 2"):
        load_results(json.dumps(data))


def test_an_interval_whose_counts_do_not_add_up_is_refused() -> None:
    data: dict[str, Any] = json.loads(V2.read_text(encoding="utf-8"))
    data["scenarios"][0]["intervals"][0]["lost"] = 7
    with pytest.raises(SchemaError, match=r"delivered .* \+ lost 7 != sent"):
        load_results(json.dumps(data))


def test_the_interval_log_reads_back_with_the_librarys_reader(tmp_path: Path) -> None:
    scenario = load_results(V2).scenarios[0]
    path = tmp_path / "ws.hlog"
    write_interval_log(scenario, path)
    reference = HdrHistogram(LOWEST_TRACKABLE_US, HIGHEST_TRACKABLE_US, SIGNIFICANT_FIGURES)
    reader = HistogramLogReader(str(path), reference)
    read = []
    while (histogram := reader.get_next_interval_histogram()) is not None:
        read.append(histogram)
    reader.close()
    assert [h.get_total_count() for h in read] == [i.latency_us.count for i in scenario.intervals]
    assert [h.get_value_at_percentile(99) for h in read] == [
        i.latency_us.p99 for i in scenario.intervals
    ]
    assert reader.get_start_time_sec() == pytest.approx(scenario.intervals_started_at.timestamp())  # type: ignore[union-attr]
    starts = [h.get_start_time_stamp() / 1000 - reader.get_start_time_sec() for h in read]
    assert starts == pytest.approx([i.start_s for i in scenario.intervals], abs=1e-3)


def test_a_scenario_without_intervals_gives_a_log_of_headers_alone() -> None:
    scenario = load_results(FIXTURES / "results-v1.json").scenarios[0]
    lines = interval_log(scenario).splitlines()
    assert all(line.startswith(("#", '"')) for line in lines)


def test_the_report_shows_the_run_over_time_for_v2_only() -> None:
    v2 = load_results(V2)
    chart = over_time_chart(v2)
    assert chart is not None
    assert chart.id == "overtime"
    assert chart.svg.count("ws@asgi") >= 1
    assert "sse@asgi" in chart.svg
    assert charts(v2)[-1].id == "overtime"
    markdown = render_markdown(v2)
    assert "### Over time" in markdown
    line = over_time_line(v2.scenarios[0])
    assert line.startswith("p99 per 1 s: ")
    assert "msgs/s 1,000 … 1,000" in line
    assert f"- `ws@asgi`: {line}" in markdown
    v1 = load_results(FIXTURES / "results-v1.json")
    assert over_time_chart(v1) is None
    assert "Over time" not in render_markdown(v1)


def test_a_short_tail_interval_stays_out_of_the_rate_range() -> None:
    """The window's last interval may be a few ms with nothing in it: the range of msgs/s is
    over the full-width intervals (else it would read "msgs/s 0.0 … 1,000")."""
    scenario = load_results(V2).scenarios[0]
    last = scenario.intervals[-1]
    empty = last.model_copy(
        update={
            "start_s": last.start_s + last.duration_s,
            "duration_s": 0.004,
            "latency_us": last.latency_us.model_copy(update={"count": 0}),
        }
    )
    tailed = scenario.model_copy(update={"intervals": [*scenario.intervals, empty]})
    assert "msgs/s 1,000 … 1,000" in over_time_line(tailed)


def test_intervals_counted_without_latencies_show_their_deliveries() -> None:
    """A fan-out's intervals (deliveries counted at each edge, none timed): its rate is what it
    delivered, and the chart says its latency was not timed rather than plotting zeros."""
    v2 = load_results(V2)
    scenario = v2.scenarios[0]
    untimed = [
        interval.model_copy(
            update={"latency_us": latency_summary(LatencyHistogram()), "delivered": 500 * (k + 1),
                    "sent": 500 * (k + 1), "lost": 0}
        )
        for k, interval in enumerate(scenario.intervals)
    ]  # fmt: skip
    fanout = scenario.model_copy(update={"name": "fanout/x", "intervals": untimed})
    line = over_time_line(fanout)
    rates = [500 * (k + 1) / i.duration_s for k, i in enumerate(scenario.intervals)]
    assert line.startswith(f"msgs/s {format_rate(min(rates))} … {format_rate(max(rates))}")
    assert "p99" not in line
    chart = over_time_chart(v2.model_copy(update={"scenarios": [fanout]}))
    assert chart is not None
    assert "deliveries counted, not timed" in chart.svg


@pytest.mark.parametrize(
    ("name", "file"),
    [
        ("ws@asgi", "intervals-ws@asgi.hlog"),
        ("short-poll@0.1@tls", "intervals-short-poll@0.1@tls.hlog"),
        ("echo/websockets-sansio/reference", "intervals-echo-websockets-sansio-reference.hlog"),
        ("push/w1 uvloop granian", "intervals-push-w1-uvloop-granian.hlog"),
    ],
)
def test_every_scenario_name_makes_one_plain_log_file_name(name: str, file: str) -> None:
    assert interval_log_name(name) == file
