"""What a run says, in plain words: the one-line verdict and the warnings a reader must not miss.

Both are derived from the numbers in the document, never written by hand, so a report can not
claim more than its run measured.
"""

from __future__ import annotations

import enum
import re
from collections import defaultdict
from dataclasses import dataclass

from pushbench.core.completeness import incomplete_reasons
from pushbench.core.framework_tax import FRAMEWORK, LEAN, framework_tax
from pushbench.core.kinds import Transport
from pushbench.core.scenario_flavor import flavor_of
from pushbench.core.schema import FrameworkTax, ResultsDocument, Scenario
from pushbench.core.soak import P99_DRIFT_LIMIT, RSS_GROWTH_LIMIT_BYTES_PER_MIN_PER_CONN, soak
from pushbench.core.tls_cost import is_tls
from pushbench.core.units import (
    format_count,
    format_duration_us,
    format_percent,
    format_rate,
    format_ratio,
)
from pushbench.report.kinds import parts_for
from pushbench.report.table import format_tax, harness_floor, scenario_label, sweep_workers

__all__ = ["Finding", "Severity", "findings", "is_sweep", "verdict", "verdict_lines"]

#: Scenario errors listed one by one; the rest are counted.
_MAX_ERRORS_LISTED = 5
#: The ", N workers" suffix of a sweep scenario's label.
_TRANSPORT_ONLY = re.compile(r", \d+ workers?$")
#: Latency ratios closer to 1 than this read "about the same" rather than "N× slower".
_SAME_LATENCY = 1.5


class Severity(enum.Enum):
    """How much a finding undermines the numbers."""

    WARNING = "warning"
    """The numbers stand, but read them with this in mind."""
    ERROR = "error"
    """Something failed or is missing: the numbers are incomplete."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a reader must know before trusting the numbers."""

    severity: Severity
    text: str


def is_sweep(document: ResultsDocument) -> bool:
    """Whether the document compares worker counts: its kind does (a ``sweep`` run), or its
    scenarios vary them."""
    if parts_for(document).compares_workers:
        return True
    seen: dict[str, set[int]] = defaultdict(set)
    for scenario in document.scenarios:
        workers = sweep_workers(scenario)
        if workers is not None:
            seen[scenario.transport].add(workers)
    return any(len(counts) > 1 for counts in seen.values())


def findings(document: ResultsDocument) -> list[Finding]:
    """Warnings and errors: run interrupted, generator or server saturated (the server is not
    flagged by ``serverbench``, which saturates it on purpose), publishes that failed,
    lost/duplicated/reordered messages, errors; in document order, run-level first."""
    found: list[Finding] = []
    if document.interrupted:
        found.append(Finding(Severity.ERROR, "The run was interrupted: results are partial."))
    found += [Finding(Severity.ERROR, f"Run error: {error}") for error in document.errors]
    found += [Finding(Severity.WARNING, warning) for warning in document.warnings]
    # A kind may saturate the server on purpose (serverbench: its ceiling is what it measures).
    capacity = parts_for(document).saturates_server
    floor = harness_floor(document)
    for scenario in document.scenarios:
        found += _scenario_findings(scenario, capacity)
        p50 = scenario.latency_us.p50
        if floor is not None and scenario.delivered and 0 < p50 < 2 * floor:
            text = (
                f"{scenario.name}: p50 {p50 / 1000:.3g} ms is within 2× of the harness's own floor "
                f"({floor / 1000:.3g} ms, a loopback echo in the generator): at the harness's "
                "resolution, not the server's."
            )
            found.append(Finding(Severity.WARNING, text))
        found += _soak_findings(scenario)
    return found


def _soak_findings(scenario: Scenario) -> list[Finding]:
    """A long run's growth: server memory per connection, latency drift (:mod:`.soak`)."""
    reading = soak(scenario)
    if reading is None:
        return []
    found = []
    if reading.grows:
        text = (
            f"{scenario.name}: server memory grew {reading.rss_slope_per_connection:+.0f} bytes "
            f"per minute per connection over {reading.minutes:.0f} minutes (over "
            f"{RSS_GROWTH_LIMIT_BYTES_PER_MIN_PER_CONN:.0f}) in its second half: a leak, a cache "
            "without a bound, or a bounded buffer still filling (a longer run tells)."
        )
        found.append(Finding(Severity.WARNING, text))
    if reading.drifts:
        text = (
            f"{scenario.name}: p99 drifted from {reading.first_p99_us / 1000:.3g} ms in the first "
            f"fifth of the run to {reading.last_p99_us / 1000:.3g} ms in the last "
            f"(×{reading.p99_drift:.1f}, over ×{P99_DRIFT_LIMIT:g})."
        )
        found.append(Finding(Severity.WARNING, text))
    return found


def _scenario_findings(s: Scenario, capacity: bool = False) -> list[Finding]:
    found: list[Finding] = []
    if s.publishes_failed:
        sent, attempted = (
            format_count(s.publishes_sent or 0),
            format_count(s.publishes_attempted or 0),
        )
        text = (
            f"{s.name}: {format_count(s.publishes_failed)} of {attempted} publishes failed (sent "
            f"{sent} of {attempted} attempted); delivered / sent and lost count the sent ones only."
        )
        found.append(Finding(Severity.ERROR, text))
    if s.sent and not s.delivered:
        found.append(Finding(Severity.ERROR, f"{s.name}: nothing was delivered."))
    elif s.lost:
        share = format_percent(s.lost, s.sent)
        text = (
            f"{s.name}: {format_count(s.lost)} of {format_count(s.sent)} messages lost ({share})."
        )
        found.append(Finding(Severity.ERROR, text))
    for count, what in (
        (s.duplicated, "delivered twice"),
        (s.reordered, "delivered out of order"),
        (s.unexpected, "received but never sent"),
    ):
        if count:
            found.append(Finding(Severity.WARNING, f"{s.name}: {format_count(count)} {what}."))
    if s.generator is not None and s.generator.saturated:
        text = (
            f"{s.name}: the load generator was saturated ({s.generator.cpu_percent:.0f} % of a "
            "core), so these latencies include its own delays; rerun with less load."
        )
        found.append(Finding(Severity.WARNING, text))
    if s.server is not None and s.server.saturated and not capacity:
        text = (
            f"{s.name}: the server was saturated (its busiest process at "
            f"{s.server.busiest_process_cpu_percent or 0:.0f} % of a core): the throughput is "
            "its ceiling and the latencies include its queueing; add workers or lower the load "
            "to measure the transport itself."
        )
        found.append(Finding(Severity.WARNING, text))
    found += [Finding(Severity.ERROR, f"{s.name}: {e}") for e in s.errors[:_MAX_ERRORS_LISTED]]
    if len(s.errors) > _MAX_ERRORS_LISTED:
        more = len(s.errors) - _MAX_ERRORS_LISTED
        found.append(Finding(Severity.ERROR, f"{s.name}: {more} more errors (see results.json)."))
    return found


def verdict(document: ResultsDocument) -> str:
    """What the run found, from its numbers: :func:`verdict_lines` joined into one text."""
    return " ".join(verdict_lines(document))


def verdict_lines(document: ResultsDocument) -> list[str]:
    """One or two sentences per line that say what the run found, from its numbers.

    For a comparison, WebSocket push (or else the fastest scenario) is the reference and every
    other scenario is put next to it; when the scenarios measured several flavors of the
    server, one line per flavor, from that flavor's scenarios only and saying which it is
    about, then a line for the framework tax. For a sweep, where throughput peaks for each
    transport. A kind's :class:`~pushbench.report.kinds.ReportParts` may replace the whole
    verdict (``micro``) or its headline (``sweep``: the recommendation). A run that measured
    each scenario plain and over TLS compares the plain ones, then says what TLS added.

    Example:
        ["asgi flavor: WebSocket push delivered every message with p99 1.0 ms at 71 µs server
        CPU per message; short polling every 0.1 s: p99 100 ms (100× slower), 2.7× the server
        CPU per message, 10 lost; ...", "fastapi flavor: ...", "Framework tax ..."]
    """
    parts = parts_for(document)
    if parts.verdict is not None:
        return parts.verdict(document)
    measured = [s for s in document.scenarios if s.delivered and s.latency_us.count]
    if not measured:
        return [
            "Nothing was delivered, so there is nothing to compare."
            if document.scenarios
            else ("No scenario was measured.")
        ]
    headline = parts.headline(document)
    if headline is not None:
        lines = [headline]
    elif is_sweep(document):
        lines = [_sweep_verdict(measured)]
    else:
        # Plain TCP is the comparison; what TLS adds to it is said on a line of its own.
        plain = [s for s in measured if not is_tls(s)] or measured
        lines = _flavor_verdicts(plain)
        tls = _tls_verdict(document)
        if tls:
            lines.append(tls)
    if document.interrupted:
        lines[-1] += " The run was interrupted: these are partial results."
    elif reasons := incomplete_reasons(document):
        others = len(reasons) - 1
        more = f" and {others} more problem{'s' if others > 1 else ''}" if others else ""
        lines[-1] += f" The run is incomplete ({reasons[0]}{more}): these are partial results."
    return lines


def _flavor_verdicts(measured: list[Scenario]) -> list[str]:
    """A comparison per flavor (each from its own scenarios), then the framework tax."""
    by_flavor: dict[str | None, list[Scenario]] = defaultdict(list)
    for scenario in measured:
        by_flavor[flavor_of(scenario)].append(scenario)
    if list(by_flavor) == [None]:
        return [_compare_verdict(measured)]
    lines = [
        (f"{flavor} flavor: " if flavor else "Flavor not recorded: ") + _compare_verdict(group)
        for flavor, group in by_flavor.items()
    ]
    tax = _tax_verdict(framework_tax(measured))
    return [*lines, tax] if tax else lines


def _tax_verdict(rows: list[FrameworkTax]) -> str | None:
    """``Framework tax (fastapi − asgi server CPU): WebSocket push +3.0 µs per message (1.1×);
    short-poll@0.1 +157 µs per request (4.3×)...``: per request where the transport makes
    requests, else per delivered message."""
    parts = []
    for row in rows:
        for tax, lean, per in (
            (row.tax_cpu_us_per_http_request, row.asgi_cpu_us_per_http_request, "request"),
            (row.tax_cpu_us_per_delivered_msg, row.asgi_cpu_us_per_delivered_msg, "message"),
        ):
            if tax is not None and lean is not None:
                signed, _, ratio = format_tax(tax, lean).partition(" ")
                parts.append(f"{row.scenario} {signed} µs per {per} {ratio}".rstrip())
                break
    if not parts:
        return None
    return f"Framework tax ({FRAMEWORK} − {LEAN} server CPU): " + "; ".join(parts) + "."


def _tls_verdict(document: ResultsDocument) -> str | None:
    """``TLS (over plain TCP, same run): ws@asgi +16 µs server CPU per message (1.3×); ...; a
    connection's handshake +830 µs (asgi)``: per request where the transport makes requests,
    else per delivered message."""
    parts = []
    for row in document.tls_cost:
        for extra, plain, per in (
            (row.extra_cpu_us_per_http_request, row.plain_cpu_us_per_http_request, "request"),
            (row.extra_cpu_us_per_delivered_msg, row.plain_cpu_us_per_delivered_msg, "message"),
        ):
            if extra is not None and plain is not None:
                signed, _, ratio = format_tax(extra, plain).partition(" ")
                parts.append(f"{row.scenario} {signed} µs per {per} {ratio}".rstrip())
                break
    for shake in document.tls_handshake:
        signed, _, ratio = format_tax(
            shake.extra_server_cpu_us_per_connection, shake.plain_server_cpu_us_per_connection
        ).partition(" ")
        where = f" ({shake.flavor})" if shake.flavor else ""
        parts.append(f"a connection's setup{where} {signed} µs {ratio}".rstrip())
    if not parts:
        return None
    return "TLS (server CPU over plain TCP, same run): " + "; ".join(parts) + "."


def _cpu(scenario: Scenario) -> float | None:
    return scenario.server.cpu_us_per_delivered_msg if scenario.server else None


def _compare_verdict(measured: list[Scenario]) -> str:
    pushes = [s for s in measured if s.transport == Transport.WS]
    ref = pushes[0] if pushes else min(measured, key=lambda s: s.latency_us.p99)
    delivered = (
        "every message"
        if not ref.lost
        else f"{format_percent(ref.delivered, ref.sent)} of messages"
    )
    if ref.publishes_failed:  # "every message" must not pass over the ones never sent
        attempted = format_count(ref.publishes_attempted or 0)
        delivered += f" sent ({format_count(ref.publishes_failed)} of {attempted} publishes failed)"
    head = f"{_capital(scenario_label(ref, flavor=False))} delivered {delivered} with p99 "
    head += format_duration_us(ref.latency_us.p99)
    ref_cpu = _cpu(ref)
    if ref_cpu is not None:
        head += f" at {_short(ref_cpu)} µs server CPU per message"
    parts = [head]
    for other in measured:
        if other is ref:
            continue
        parts.append(f"{scenario_label(other, flavor=False)}: " + ", ".join(_versus(other, ref)))
    return "; ".join(parts) + "."


def _versus(other: Scenario, ref: Scenario) -> list[str]:
    p99 = f"p99 {format_duration_us(other.latency_us.p99)}"
    ratio = other.latency_us.p99 / max(ref.latency_us.p99, 1)
    if ratio >= _SAME_LATENCY:
        p99 += f" ({format_ratio(ratio)} slower)"
    elif ratio <= 1 / _SAME_LATENCY:
        p99 += f" ({format_ratio(1 / ratio)} faster)"
    said = [p99]
    cpu, ref_cpu = _cpu(other), _cpu(ref)
    if cpu is not None and ref_cpu:
        said.append(f"{format_ratio(cpu / ref_cpu)} the server CPU per message")
    if other.lost:
        said.append(f"{format_count(other.lost)} lost")
    if other.publishes_failed:
        said.append(f"{format_count(other.publishes_failed)} publishes failed")
    return said


def _sweep_verdict(measured: list[Scenario]) -> str:
    by_transport: dict[str, list[Scenario]] = defaultdict(list)
    for scenario in measured:
        by_transport[scenario.transport].append(scenario)
    parts = []
    for group in by_transport.values():
        best = max(group, key=lambda s: s.throughput_msgs_per_s)
        label = _capital(_TRANSPORT_ONLY.sub("", scenario_label(best)))
        rate = f"{format_rate(best.throughput_msgs_per_s)} msgs/s"
        workers = sweep_workers(best)
        if workers is None:
            text = f"{label} peaks at {rate}"
        else:
            most = max(sweep_workers(s) or 0 for s in group)
            text = f"{label} {'reaches' if workers == most else 'peaks at'} {rate} with "
            text += f"{workers} worker{'s' if workers != 1 else ''}"
            text += ", the most tried" if workers == most and len(group) > 1 else ""
        notes = [f"p99 {format_duration_us(best.latency_us.p99)}"]
        if best.generator is not None and best.generator.saturated:
            notes.append("load generator saturated")
        parts.append(f"{text} ({', '.join(notes)})")
    return "; ".join(parts) + "."


def _short(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
