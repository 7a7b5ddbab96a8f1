"""The framework tax and per-flavor verdicts (issue 15), from a two-flavor document built from the
golden v1 fixture: every scenario once under ``asgi`` and once under ``fastapi``, the latter
dearer by a known factor, so every figure below can be worked out by hand."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from pushbench.core.framework_tax import framework_tax
from pushbench.core.scenario_flavor import base_name, flavor_of, split_flavor
from pushbench.core.schema import CpuClock, CpuClocks, ResultsDocument, Scenario, load_results
from pushbench.report.charts import charts
from pushbench.report.html import render_html
from pushbench.report.markdown import render_markdown
from pushbench.report.table import TAX_COLUMNS, cpu_clock_note, scenario_label, tax_table
from pushbench.report.verdict import verdict, verdict_lines

FIXTURES = Path(__file__).parent.parent / "fixtures"
#: fastapi's server CPU over asgi's, per transport of the golden fixture.
FACTORS = {"ws": 1.5, "short-poll": 3.0, "long-poll": 2.0, "sse": 1.25}
#: fastapi's ws p99 (µs): told apart from asgi's 996 µs in the verdicts.
FASTAPI_WS_P99_US = 2_500


def _under(scenario: Scenario, flavor: str) -> Scenario:
    update: dict[str, object] = {
        "name": f"{scenario.name}@{flavor}",
        "params": {**scenario.params, "flavor": flavor},
    }
    if flavor == "fastapi" and scenario.server is not None:
        factor = FACTORS[scenario.transport]
        cpu_per_msg = scenario.server.cpu_us_per_delivered_msg
        update["server"] = scenario.server.model_copy(
            update={
                "cpu_s": scenario.server.cpu_s * factor,
                "cpu_us_per_delivered_msg": None if cpu_per_msg is None else cpu_per_msg * factor,
            }
        )
        if scenario.transport == "ws":
            update["latency_us"] = scenario.latency_us.model_copy(update={"p99": FASTAPI_WS_P99_US})
    return scenario.model_copy(update=update)


@functools.cache
def two_flavors() -> ResultsDocument:
    golden = load_results(FIXTURES / "results-v1.json")
    scenarios = [_under(s, f) for s in golden.scenarios for f in ("asgi", "fastapi")]
    clocks = CpuClocks(
        server=CpuClock(clock="clock_gettime", resolution_ns=1),
        generator=CpuClock(clock="clock_gettime(CLOCK_PROCESS_CPUTIME_ID)", resolution_ns=1),
    )
    environment = golden.environment.model_copy(update={"cpu_clocks": clocks})
    return golden.model_copy(
        update={
            "scenarios": scenarios,
            "environment": environment,
            "framework_tax": framework_tax(scenarios),
        }
    )


def by_name(document: ResultsDocument) -> dict[str, Scenario]:
    return {s.name: s for s in document.scenarios}


# --- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ws@asgi", ("ws", "asgi")),
        ("short-poll@0.1@fastapi", ("short-poll@0.1", "fastapi")),
        ("short-poll@0.1", ("short-poll@0.1", None)),  # the interval is not a flavor
        ("*@asgi", ("*", "asgi")),
        ("ws", ("ws", None)),
        ("@asgi", ("@asgi", None)),
    ],
)
def test_split_flavor(text: str, expected: tuple[str, str | None]) -> None:
    assert split_flavor(text) == expected


def test_a_scenario_s_flavor_comes_from_its_params_not_its_name() -> None:
    scenario = by_name(two_flavors())["short-poll-100ms@fastapi"]
    assert (flavor_of(scenario), base_name(scenario)) == ("fastapi", "short-poll-100ms")
    unflavored = scenario.model_copy(update={"params": {}})
    assert (flavor_of(unflavored), base_name(unflavored)) == (None, "short-poll-100ms@fastapi")
    assert scenario_label(scenario) == "short polling every 0.1 s (fastapi)"
    assert scenario_label(scenario, flavor=False) == "short polling every 0.1 s"


# --- the tax -----------------------------------------------------------------------------------


def test_framework_tax_pairs_each_scenario_across_flavors() -> None:
    rows = {row.scenario: row for row in framework_tax(two_flavors().scenarios)}
    assert list(rows) == ["ws", "short-poll-100ms", "long-poll", "sse"]
    ws, poll = rows["ws"], rows["short-poll-100ms"]
    assert (ws.asgi_scenario, ws.fastapi_scenario) == ("ws@asgi", "ws@fastapi")
    assert ws.asgi_cpu_us_per_delivered_msg == pytest.approx(71.0)
    assert ws.tax_cpu_us_per_delivered_msg == pytest.approx(35.5)  # 71 x 1.5 - 71
    assert ws.asgi_cpu_us_per_http_request is None  # a WebSocket makes no requests
    assert ws.tax_cpu_us_per_http_request is None
    # SSE's 10 "requests" are stream opens, not round trips: no price per request.
    assert rows["sse"].asgi_cpu_us_per_http_request is None
    # 3.85 s of server CPU over 1,000 requests; fastapi 3x that.
    assert poll.asgi_cpu_us_per_http_request == pytest.approx(3_850)
    assert poll.fastapi_cpu_us_per_http_request == pytest.approx(11_550)
    assert poll.tax_cpu_us_per_http_request == pytest.approx(7_700)


def test_a_scenario_of_one_flavor_only_has_no_tax_row() -> None:
    scenarios = [s for s in two_flavors().scenarios if s.name != "sse@fastapi"]
    assert [row.scenario for row in framework_tax(scenarios)] == [
        "ws",
        "short-poll-100ms",
        "long-poll",
    ]
    golden = load_results(FIXTURES / "results-v1.json")
    assert framework_tax(golden.scenarios) == []  # no flavors recorded: nothing to pair
    assert tax_table(golden) == []


def test_tax_table_rows() -> None:
    rows = tax_table(two_flavors())
    assert len(TAX_COLUMNS) == len(rows[0])
    assert rows[0] == ["ws", "71.0", "106", "+35.5 (1.5×)", "—", "—", "—"]
    assert rows[1] == [
        "short-poll-100ms",
        "193",
        "578",
        "+385 (3.0×)",
        "3,850",
        "11,550",
        "+7,700 (3.0×)",
    ]


# --- verdicts ----------------------------------------------------------------------------------


def test_a_verdict_line_per_flavor_from_that_flavor_s_scenarios_only() -> None:
    asgi, fastapi, tax = verdict_lines(two_flavors())
    assert asgi.startswith(
        "asgi flavor: WebSocket push delivered every message with p99 996 µs at 71 µs server "
        "CPU per message; short polling every 0.1 s: p99 100 ms (100× slower), 2.7× the server "
        "CPU per message"
    )
    # fastapi's own ws is the reference of its line: its p99 and CPU, not asgi's.
    assert fastapi.startswith(
        "fastapi flavor: WebSocket push delivered every message with p99 2.5 ms at 106 µs "
        "server CPU per message; short polling every 0.1 s: p99 100 ms (40× slower), 5.4× the "
        "server CPU per message"
    )
    assert "(fastapi)" not in fastapi
    assert "(asgi)" not in asgi
    assert tax == (
        "Framework tax (fastapi − asgi server CPU): ws +35.5 µs per message (1.5×); "
        "short-poll-100ms +7,700 µs per request (3.0×); long-poll +183 µs per request (2.0×); "
        "sse +23.8 µs per message (1.2×)."
    )
    assert verdict(two_flavors()) == " ".join([asgi, fastapi, tax])


def test_one_flavor_reads_as_before_but_says_which() -> None:
    document = two_flavors()
    only = [s for s in document.scenarios if flavor_of(s) == "fastapi"]
    (line,) = verdict_lines(document.model_copy(update={"scenarios": only}))
    assert line.startswith("fastapi flavor: WebSocket push delivered every message")
    golden = load_results(FIXTURES / "results-v1.json")
    (line,) = verdict_lines(golden)  # no flavor recorded: no flavor said
    assert line.startswith("WebSocket push delivered every message with p99 996 µs")


# --- reports -----------------------------------------------------------------------------------


def test_summary_md_shows_the_tax_table_the_flavor_verdicts_and_the_cpu_clock() -> None:
    text = render_markdown(two_flavors())
    assert "**Verdict:**\n\n- asgi flavor: WebSocket push" in text
    assert "\n- fastapi flavor: WebSocket push" in text
    assert "### Framework tax" in text
    assert "| " + " | ".join(TAX_COLUMNS) + " |" in text
    assert "| ws | 71.0 | 106 | +35.5 (1.5×) | — | — | — |" in text
    note = (
        "CPU read per process in ns: server tree by clock_gettime, 1 ns resolution; load "
        "generator by clock_gettime(CLOCK_PROCESS_CPUTIME_ID), 1 ns resolution."
    )
    assert cpu_clock_note(two_flavors()) == note
    assert note in text
    # Near the CPU figures: right under the comparison table.
    assert text.index("| sse@fastapi |") < text.index(note) < text.index("### Framework tax")


def test_cpu_clock_note_says_ticks_when_psutil_read_them() -> None:
    clocks = CpuClocks(
        server=CpuClock(clock="psutil", resolution_ns=10_000_000),
        generator=CpuClock(clock="clock_gettime(CLOCK_PROCESS_CPUTIME_ID)", resolution_ns=1),
    )
    document = two_flavors()
    document = document.model_copy(
        update={"environment": document.environment.model_copy(update={"cpu_clocks": clocks})}
    )
    assert cpu_clock_note(document) == (
        "CPU read per process: server tree by psutil, 10 ms resolution; load generator by "
        "clock_gettime(CLOCK_PROCESS_CPUTIME_ID), 1 ns resolution."
    )
    assert cpu_clock_note(load_results(FIXTURES / "results-v1.json")) is None  # not recorded


def test_report_html_has_the_tax_table_its_chart_and_a_verdict_per_flavor() -> None:
    document = two_flavors()
    html = render_html(document)
    assert '<p class="verdict" id="verdict">asgi flavor: ' in html
    assert '<p class="verdict" id="verdict-1">fastapi flavor: ' in html
    assert '<p class="verdict" id="verdict-2">Framework tax (fastapi − asgi' in html
    assert '<section id="framework-tax">' in html
    assert "<td>short-poll-100ms</td>" in html
    assert '<td class="num">+7,700 (3.0×)</td>' in html
    assert 'id="cpu-clock-note">CPU read per process in ns' in html
    assert '<figure class="chart" id="chart-tax">' in html
    ids = [chart.id for chart in charts(document)]
    assert ids == ["latency", "cost", "tax", "delivery"]


def test_the_tax_chart_has_a_bar_per_flavor_and_labels_the_tax() -> None:
    (chart,) = [c for c in charts(two_flavors()) if c.id == "tax"]
    svg = chart.svg
    for text in ("asgi", "fastapi", "tax +35.5 (1.5×)", "tax +7,700 (3.0×)", "n/a"):
        assert text in svg, text
    # Four scenarios x two flavors x two panels: 16 bars, in the two flavor colours.
    assert svg.count("fill: #1e3a8a") + svg.count("fill: #0d9488") >= 16
    assert charts(load_results(FIXTURES / "results-v1.json"))[2].id == "delivery"  # no tax chart
