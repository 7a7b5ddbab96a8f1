"""A Locust swarm's intervals, merged on the master, equal pooling every raw sample per interval.

The runner (``python -m pushbench.locust --processes 2``) starts the reference server and a
master with two worker processes; every worker dumps what it shipped
(``--pushbench-dump-samples``: each latency with its message's scheduled time). The test buckets
those raw samples itself, by scheduled time from the origin the master recorded, and compares
every interval of ``results.json`` with them: counts and percentiles are exactly equal, since an
HdrHistogram merge of the same values is exact. Locust imports gevent, so it runs in a
subprocess; the test reads the files it writes.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

from pushbench.core.histogram import (
    HIGHEST_TRACKABLE_US,
    LOWEST_TRACKABLE_US,
    SIGNIFICANT_FIGURES,
    LatencyHistogram,
)
from pushbench.core.schema import ResultsDocument, load_results
from tests.conftest import timeout

INTERVAL_S = 0.5
#: Fast polls and a short drain keep the run to a few seconds (as test_locust.py's).
COMMON = [
    "--poll-interval", "0.2", "--long-poll-wait", "2",
    "--publish-rate", "20", "--drain-timeout", "3",
]  # fmt: skip


def _pooled_per_interval(
    dumps: list[Path], origin_ns: int, width_ns: int
) -> dict[str, dict[int, LatencyHistogram]]:
    """Every dumped sample, by scenario and interval of its scheduled time."""
    pooled: dict[str, dict[int, LatencyHistogram]] = defaultdict(
        lambda: defaultdict(LatencyHistogram)
    )
    for path in dumps:
        dump = json.loads(path.read_text())
        assert (dump["origin_ns"], dump["width_ns"]) == (origin_ns, width_ns), path.name
        for name, samples in dump["names"].items():
            for latency, scheduled in zip(
                samples["latency_ns"], samples["scheduled_ns"], strict=True
            ):
                pooled[name][(scheduled - origin_ns) // width_ns].record_ns(latency)
    return pooled


def _run_swarm(tmp_path: Path) -> tuple[Path, ResultsDocument]:
    out, dump = tmp_path / "reports", tmp_path / "samples"
    command = [
        sys.executable, "-m", "pushbench.locust", "--users", "8", "--spawn-rate", "8",
        "--duration", "3s", "--processes", "2", "--interval", f"{INTERVAL_S:g}",
        "--out", str(out), "--", "--pushbench-dump-samples", str(dump), *COMMON,
    ]  # fmt: skip
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout(90), check=False
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-5000:]
    (run_dir,) = [path for path in out.iterdir() if path.name != "latest"]
    return run_dir, load_results(run_dir / "results.json")


@pytest.mark.slow
def test_two_workers_merge_intervals_equal_to_pooling_the_raw_samples(tmp_path: Path) -> None:
    run_dir, document = _run_swarm(tmp_path)
    assert document.schema_version == 2
    assert document.config["workers"] == 2
    assert not document.errors, document.errors
    origin_ns = document.config["intervals_origin_monotonic_ns"]
    width_ns = round(INTERVAL_S * 1e9)
    dumps = sorted((tmp_path / "samples").glob("samples-worker-*.json"))
    assert len(dumps) == 2  # one per worker process
    pooled = _pooled_per_interval(dumps, origin_ns, width_ns)
    assert pooled.keys() == {scenario.name for scenario in document.scenarios}
    for scenario in document.scenarios:
        name, intervals = scenario.name, scenario.intervals
        assert scenario.interval_s == INTERVAL_S, name
        span_s = intervals[-1].start_s + intervals[-1].duration_s
        assert len(intervals) == math.ceil(span_s / INTERVAL_S) >= 6, name  # 3 s run
        assert [i.start_s for i in intervals] == [k * INTERVAL_S for k in range(len(intervals))]
        # The raw samples fall in these intervals and no others, each exactly as merged.
        assert set(pooled[name]) <= set(range(len(intervals))), name
        for index, interval in enumerate(intervals):
            reference = pooled[name].get(index, LatencyHistogram())
            merged = interval.latency_us.decode_histogram()
            assert merged.summary() == reference.summary(), (name, index)
            assert interval.latency_us.count == reference.count, (name, index)
        # The intervals partition the run: they add up to the whole-run figures.
        assert sum(i.latency_us.count for i in intervals) == scenario.latency_us.count, name
        assert sum(i.sent for i in intervals) == scenario.sent, name
        assert sum(i.lost for i in intervals) == scenario.lost == 0, name
        polls = scenario.transport in ("short-poll", "long-poll", "sse")
        assert all((i.http_requests is not None) == polls for i in intervals), name
        if scenario.transport == "short-poll":  # a poll every 0.2 s per user, once all spawned
            assert all(i.http_requests for i in intervals[1:-1]), name
        # The runner sampled the server on the same clock: every whole interval has it.
        for interval in intervals[:-1]:
            assert interval.server is not None, (name, interval.start_s)
            assert interval.server.rss_bytes > 10_000_000
        reader = HistogramLogReader(
            str(run_dir / f"intervals-{name}.hlog"),
            HdrHistogram(LOWEST_TRACKABLE_US, HIGHEST_TRACKABLE_US, SIGNIFICANT_FIGURES),
        )
        counts = []
        while (histogram := reader.get_next_interval_histogram()) is not None:
            counts.append(histogram.get_total_count())
        reader.close()
        assert counts == [i.latency_us.count for i in intervals], name
    assert 'id="chart-overtime"' in (run_dir / "report.html").read_text()
    summary = (run_dir / "summary.md").read_text()
    assert "### Over time" in summary
    assert f"p99 per {INTERVAL_S:g} s" in summary
