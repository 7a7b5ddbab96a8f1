"""pytest-benchmark JSON → the results schema (``kind: micro``), so micro-benchmarks render and
gate like any other run.

:func:`convert_pytest_benchmark` is pure (a parsed JSON object in, a document out);
:func:`load_any_results` is the file-reading edge ``pushbench report`` and ``gate`` use.

What a micro scenario's fields mean (also written into each scenario's ``params``):

- ``latency_us``: the time of one benchmarked call, in µs. With ``--benchmark-save-data`` (or
  ``--benchmark-json``) the histogram holds every round's per-call time; without, it is built
  from min, median and max alone and says so (``latency_source``). Calls under 1 µs read as 0 or
  1 µs at the histogram's resolution: the exact figures are ``min_ns``/``mean_ns``/... in
  ``params``.
- ``sent``/``delivered``: the rounds measured; ``throughput_msgs_per_s``: calls per second
  (pytest-benchmark's ``ops``), not messages. Nothing is lost, no server or generator is sampled.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from pushbench.core.histogram import LatencyHistogram
from pushbench.core.kinds import Transport
from pushbench.core.schema import (
    Environment,
    LatencySummary,
    ResultsDocument,
    Scenario,
    SchemaError,
    load_results,
)

__all__ = [
    "LATENCY_FROM_DATA",
    "LATENCY_FROM_STATS",
    "convert_pytest_benchmark",
    "is_pytest_benchmark",
    "load_any_results",
    "micro_transport",
]

LATENCY_FROM_DATA: Final = "every round (--benchmark-save-data)"
LATENCY_FROM_STATS: Final = (
    "approximate: min, median and max only (save with --benchmark-save-data for the distribution)"
)

_NS_PER_S = 1_000_000_000

# Looked for in a benchmark's parameters, then its group, then its name: the first hit names
# the transport the benchmark exercises (the keywords are how benchmarks are named, e.g.
# ``test_long_poll[...]``, not transports).
_TRANSPORT_KEYWORDS: Final[tuple[tuple[str, Transport], ...]] = (
    ("echo", Transport.ECHO),
    ("sse", Transport.SSE),
    ("long-poll", Transport.LONG_POLL),
    ("long_poll", Transport.LONG_POLL),
    ("short-poll", Transport.SHORT_POLL),
    ("short_poll", Transport.SHORT_POLL),
    ("http-poll", Transport.SHORT_POLL),
    ("ws-push", Transport.WS),
    ("ws-fanout", Transport.WS),
    ("ws_fanout", Transport.WS),
)


def is_pytest_benchmark(data: object) -> bool:
    """Whether ``data`` (parsed JSON) is a pytest-benchmark file rather than a results document."""
    return (
        isinstance(data, dict)
        and "schema_version" not in data
        and isinstance(data.get("machine_info"), dict)
        and isinstance(data.get("benchmarks"), list)
    )


def micro_transport(benchmark: dict[str, Any]) -> Transport:
    """The transport a benchmark exercises, from its parameters, group or name; else ``micro``."""
    for text in (str(benchmark.get("param") or ""), str(benchmark.get("group") or "")):
        for keyword, transport in _TRANSPORT_KEYWORDS:
            if keyword in text:
                return transport
    name = str(benchmark.get("name", ""))
    for keyword, transport in _TRANSPORT_KEYWORDS:
        if keyword in name.partition("[")[0]:
            return transport
    return Transport.MICRO


def _ns(seconds: float) -> float:
    return round(seconds * _NS_PER_S, 1)


def _latency(stats: dict[str, Any]) -> tuple[LatencySummary, str]:
    histogram = LatencyHistogram()
    data = stats.get("data")
    if isinstance(data, list) and data:
        for seconds in data:
            histogram.record_ns(round(float(seconds) * _NS_PER_S))
        source = LATENCY_FROM_DATA
    else:
        rounds = int(stats.get("rounds", 1))
        histogram.record_ns(round(float(stats["min"]) * _NS_PER_S))
        if rounds > 2:
            histogram.record_ns(round(float(stats["median"]) * _NS_PER_S), rounds - 2)
        if rounds > 1:
            histogram.record_ns(round(float(stats["max"]) * _NS_PER_S))
        source = LATENCY_FROM_STATS
    summary = histogram.summary()
    # The exact mean from pytest-benchmark, not the histogram's bucket-midpoint estimate.
    summary["mean"] = float(stats["mean"]) * 1_000_000
    return LatencySummary(**summary, histogram=histogram.encode()), source


def _scenario(benchmark: dict[str, Any], name: str) -> tuple[Scenario, str]:
    stats: dict[str, Any] = benchmark["stats"]
    latency, source = _latency(stats)
    rounds = int(stats.get("rounds", 0))
    params: dict[str, Any] = {
        "group": benchmark.get("group"),
        "benchmark": benchmark.get("name"),
        "fullname": benchmark.get("fullname"),
        "param": benchmark.get("param"),
        "params": benchmark.get("params"),
        "min_ns": _ns(stats["min"]),
        "max_ns": _ns(stats["max"]),
        "mean_ns": _ns(stats["mean"]),
        "median_ns": _ns(stats["median"]),
        "stddev_ns": _ns(stats.get("stddev", 0.0)),
        "iqr_ns": _ns(stats.get("iqr", 0.0)),
        "rounds": rounds,
        "iterations": stats.get("iterations", 1),
        "ops_per_s": stats.get("ops"),
        "latency_source": source,
        "throughput_is": "benchmarked calls per second (ops)",
        "extra_info": benchmark.get("extra_info") or {},
    }
    scenario = Scenario(
        name=name,
        transport=micro_transport(benchmark),
        params=params,
        latency_us=latency,
        sent=rounds,
        delivered=rounds,
        lost=0,
        duplicated=0,
        reordered=0,
        unexpected=0,
        throughput_msgs_per_s=float(stats.get("ops") or 0.0),
        server=None,
        generator=None,
        http_requests=None,
        http_requests_per_delivered_msg=None,
    )
    return scenario, source


def _started(data: dict[str, Any]) -> datetime:
    text = data.get("datetime")
    if isinstance(text, str):
        try:
            started = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return started if started.tzinfo else started.replace(tzinfo=UTC)
    return datetime(1970, 1, 1, tzinfo=UTC)


def _environment(data: dict[str, Any]) -> Environment:
    machine: dict[str, Any] = data["machine_info"]
    commit: dict[str, Any] = data.get("commit_info") or {}
    cpu = (machine.get("cpu") or {}).get("count")
    platform = " ".join(
        str(machine[key]) for key in ("system", "release", "machine") if machine.get(key)
    )
    python = " ".join(
        str(machine[key]) for key in ("python_implementation", "python_version") if machine.get(key)
    )
    packages = {"pytest-benchmark": str(data["version"])} if data.get("version") else {}
    return Environment(
        python=python or "unknown",
        platform=platform or "unknown",
        cpu_count=cpu if isinstance(cpu, int) and cpu >= 1 else None,
        packages=packages,
        git_commit=commit.get("id") if isinstance(commit.get("id"), str) else None,
    )


def convert_pytest_benchmark(data: dict[str, Any], run_id: str | None = None) -> ResultsDocument:
    """A ``kind: micro`` results document with one scenario per benchmark.

    Args:
        data: a parsed pytest-benchmark JSON file (``--benchmark-json`` or a saved run).
        run_id: the document's run id; default ``micro-<date>-<time>[-<commit>]``.

    Raises:
        SchemaError: ``data`` is not a pytest-benchmark file, or a benchmark lacks its stats.
    """
    if not is_pytest_benchmark(data):
        raise SchemaError("not a pytest-benchmark file (no machine_info and benchmarks)")
    started = _started(data)
    commit = (data.get("commit_info") or {}).get("id")
    if run_id is None:
        run_id = f"micro-{started:%Y%m%d-%H%M%S}" + (f"-{commit[:8]}" if commit else "")
    scenarios: list[Scenario] = []
    seen: set[str] = set()
    approximate = 0
    under_us = 0
    try:
        for benchmark in data["benchmarks"]:
            group, short = benchmark.get("group"), str(benchmark.get("name", "?"))
            name = f"{group}/{short}" if group else short
            if name in seen:
                name = str(benchmark.get("fullname") or f"{name}#{len(scenarios)}")
            seen.add(name)
            scenario, source = _scenario(benchmark, name)
            scenarios.append(scenario)
            approximate += source == LATENCY_FROM_STATS
            under_us += float(benchmark["stats"]["median"]) < 1e-6
    except (KeyError, TypeError, ValueError) as exc:
        raise SchemaError(f"pytest-benchmark file: unusable benchmark entry: {exc!r}") from None
    warnings = []
    if approximate:
        warnings.append(
            f"{approximate} micro-benchmarks have no per-round data: their percentiles are built "
            "from min, median and max (run with --benchmark-save-data for the distribution)."
        )
    if under_us:
        warnings.append(
            f"{under_us} micro-benchmarks take under 1 µs per call, below the histograms' 1 µs "
            "resolution: read their exact times in params (min_ns, mean_ns, median_ns)."
        )
    options = data["benchmarks"][0].get("options", {}) if data["benchmarks"] else {}
    return ResultsDocument(
        kind="micro",
        run_id=run_id,
        started_at=started,
        environment=_environment(data),
        config={
            "source": "pytest-benchmark",
            "pytest_benchmark_version": data.get("version"),
            "commit_info": data.get("commit_info") or {},
            "options": options,
        },
        scenarios=scenarios,
        warnings=warnings,
    )


def load_any_results(path: str | os.PathLike[str]) -> ResultsDocument:
    """A results document, or a pytest-benchmark file converted to one (run id: its file name).

    Raises:
        SchemaError: neither a valid results document nor a pytest-benchmark file.
        OSError: the file cannot be read.
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return load_results(path)  # which says what is wrong, naming the file
    if is_pytest_benchmark(data):
        return convert_pytest_benchmark(data, run_id=f"micro-{Path(path).stem}")
    return load_results(path)
