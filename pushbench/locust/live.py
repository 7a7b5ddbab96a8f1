"""What the "pushbench" tab of Locust's web UI shows: the master's merged figures, as table rows.

Pure (no Locust, no Flask): rows are built from the :class:`SwarmAggregate` the master merges
worker reports into, so the tab shows the exact percentiles of every sample received so far (the
merged HdrHistograms, the same numbers ``results.json`` will hold), not Locust's rounded
buckets. Integrity counts are as known so far: messages still in flight settle at the end.
"""

from __future__ import annotations

from typing import Final

from pushbench.locust.aggregate import SwarmAggregate

__all__ = ["COLUMNS", "REPORT_ROW", "live_rows"]

#: (row key, column title) of the tab's table, in order.
COLUMNS: Final = (
    ("name", "Measurement"),
    ("transport", "Transport"),
    ("count", "Samples"),
    ("p50", "p50 µs"),
    ("p90", "p90 µs"),
    ("p99", "p99 µs"),
    ("p999", "p99.9 µs"),
    ("max", "max µs"),
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("lost", "Lost"),
    ("duplicated", "Duplicated"),
    ("reordered", "Reordered"),
)
#: The last row's name: where the report is, once the test has stopped.
REPORT_ROW: Final = "report"

Row = dict[str, str | int]


def live_rows(aggregate: SwarmAggregate, duration_s: float, report: str | None) -> list[Row]:
    """One row per measurement merged so far, then the report row.

    Args:
        report: The report's address once it is written; None while the test runs.
    """
    rows: list[Row] = []
    for scenario in aggregate.scenarios(duration_s, None):
        latency = scenario.latency_us
        rows.append(
            {
                "name": scenario.name,
                "transport": scenario.transport,
                "count": latency.count,
                "p50": latency.p50,
                "p90": latency.p90,
                "p99": latency.p99,
                "p999": latency.p999,
                "max": latency.max,
                "sent": scenario.sent,
                "delivered": scenario.delivered,
                "lost": scenario.lost,
                "duplicated": scenario.duplicated,
                "reordered": scenario.reordered,
            }
        )
    blank: Row = {key: "" for key, _ in COLUMNS}
    where = report if report is not None else "written when the test stops"
    rows.append({**blank, "name": REPORT_ROW, "transport": where})
    return rows
