"""The comparison table every report shows: one row per scenario, human units, as strings.

HTML, Markdown and the terminal (``rich``) print the same rows, so the numbers never disagree.
"""

from __future__ import annotations

from typing import Final

from pushbench.core.framework_tax import FRAMEWORK, LEAN, framework_tax
from pushbench.core.kinds import Transport
from pushbench.core.scenario_flavor import flavor_of
from pushbench.core.schema import CpuClock, FrameworkTax, ResultsDocument, Scenario
from pushbench.core.units import (
    NOT_APPLICABLE,
    format_count,
    format_ms,
    format_rate,
    format_value,
)

__all__ = [
    "NUMERIC_COLUMNS",
    "SUMMARY_COLUMNS",
    "TAX_COLUMNS",
    "cpu_clock_note",
    "format_tax",
    "harness_floor",
    "harness_floor_note",
    "scenario_label",
    "summary_row",
    "summary_table",
    "sweep_workers",
    "tax_table",
]

#: Column headings of :func:`summary_table`, in order.
SUMMARY_COLUMNS: Final = (
    "scenario",
    "p50 ms",
    "p99 ms",
    "delivered / sent",
    "lost",
    "published / attempted",
    "msgs/s",
    "server CPU µs/msg",
    "HTTP req/msg",
    "server CPU %",
    "generator CPU %",
)
#: Indexes of the columns holding numbers (to right-align them).
NUMERIC_COLUMNS: Final = frozenset(range(1, len(SUMMARY_COLUMNS)))

_TRANSPORT_LABELS: Final = {
    Transport.WS: "WebSocket push",
    Transport.SHORT_POLL: "short polling",
    Transport.LONG_POLL: "long polling",
    Transport.SSE: "Server-Sent Events",
    Transport.ECHO: "WebSocket echo",
}


def sweep_workers(scenario: Scenario) -> int | None:
    """The uvicorn worker count a sweep scenario ran with, if its params say so."""
    return scenario.typed_params.workers


def scenario_label(scenario: Scenario, *, flavor: bool = True) -> str:
    """What a scenario is, in words; ``flavor``: with the server flavor it measured, if any.

    Examples: ``WebSocket push``, ``short polling every 0.1 s (fastapi)``,
    ``long polling, 4 workers``.
    """
    label = _TRANSPORT_LABELS.get(scenario.transport, scenario.transport)
    interval = scenario.typed_params.poll_interval_s
    if scenario.transport == Transport.SHORT_POLL and interval is not None:
        label += f" every {interval:g} s"
    workers = sweep_workers(scenario)
    if workers is not None:
        label += f", {workers} worker" + ("s" if workers != 1 else "")
    measured_flavor = flavor_of(scenario)
    if flavor and measured_flavor is not None:
        label += f" ({measured_flavor})"
    return label


def summary_row(scenario: Scenario) -> list[str]:
    """One row of :func:`summary_table`."""
    latency = scenario.latency_us
    measured = latency.count > 0
    server = scenario.server
    return [
        scenario.name,
        format_ms(latency.p50) if measured else NOT_APPLICABLE,
        format_ms(latency.p99) if measured else NOT_APPLICABLE,
        f"{format_count(scenario.delivered)} / {format_count(scenario.sent)}",
        format_count(scenario.lost),
        _published(scenario),
        format_rate(scenario.throughput_msgs_per_s),
        format_value(server.cpu_us_per_delivered_msg if server else None),
        format_value(scenario.http_requests_per_delivered_msg),
        _percent(_server_cpu_percent(scenario)),
        _percent(scenario.generator.cpu_percent if scenario.generator else None),
    ]


def _published(scenario: Scenario) -> str:
    """Messages sent of those the schedule attempted: the ones that never left count nowhere else
    (``delivered / sent`` and ``lost`` are about sent messages)."""
    attempted, sent = scenario.publishes_attempted, scenario.publishes_sent
    if attempted is None or sent is None:
        return NOT_APPLICABLE
    return f"{format_count(sent)} / {format_count(attempted)}"


def _server_cpu_percent(scenario: Scenario) -> float | None:
    """Server CPU seconds over the scenario's schedule (warm-up + measured), in % of one core."""
    params = scenario.typed_params
    span = (params.duration_s or 0.0) + (params.warmup_s or 0.0)
    if scenario.server is None or span <= 0:
        return None
    return 100.0 * scenario.server.cpu_s / span


def _percent(value: float | None) -> str:
    return NOT_APPLICABLE if value is None else f"{value:.0f}%"


def summary_table(document: ResultsDocument) -> list[list[str]]:
    """The comparison table's rows (headings in :data:`SUMMARY_COLUMNS`), in document order.

    Columns: scenario name, p50 and p99 latency in ms, delivered / sent (deliveries owed:
    messages sent x subscribers), lost, published / attempted (messages), delivered
    messages per second, server CPU µs per delivered message, HTTP requests per delivered
    message, server and generator CPU in % of one core. Missing figures (no server sampled,
    a transport without requests, publishes not counted) read ``—``.

    Example:
        >>> rows = summary_table(load_results("reports/latest/results.json"))
        >>> rows[0]
        ['ws', '0.31', '1.00', '20,000 / 20,000', '0', '2,000 / 2,000', '1,999', '71.0', '—', ...]
    """
    return [summary_row(scenario) for scenario in document.scenarios]


#: Column headings of :func:`tax_table`, in order.
TAX_COLUMNS: Final = (
    "scenario",
    f"{LEAN} CPU µs/msg",
    f"{FRAMEWORK} CPU µs/msg",
    "framework tax µs/msg",
    f"{LEAN} CPU µs/req",
    f"{FRAMEWORK} CPU µs/req",
    "framework tax µs/req",
)


def format_tax(tax: float | None, lean: float | None) -> str:
    """A difference with its sign, and as a ratio of the lean figure: ``+180 (4.1×)``."""
    if tax is None or lean is None:
        return NOT_APPLICABLE
    text = ("+" if tax >= 0 else "−") + format_value(abs(tax))
    return f"{text} ({(lean + tax) / lean:.1f}×)" if lean > 0 else text


def _tax_row(row: FrameworkTax) -> list[str]:
    return [
        row.scenario,
        format_value(row.asgi_cpu_us_per_delivered_msg),
        format_value(row.fastapi_cpu_us_per_delivered_msg),
        format_tax(row.tax_cpu_us_per_delivered_msg, row.asgi_cpu_us_per_delivered_msg),
        format_value(row.asgi_cpu_us_per_http_request),
        format_value(row.fastapi_cpu_us_per_http_request),
        format_tax(row.tax_cpu_us_per_http_request, row.asgi_cpu_us_per_http_request),
    ]


def tax_table(document: ResultsDocument) -> list[list[str]]:
    """The framework-tax table's rows (headings in :data:`TAX_COLUMNS`): per scenario measured
    under both flavors, server CPU per delivered message and per HTTP request under each, and
    ``fastapi`` minus ``asgi``. Empty when no scenario was measured under both.

    Example:
        >>> tax_table(document)[1]
        ['short-poll@0.1', '95.0', '410', '+315 (4.3×)', '48.0', '205', '+157 (4.3×)']
    """
    return [_tax_row(row) for row in framework_tax(document.scenarios)]


def _resolution(ns: int) -> str:
    for unit, size in (("s", 1_000_000_000), ("ms", 1_000_000), ("µs", 1_000)):
        if ns >= size and ns % size == 0:
            return f"{ns // size} {unit}"
    return f"{ns:,} ns"


def _clock(clock: CpuClock) -> str:
    return f"{clock.clock}, {_resolution(clock.resolution_ns)} resolution"


def harness_floor(document: ResultsDocument) -> float | None:
    """The run's receive-path floor, p50 µs (``config.harness_floor``, :mod:`pushbench.drivers.
    floor`), or None for a run that did not measure it."""
    floor = document.config.get("harness_floor")
    value = floor.get("echo_p50_us") if isinstance(floor, dict) else None
    return float(value) if isinstance(value, int | float) and value > 0 else None


def harness_floor_note(document: ResultsDocument) -> str | None:
    """What the harness itself adds, in one sentence; None if the run did not measure it."""
    floor = document.config.get("harness_floor")
    p50 = harness_floor(document)
    if p50 is None or not isinstance(floor, dict):
        return None
    note = (
        f"Harness floor: a trivial loopback echo in the load generator round-trips in p50 "
        f"{p50:g} µs (p99 {floor.get('echo_p99_us', 0):g} µs)"
    )
    lateness = [
        (s.params.get("publisher_lateness_p50_us"), s.params.get("publisher_lateness_p99_us"))
        for s in document.scenarios
    ]
    known = [
        (a, b) for a, b in lateness if isinstance(a, int | float) and isinstance(b, int | float)
    ]
    if known:
        worst50, worst99 = max(a for a, _ in known), max(b for _, b in known)
        note += f"; publishers left at most p50 {worst50:g} µs, p99 {worst99:g} µs behind schedule"
    return note + "; a latency within 2× of the floor is at the harness's resolution."


def cpu_clock_note(document: ResultsDocument) -> str | None:
    """How the document's CPU figures were read, in one sentence; None if it does not say.

    Example: ``CPU read per process in ns: server tree by clock_gettime (1 ns resolution),
    load generator by clock_gettime(CLOCK_PROCESS_CPUTIME_ID) (1 ns resolution).``
    """
    clocks = document.environment.cpu_clocks
    if clocks is None:
        return None
    fine = clocks.server.resolution_ns <= 1_000 and clocks.generator.resolution_ns <= 1_000
    head = "CPU read per process in ns" if fine else "CPU read per process"
    return (
        f"{head}: server tree by {_clock(clocks.server)}; load generator by "
        f"{_clock(clocks.generator)}."
    )
