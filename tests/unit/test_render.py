"""Report rendering from the golden v1 fixtures: table, verdict, warnings, Markdown, CSV, HTML.

Markdown and CSV are compared byte for byte with ``tests/fixtures/report-v1/``; after an
intended change, regenerate them with ``PUSHBENCH_UPDATE_GOLDEN=1 pytest tests/unit/test_render.py``
and review the diff. HTML and SVG depend on matplotlib's version, so they are checked by structure.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pushbench.cli import kinds as _kinds  # noqa: F401  (every kind's report parts, registered)
from pushbench.core.histogram import LatencyHistogram
from pushbench.core.schema import ResultsDocument, latency_summary, load_results
from pushbench.core.units import (
    format_duration_us,
    format_ms,
    format_percent,
    format_ratio,
    format_value,
)
from pushbench.report import (
    SUMMARY_COLUMNS,
    Severity,
    findings,
    render_csv,
    render_markdown,
    render_report,
    scenario_label,
    summary_table,
    verdict,
    write_report,
)
from pushbench.report.charts import charts
from pushbench.report.csv import CSV_COLUMNS
from pushbench.report.html import render_html
from pushbench.report.markdown import servers_note

FIXTURES = Path(__file__).parent.parent / "fixtures"
GOLDEN_DIR = FIXTURES / "report-v1"
UPDATE_GOLDEN = os.environ.get("PUSHBENCH_UPDATE_GOLDEN") == "1"


def fixture(name: str) -> ResultsDocument:
    return load_results(FIXTURES / f"results-v1{name}.json")


@functools.cache
def fixture_html(name: str) -> str:
    """The fixture's HTML, rendered once per session (charts take about a second)."""
    return render_html(fixture(name))


@pytest.fixture(scope="module")
def golden() -> ResultsDocument:
    return fixture("")


@pytest.fixture(scope="module")
def lossy() -> ResultsDocument:
    return fixture("-lossy")


@pytest.fixture(scope="module")
def sweep() -> ResultsDocument:
    return fixture("-sweep")


def with_scenarios(document: ResultsDocument, **update: Any) -> ResultsDocument:
    return document.model_copy(
        update={"scenarios": [s.model_copy(update=update) for s in document.scenarios]}
    )


def check_golden(name: str, text: str) -> None:
    path = GOLDEN_DIR / name
    if UPDATE_GOLDEN:
        GOLDEN_DIR.mkdir(exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    assert text == path.read_bytes().decode("utf-8"), f"{path} differs"


# --- units and table -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("us", "ms"),
    [(312, "0.31"), (996, "1.00"), (52031, "52.0"), (100031, "100"), (1003000, "1,003")],
)
def test_format_ms(us: int, ms: str) -> None:
    assert format_ms(us) == ms


def test_other_units() -> None:
    assert [format_duration_us(v) for v in (850, 1200, 100031, 12_500_000)] == [
        "850 µs",
        "1.2 ms",
        "100 ms",
        "12.5 s",
    ]
    assert [format_value(v) for v in (None, 0, 0.0005, 0.7105, 3.1, 71.0, 192.6, 1998.7)] == [
        "—",
        "0",
        "0.0005",
        "0.711",
        "3.10",
        "71.0",
        "193",
        "1,999",
    ]
    assert [format_ratio(r) for r in (1.25, 40.2, 1234.0)] == ["1.2×", "40×", "1,234×"]
    assert format_percent(1, 100_000) == "<0.01 %"
    assert format_percent(99_999, 100_000) == ">99.99 %"
    assert format_percent(10, 20000) == "0.05 %"
    assert format_percent(1, 0) == "—"


def test_summary_table(golden: ResultsDocument) -> None:
    assert SUMMARY_COLUMNS[0] == "scenario"
    assert summary_table(golden) == [
        ["ws", "0.31", "1.00", "20,000 / 20,000", "0", "2,000 / 2,000", "1,999", "71.0", "—",
         "14%", "29%"],
        ["short-poll-100ms", "52.0", "100", "19,990 / 20,000", "10", "2,000 / 2,000", "1,997",
         "193", "0.05", "38%", "41%"],
        ["long-poll", "1.11", "4.46", "20,000 / 20,000", "0", "2,000 / 2,000", "1,999", "130",
         "0.711", "26%", "33%"],
        ["sse", "0.42", "1.33", "20,000 / 20,000", "0", "2,000 / 2,000", "2,000", "95.0",
         "0.0005", "19%", "30%"],
    ]  # fmt: skip
    assert all(len(row) == len(SUMMARY_COLUMNS) for row in summary_table(golden))


def test_summary_table_without_server_or_latency(golden: ResultsDocument) -> None:
    empty = latency_summary(LatencyHistogram())
    row = summary_table(with_scenarios(golden, server=None, latency_us=empty))[0]
    assert row[1:3] == ["—", "—"]
    assert row[SUMMARY_COLUMNS.index("server CPU µs/msg")] == "—"


def test_summary_table_shows_publishes_that_never_left(golden: ResultsDocument) -> None:
    """A target killed mid-run: every *sent* message arrived, half the schedule never left."""
    killed = with_scenarios(golden, publishes_attempted=114_250, publishes_sent=57_000)
    row = summary_table(killed)[0]
    published = SUMMARY_COLUMNS.index("published / attempted")
    assert row[published - 2 : published + 1] == ["20,000 / 20,000", "0", "57,000 / 114,250"]
    uncounted = with_scenarios(golden, publishes_attempted=None, publishes_sent=None)
    assert summary_table(uncounted)[0][published] == "—"


def test_scenario_labels(lossy: ResultsDocument, sweep: ResultsDocument) -> None:
    assert [scenario_label(s) for s in lossy.scenarios] == [
        "WebSocket push",
        "short polling every 0.1 s",
        "short polling every 1 s",
        "long polling",
        "Server-Sent Events",
    ]
    assert scenario_label(sweep.scenarios[0]) == "WebSocket push, 1 worker"
    assert scenario_label(sweep.scenarios[2]) == "WebSocket push, 4 workers"


# --- verdict and warnings ------------------------------------------------------------------------


def test_verdict_of_a_comparison(golden: ResultsDocument) -> None:
    assert verdict(golden) == (
        "WebSocket push delivered every message with p99 996 µs at 71 µs server CPU per message; "
        "short polling every 0.1 s: p99 100 ms (100× slower), 2.7× the server CPU per message, "
        "10 lost; long polling: p99 4.5 ms (4.5× slower), 1.8× the server CPU per message; "
        "Server-Sent Events: p99 1.3 ms, 1.3× the server CPU per message."
    )


def test_verdict_follows_the_numbers(golden: ResultsDocument) -> None:
    faster_poll = golden.model_copy(
        update={
            "scenarios": [
                s.model_copy(update={"latency_us": s.latency_us.model_copy(update={"p99": 300})})
                if s.name == "long-poll"
                else s
                for s in golden.scenarios
            ]
        }
    )
    assert "long polling: p99 300 µs (3.3× faster)" in verdict(faster_poll)
    no_ws = golden.model_copy(update={"scenarios": golden.scenarios[1:]})
    assert verdict(no_ws).startswith("Server-Sent Events delivered every message with p99 1.3 ms")


def test_verdict_of_partial_and_empty_runs(lossy: ResultsDocument, golden: ResultsDocument) -> None:
    text = verdict(lossy)
    assert text.startswith("WebSocket push delivered every message with p99 1.2 ms")
    assert "short polling every 1 s: p99 989 ms (829× slower)" in text
    assert text.endswith("The run was interrupted: these are partial results.")
    assert verdict(golden.model_copy(update={"scenarios": []})) == "No scenario was measured."
    nothing = with_scenarios(golden, delivered=0, latency_us=latency_summary(LatencyHistogram()))
    assert verdict(nothing) == "Nothing was delivered, so there is nothing to compare."


def test_verdict_of_a_run_whose_publishes_failed(golden: ResultsDocument) -> None:
    killed = with_scenarios(golden, publishes_attempted=114_250, publishes_sent=57_000)
    text = verdict(killed)
    assert text.startswith(
        "WebSocket push delivered every message sent (57,250 of 114,250 publishes failed) with "
        "p99 996 µs"
    )
    assert "Server-Sent Events: p99 1.3 ms, 1.3× the server CPU per message, 57,250 " in text
    assert text.endswith(
        "The run is incomplete (ws: 57,250 of 114,250 publishes failed and 3 more problems): "
        "these are partial results."
    )


def test_verdict_of_a_run_with_a_scenario_error(golden: ResultsDocument) -> None:
    only_ws = golden.model_copy(update={"scenarios": golden.scenarios[:1]})
    document = with_scenarios(only_ws, errors=["publishing failed 12.3 s into the schedule: EOF"])
    assert verdict(document).endswith(
        "The run is incomplete (ws: publishing failed 12.3 s into the schedule: EOF): these are "
        "partial results."
    )
    two = with_scenarios(document, publishes_attempted=10, publishes_sent=9)
    assert "(ws: 1 of 10 publishes failed and 1 more problem)" in verdict(two)


def test_verdict_of_a_sweep(sweep: ResultsDocument) -> None:
    assert verdict(sweep) == (
        "WebSocket push reaches 4,200 msgs/s with 4 workers, the most tried "
        "(p99 3.5 ms, load generator saturated); "
        "Server-Sent Events peaks at 3,600 msgs/s with 2 workers (p99 2.1 ms)."
    )


def test_findings(lossy: ResultsDocument) -> None:
    found = [(f.severity, f.text) for f in findings(lossy)]
    E, W = Severity.ERROR, Severity.WARNING  # noqa: N806 - short names keep the table legible
    assert found == [
        (E, "The run was interrupted: results are partial."),
        (E, "Run error: sse: subscriber 3 reconnected twice"),
        (W, "cpu frequency scaling is enabled (governor: powersave)"),
        (E, "short-poll@0.1: 25 of 10,000 messages lost (0.25 %)."),
        (E, "short-poll@0.1: history overflow: 25 messages skipped by one poller"),
        (E, "short-poll@1: 140 of 10,000 messages lost (1.40 %)."),
        (W, "short-poll@1: 4 delivered twice."),
        (
            W,
            "short-poll@1: the load generator was saturated (97 % of a core), so these "
            "latencies include its own delays; rerun with less load.",
        ),
        (W, "long-poll: 3 delivered out of order."),
        (
            E,
            "sse: 150 of 1,150 publishes failed (sent 1,000 of 1,150 attempted); delivered / "
            "sent and lost count the sent ones only.",
        ),
        (W, "sse: 1 received but never sent."),
    ]


def test_a_saturated_server_is_a_finding(golden: ResultsDocument) -> None:
    ws = golden.scenarios[0]
    assert ws.server is not None
    busy = ws.server.model_copy(update={"busiest_process_cpu_percent": 98.6, "saturated": True})
    document = golden.model_copy(update={"scenarios": [ws.model_copy(update={"server": busy})]})
    assert (
        Severity.WARNING,
        "ws: the server was saturated (its busiest process at 99 % of a core): the throughput "
        "is its ceiling and the latencies include its queueing; add workers or lower the load "
        "to measure the transport itself.",
    ) in [(f.severity, f.text) for f in findings(document)]
    assert not [f for f in findings(golden) if "server was saturated" in f.text]
    capacity = document.model_copy(update={"kind": "serverbench"})
    assert not [f for f in findings(capacity) if "server was saturated" in f.text]


def test_many_errors_are_counted_not_listed(golden: ResultsDocument) -> None:
    noisy = with_scenarios(golden, errors=[f"error {i}" for i in range(8)])
    texts = [f.text for f in findings(noisy) if f.text.startswith("ws:")]
    assert texts[-1] == "ws: 3 more errors (see results.json)."
    assert len(texts) == 6


# --- Markdown and CSV ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "-lossy", "-sweep"])
def test_markdown_matches_golden(name: str) -> None:
    check_golden(f"summary{name}.md", render_markdown(fixture(name)))


@pytest.mark.parametrize("name", ["", "-lossy", "-sweep"])
def test_csv_matches_golden(name: str) -> None:
    check_golden(f"results{name}.csv", render_csv(fixture(name)))


def test_markdown_escapes_table_cells(golden: ResultsDocument) -> None:
    piped = golden.model_copy(
        update={"scenarios": [golden.scenarios[0].model_copy(update={"name": "a|b"})]}
    )
    assert "| a\\|b |" in render_markdown(piped)


def test_csv_reads_back(lossy: ResultsDocument) -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(lossy))))
    assert len(rows) == len(lossy.scenarios)
    assert list(rows[0]) == list(CSV_COLUMNS)
    ws, slow = rows[0], rows[2]
    assert ws["scenario"] == "ws"
    assert ws["http_requests"] == ""  # None
    assert slow["generator_saturated"] == "true"
    assert int(slow["lost"]) == 140
    assert float(slow["latency_p99_us"]) == lossy.scenarios[2].latency_us.p99
    assert '"poll_interval_s":1.0' in slow["params"]


# --- HTML ----------------------------------------------------------------------------------------


def attribute_values(html: str, name: str) -> list[str]:
    return re.findall(rf'\s{name}="([^"]*)"', html)


@pytest.mark.parametrize(
    ("name", "chart_ids"),
    [
        ("", ["latency", "cost", "delivery"]),
        ("-lossy", ["latency", "cost", "delivery"]),
        ("-sweep", ["sweep", "latency", "cost", "delivery"]),
    ],
)
def test_html_structure(name: str, chart_ids: list[str]) -> None:
    document = fixture(name)
    html = fixture_html(name)
    assert html.startswith("<!DOCTYPE html>")
    assert re.findall(r'<figure class="chart" id="chart-([a-z]+)">', html) == chart_ids
    assert html.count("<svg ") == len(chart_ids)
    assert '<p class="verdict" id="verdict">' in html
    assert html.count("<tr>") == len(document.scenarios) + 1  # + the header row
    for scenario in document.scenarios:
        assert f"<td>{scenario.name}<small>" in html
    assert document.run_id in html


@pytest.mark.parametrize("name", ["", "-lossy", "-sweep"])
def test_html_is_self_contained(name: str) -> None:
    html = fixture_html(name)
    assert "<script" not in html
    assert "<link" not in html
    assert "@import" not in html
    # Only in-page references: chart clip paths and markers, nothing fetched.
    for value in attribute_values(html, "href") + attribute_values(html, "xlink:href"):
        assert value.startswith("#"), value
    assert attribute_values(html, "src") == []
    assert re.findall(r"url\((?!#)", html) == []


@pytest.mark.parametrize("name", ["", "-sweep"])
def test_html_ids_are_unique(name: str) -> None:
    ids = Counter(attribute_values(fixture_html(name), "id"))
    assert [i for i, n in ids.items() if n > 1] == []


def test_html_shows_warnings_and_partial_runs() -> None:
    html = fixture_html("-lossy")
    assert "interrupted: partial results" in html
    assert '<section id="warnings"><h2>Warnings (11, 6 errors)</h2>' in html
    assert html.count('<li class="error">') == 6
    assert html.count('<li class="warning">') == 5
    assert '<td class="num bad">140</td>' in html
    assert '<td class="num bad">1,000 / 1,150</td>' in html
    assert ">complete</span>" in fixture_html("")


def test_html_says_a_run_with_errors_is_incomplete(golden: ResultsDocument) -> None:
    broken = golden.model_copy(update={"scenarios": golden.scenarios[:1]})
    html = render_html(with_scenarios(broken, errors=["subscriber failed: EOF"]))
    assert '<span class="badge error">incomplete: see the errors</span>' in html
    assert ">complete</span>" not in html


def test_html_escapes_what_the_run_wrote(golden: ResultsDocument) -> None:
    evil = "<script>alert(1)</script>"
    document = golden.model_copy(
        update={
            "run_id": evil,
            "errors": [evil],
            "scenarios": [golden.scenarios[0].model_copy(update={"name": evil, "errors": [evil]})],
        }
    )
    html = render_html(document)
    assert "<script" not in html
    assert "&lt;script&gt;" in html


def test_charts_are_deterministic_svg(golden: ResultsDocument) -> None:
    first, second = charts(golden), charts(golden)
    assert [c.svg for c in first] == [c.svg for c in second]
    for chart in first:
        assert chart.svg.startswith("<svg ")
        assert chart.svg.endswith("</svg>")
        assert "<?xml" not in chart.svg
        # Text stays text (svg.fonttype none): the legend names the scenarios.
    latency = first[0].svg
    for scenario in golden.scenarios:
        assert f">{scenario.name}</text>" in latency


def test_charts_of_an_empty_document(golden: ResultsDocument) -> None:
    empty = golden.model_copy(update={"scenarios": []})
    assert [c.id for c in charts(empty)] == ["latency", "cost", "delivery"]
    assert "No scenario was measured." in render_html(empty)


# --- files ---------------------------------------------------------------------------------------


def test_write_report(tmp_path: Path, golden: ResultsDocument) -> None:
    out = tmp_path / "reports" / golden.run_id
    written = write_report(golden, out)
    assert written == [out / "report.html", out / "summary.md", out / "results.csv"]
    expected = render_report(golden)
    for path in written:
        assert path.read_bytes() == expected[path.name].encode("utf-8")
        assert path.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "results.csv", "summary.md"]
    # Rewriting replaces the files, leaving no temporary ones behind.
    assert write_report(golden, out) == written
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "results.csv", "summary.md"]


def test_the_summary_says_which_server_served_the_figures(golden: ResultsDocument) -> None:
    assert servers_note(golden) is None  # a run from before --server says nothing
    one = golden.model_copy(update={"config": {"asgi_server": {"name": "granian", "version": "2"}}})
    assert servers_note(one) == "Served by granian 2."
    assert "Served by granian 2." in render_markdown(one)
    records = [{"name": "granian", "version": "2"}, {"name": "uvicorn", "version": None}]
    swept = golden.model_copy(update={"config": {"asgi_servers": records}})
    assert servers_note(swept) == "Served by granian 2, uvicorn (version unknown)."
