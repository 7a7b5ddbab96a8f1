"""The comparison table every report shows: one row per scenario, human units, as strings.

HTML, Markdown and the terminal (``rich``) print the same rows, so the numbers never disagree.
"""

from __future__ import annotations

from typing import Final

from pushbench.render.units import (
    NOT_APPLICABLE,
    format_count,
    format_ms,
    format_rate,
    format_value,
)
from pushbench.schema import ResultsDocument, Scenario

__all__ = [
    "NUMERIC_COLUMNS",
    "SUMMARY_COLUMNS",
    "scenario_label",
    "summary_row",
    "summary_table",
    "sweep_workers",
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
    "ws": "WebSocket push",
    "short-poll": "short polling",
    "long-poll": "long polling",
    "sse": "Server-Sent Events",
    "echo": "WebSocket echo",
}


def sweep_workers(scenario: Scenario) -> int | None:
    """The uvicorn worker count a sweep scenario ran with, if its params say so."""
    workers = scenario.params.get("workers")
    return workers if isinstance(workers, int) and not isinstance(workers, bool) else None


def scenario_label(scenario: Scenario) -> str:
    """What a scenario is, in words.

    Examples: ``WebSocket push``, ``short polling every 0.1 s``, ``long polling, 4 workers``.
    """
    label = _TRANSPORT_LABELS.get(scenario.transport, scenario.transport)
    interval = scenario.params.get("poll_interval_s")
    if scenario.transport == "short-poll" and isinstance(interval, int | float):
        label += f" every {interval:g} s"
    workers = sweep_workers(scenario)
    if workers is not None:
        label += f", {workers} worker" + ("s" if workers != 1 else "")
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
    params = scenario.params
    span = float(params.get("duration_s", 0)) + float(params.get("warmup_s", 0))
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
