"""``results.csv``: one row per scenario, raw numbers in the schema's units, for spreadsheets.

Unlike the other reports, nothing is rounded or converted: the columns are the schema's fields
(units in their names), flattened; ``params`` is kept whole as compact JSON.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Final

from pushbench.core.schema import ResultsDocument, Scenario

__all__ = ["CSV_COLUMNS", "csv_rows", "render_csv"]

#: The CSV header, in order.
CSV_COLUMNS: Final = (
    "run_id",
    "scenario",
    "transport",
    "params",
    "latency_p50_us",
    "latency_p90_us",
    "latency_p99_us",
    "latency_p999_us",
    "latency_max_us",
    "latency_mean_us",
    "latency_count",
    "sent",
    "delivered",
    "lost",
    "duplicated",
    "reordered",
    "unexpected",
    "publishes_attempted",
    "publishes_sent",
    "throughput_msgs_per_s",
    "server_cpu_s",
    "server_rss_peak_bytes",
    "server_cpu_us_per_delivered_msg",
    "server_busiest_process_cpu_percent",
    "server_saturated",
    "generator_cpu_percent",
    "generator_saturated",
    "http_requests",
    "http_requests_per_delivered_msg",
    "errors",
)

Cell = str | int | float | bool | None


def _row(run_id: str, s: Scenario) -> list[Cell]:
    lat, server, gen = s.latency_us, s.server, s.generator
    return [
        run_id,
        s.name,
        s.transport,
        json.dumps(s.params, sort_keys=True, separators=(",", ":")),
        lat.p50,
        lat.p90,
        lat.p99,
        lat.p999,
        lat.max,
        lat.mean,
        lat.count,
        s.sent,
        s.delivered,
        s.lost,
        s.duplicated,
        s.reordered,
        s.unexpected,
        s.publishes_attempted,
        s.publishes_sent,
        s.throughput_msgs_per_s,
        server.cpu_s if server else None,
        server.rss_peak_bytes if server else None,
        server.cpu_us_per_delivered_msg if server else None,
        server.busiest_process_cpu_percent if server else None,
        server.saturated if server else None,
        gen.cpu_percent if gen else None,
        gen.saturated if gen else None,
        s.http_requests,
        s.http_requests_per_delivered_msg,
        len(s.errors),
    ]


def csv_rows(document: ResultsDocument) -> list[list[Cell]]:
    """The data rows (no header), one per scenario; ``None`` where the schema has no figure."""
    return [_row(document.run_id, scenario) for scenario in document.scenarios]


def render_csv(document: ResultsDocument) -> str:
    """The CSV text: header then one row per scenario; ``None`` is an empty cell, booleans
    are ``true``/``false``; ``\\r\\n`` line ends (RFC 4180)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in csv_rows(document):
        writer.writerow(
            ["" if c is None else str(c).lower() if isinstance(c, bool) else c for c in row]
        )
    return out.getvalue()
