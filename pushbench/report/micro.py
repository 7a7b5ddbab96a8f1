"""What a micro-benchmark run (``kind: micro``, from pytest-benchmark) says in plain words.

Micro scenarios have no deliveries to lose and no server to sample: their verdict compares the
benchmarks within each pytest-benchmark group, by the exact mean per call kept in ``params``.
"""

from __future__ import annotations

from collections import defaultdict

from pushbench.core.schema import ResultsDocument, Scenario
from pushbench.core.units import format_ratio

__all__ = ["format_ns", "micro_verdict"]


def format_ns(ns: float) -> str:
    """A time per call in the unit that suits it: ``312 ns``, ``4.2 µs``, ``18 ms``."""
    if ns < 1_000:
        return f"{ns:.0f} ns"
    if ns < 10_000:
        return f"{ns / 1_000:.1f} µs"
    if ns < 1_000_000:
        return f"{ns / 1_000:.0f} µs"
    if ns < 10_000_000:
        return f"{ns / 1_000_000:.1f} ms"
    return f"{ns / 1_000_000:,.0f} ms"


def _mean_ns(scenario: Scenario) -> float:
    mean = scenario.typed_params.mean_ns
    return mean if mean is not None else scenario.latency_us.mean * 1_000


def _short(scenario: Scenario) -> str:
    return scenario.typed_params.benchmark or scenario.name


def micro_verdict(document: ResultsDocument) -> str:
    """Per group: the fastest benchmark's mean per call, and how much slower the slowest is.

    Example:
        "12 micro-benchmarks in 2 groups. envelope-encode: test_envelope_encode[64B-orjson]
        fastest at 412 ns per call, test_envelope_encode[64KiB-stdlib-json] 140× slower; ..."
    """
    if not document.scenarios:
        return "No micro-benchmark was measured."
    groups: dict[str, list[Scenario]] = defaultdict(list)
    for scenario in document.scenarios:
        groups[scenario.typed_params.group or "ungrouped"].append(scenario)
    parts = []
    for group, members in groups.items():
        fastest = min(members, key=_mean_ns)
        text = f"{group}: {_short(fastest)} fastest at {format_ns(_mean_ns(fastest))} per call"
        if len(members) > 1:
            slowest = max(members, key=_mean_ns)
            ratio = _mean_ns(slowest) / max(_mean_ns(fastest), 1e-9)
            text += f", {_short(slowest)} {format_ratio(ratio)} slower"
        parts.append(text)
    head = f"{len(document.scenarios)} micro-benchmarks in {len(groups)} groups. "
    return head + "; ".join(parts) + "."
