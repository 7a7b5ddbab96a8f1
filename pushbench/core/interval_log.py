"""A scenario's intervals as an HdrHistogram interval log (``.hlog``), readable by standard tools.

Written with the ``hdrhistogram`` package's own :class:`~hdrh.log.HistogramLogWriter`, so
HistogramLogAnalyzer, ``HistogramLogProcessor`` and every HdrHistogram port read it. One line per
interval: start (seconds from ``#[StartTime]``), length, max and the compressed histogram.
Values are latencies in **µs**; the max column is in ms (``max_value_unit_ratio`` 1000).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogWriter

from pushbench.core.atomic_write import write_atomic
from pushbench.core.schema import Scenario

__all__ = [
    "MAX_VALUE_UNIT_RATIO",
    "interval_log",
    "interval_log_name",
    "write_interval_log",
    "write_interval_logs",
]

#: Values are µs; the log's max column then reads in ms.
MAX_VALUE_UNIT_RATIO = 1000.0


def interval_log(scenario: Scenario) -> str:
    """The text of ``scenario``'s interval log (a header alone when it has no intervals)."""
    buffer = io.StringIO()
    writer = HistogramLogWriter(buffer)
    writer.output_log_format_version()
    writer.output_comment(f"[pushbench scenario {scenario.name}: latency in us, max in ms]")
    started = scenario.intervals_started_at or datetime.fromtimestamp(0, UTC)
    # output_start_time() of hdrh 0.10 formats the date with a method datetime lacks: the
    # same line, written as the reader's pattern wants it.
    writer.output_comment(
        f"[StartTime: {started.timestamp():f} (seconds since epoch), {started.isoformat(' ')}]"
    )
    writer.output_legend()
    for interval in scenario.intervals:
        histogram = HdrHistogram.decode(interval.latency_us.histogram.encode("ascii"))
        start_ms = (started.timestamp() + interval.start_s) * 1000
        histogram.set_start_time_stamp(start_ms)
        histogram.set_end_time_stamp(start_ms + interval.duration_s * 1000)
        writer.output_interval_histogram(
            histogram,
            # The writer takes 0 for "the histogram's own stamp": nudge the first interval.
            start_time_stamp_sec=interval.start_s or 1e-9,
            end_time_stamp_sec=interval.start_s + interval.duration_s,
            max_value_unit_ratio=MAX_VALUE_UNIT_RATIO,
        )
    return buffer.getvalue()


def write_interval_log(scenario: Scenario, path: str | os.PathLike[str]) -> None:
    """Write :func:`interval_log` of ``scenario`` to ``path`` (atomically)."""
    write_atomic(path, interval_log(scenario))


#: What a scenario name keeps in its log's file name; anything else (``/`` of serverbench and
#: sweep names, a space) becomes ``-``.
_UNSAFE = re.compile(r"[^A-Za-z0-9@._=-]")


def interval_log_name(scenario_name: str) -> str:
    """``intervals-<scenario>.hlog``: ``echo/websockets-sansio/reference`` →
    ``intervals-echo-websockets-sansio-reference.hlog``."""
    return f"intervals-{_UNSAFE.sub('-', scenario_name)}.hlog"


def write_interval_logs(scenarios: Iterable[Scenario], run_dir: Path) -> list[Path]:
    """Each scenario's intervals as :func:`interval_log_name` in ``run_dir``, for standard
    HdrHistogram tools (HistogramLogAnalyzer and co.), the one way every command writes them;
    scenarios without intervals write nothing. Returns the files written."""
    written = []
    for scenario in scenarios:
        if scenario.intervals:
            path = run_dir / interval_log_name(scenario.name)
            write_interval_log(scenario, path)
            written.append(path)
    return written
