"""``/metrics``: Prometheus counters and gauges, correct with any number of uvicorn workers.

With one worker the metrics live in this process (prometheus-client's plain mode). With several,
prometheus-client's multiprocess mode keeps each worker's values in files of one directory that
any worker reads on a scrape, so every scrape shows the whole server: this module picks a fresh
directory per server run (see :func:`target_app.workers.metrics_dir_for_workers`) unless
``PROMETHEUS_MULTIPROC_DIR`` is already set. That choice must be made before prometheus-client is
imported, hence the import order below.

Connection gauges carry the worker's ``pid`` label, so a harness sees how connections spread over
workers. Per-message counts are tallied in plain integers on the hot path (a prometheus-client
``inc`` costs about 1 µs, 3 µs in multiprocess mode) and moved into the counters every
``metrics_flush_s`` and on every scrape of this worker.
"""

from __future__ import annotations

import os
from pathlib import Path

from target_app.workers import metrics_dir_for_workers, uvicorn_worker_count


def _multiprocess_dir() -> str | None:
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if configured:
        return configured
    if uvicorn_worker_count() > 1:
        path = str(metrics_dir_for_workers())
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
        return path
    return None


#: Where the workers' metric files are (None: plain single-process mode).
MULTIPROCESS_DIR = _multiprocess_dir()

import psutil  # noqa: E402
from prometheus_client import (  # noqa: E402
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import (  # noqa: E402
    MultiProcessCollector,
    mark_process_dead,
)

__all__ = ["CONTENT_TYPE_LATEST", "MULTIPROCESS_DIR", "Metrics", "Tally"]

# ``*_created`` timestamps per series only add noise to a benchmark server's scrape.
disable_created_metrics()  # type: ignore[no-untyped-call]

_PUBLISHERS = ("http", "ws")
_RECEIVERS = ("ws", "sse", "short_poll", "long_poll")
_HELD_OPEN = ("ws", "sse", "long_poll")


class Tally:
    """A count kept in a plain integer on the hot path and flushed into a Prometheus counter."""

    __slots__ = ("_child", "_flushed", "count")

    def __init__(self, child: Counter) -> None:
        self.count = 0
        self._flushed = 0
        self._child = child

    def flush(self) -> None:
        """Add what was counted since the last flush to the counter."""
        count = self.count
        if count != self._flushed:
            self._child.inc(count - self._flushed)
            self._flushed = count


class Metrics:
    """This worker's metrics; ``render`` answers a scrape for the whole server."""

    def __init__(self, broker: str) -> None:
        self.pid = str(os.getpid())
        self.multiprocess_dir = MULTIPROCESS_DIR
        self._registry = registry = CollectorRegistry(auto_describe=False)
        # Per-worker gauges carry a ``pid`` label: multiprocess mode "liveall" adds it itself
        # (and reserves the name), plain mode gets it here, so both render alike.
        pid: list[str] = [] if self.multiprocess_dir else [self.pid]
        pid_label: list[str] = [] if self.multiprocess_dir else ["pid"]
        connections = Gauge(
            "pushbench_connections_open",
            "Connections open now (long polls: requests waiting), per worker process.",
            [*pid_label, "transport"],
            registry=registry,
            multiprocess_mode="liveall",
        )
        self.connections = {name: connections.labels(*pid, name) for name in _HELD_OPEN}
        published = Counter(
            "pushbench_messages_published",
            "Messages accepted from publishers.",
            ["transport"],
            registry=registry,
        )
        self.published = {name: Tally(published.labels(name)) for name in _PUBLISHERS}
        delivered = Counter(
            "pushbench_messages_delivered",
            "Messages handed to subscribers (pushed, or returned by a poll).",
            ["transport"],
            registry=registry,
        )
        self.delivered = {name: Tally(delivered.labels(name)) for name in _RECEIVERS}
        self._dropped = Counter(
            "pushbench_messages_dropped",
            "Messages a subscriber never got: reason=slow_subscriber (thrown away with a "
            "subscriber dropped as too slow) or reason=history (no longer in history: missed).",
            ["transport", "reason"],
            registry=registry,
        )
        self._slow = Counter(
            "pushbench_slow_subscriber_drops",
            "Subscribers dropped because their send queue overflowed.",
            ["transport"],
            registry=registry,
        )
        self._unavailable = Counter(
            "pushbench_broker_unavailable",
            "Requests refused because the broker could not serve them.",
            ["transport"],
            registry=registry,
        )
        for name in _RECEIVERS:
            for reason in ("slow_subscriber", "history"):
                self._dropped.labels(name, reason)
            self._slow.labels(name)
        for name in (*_PUBLISHERS, *_RECEIVERS):
            self._unavailable.labels(name)
        self._healthy = Gauge(
            "pushbench_broker_healthy",
            "1 while this worker's broker can serve, else 0.",
            [*pid_label, "broker"],
            registry=registry,
            multiprocess_mode="liveall",
        ).labels(*pid, broker)
        self._reconnects = Counter(
            "pushbench_broker_reconnects",
            "Times a worker re-established its broker connection after losing it.",
            registry=registry,
        )

    def dropped(self, transport: str, reason: str, messages: int) -> None:
        """Count ``messages`` a ``transport`` subscriber never got, for ``reason``."""
        if messages:
            self._dropped.labels(transport, reason).inc(messages)

    def slow_subscriber(self, transport: str, discarded: int) -> None:
        """Count one subscriber dropped as too slow, with the messages thrown away."""
        self._slow.labels(transport).inc()
        self.dropped(transport, "slow_subscriber", discarded)

    def unavailable(self, transport: str) -> None:
        """Count one request refused because the broker was unavailable."""
        self._unavailable.labels(transport).inc()

    def broker_state(self, healthy: bool, reconnected: bool = False) -> None:
        """Record the broker's health (the broker calls this on every change)."""
        self._healthy.set(1 if healthy else 0)
        if reconnected:
            self._reconnects.inc()

    def flush(self) -> None:
        """Move the hot-path tallies into the counters."""
        for tally in (*self.published.values(), *self.delivered.values()):
            tally.flush()

    def render(self) -> bytes:
        """The Prometheus text exposition for the whole server (every worker)."""
        self.flush()
        if self.multiprocess_dir is None:
            return generate_latest(self._registry)
        _forget_dead_workers(self.multiprocess_dir)
        registry = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(registry, self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry)

    def close(self) -> None:
        """Flush, and in multiprocess mode drop this worker's gauges (its counts stay)."""
        self.flush()
        if self.multiprocess_dir is not None:
            mark_process_dead(os.getpid(), self.multiprocess_dir)  # type: ignore[no-untyped-call]


def _forget_dead_workers(path: str) -> None:
    # A worker killed without a clean shutdown leaves its live gauges behind: drop them, or its
    # connections would be reported open for ever. Counters stay, so totals stay right.
    for file in Path(path).glob("gauge_live*_*.db"):
        pid = file.stem.rpartition("_")[2]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            mark_process_dead(int(pid), path)  # type: ignore[no-untyped-call]
