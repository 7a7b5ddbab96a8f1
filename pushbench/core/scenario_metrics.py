"""The numbers of a scenario, addressed by path: ``latency_us.p99``, ``server.cpu_s``, ``lost``.

Paths follow the results schema's field names (units in the names), so an SLO reads like the
JSON it is checked against; a few derived figures (``lost_ratio``, ``errors``) are added.
``None`` means "not measured": a transport without HTTP requests, a server not sampled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from pushbench.core.schema import Scenario

__all__ = ["METRICS", "Getter", "metric_value"]

#: Reads one figure of a scenario; ``None`` when the scenario has none.
Getter = Callable[[Scenario], float | None]


def _scenario(field: str) -> Getter:
    def get(s: Scenario) -> float | None:
        value: float | None = getattr(s, field)
        return value

    return get


def _latency(field: str) -> Getter:
    def get(s: Scenario) -> float | None:
        value: float = getattr(s.latency_us, field)
        return value

    return get


def _server(field: str) -> Getter:
    def get(s: Scenario) -> float | None:
        value: float | None = None if s.server is None else getattr(s.server, field)
        return value

    return get


def _lost_ratio(s: Scenario) -> float | None:
    return s.lost / s.sent if s.sent else None


#: Every metric by path: ``path -> value of a scenario`` (``None``: not measured).
METRICS: Final[Mapping[str, Getter]] = {
    **{
        f"latency_us.{name}": _latency(name)
        for name in ("p50", "p90", "p99", "p999", "max", "mean", "count")
    },
    **{
        name: _scenario(name)
        for name in ("sent", "delivered", "lost", "duplicated", "reordered", "unexpected")
    },
    "lost_ratio": _lost_ratio,
    "throughput_msgs_per_s": _scenario("throughput_msgs_per_s"),
    "server.cpu_s": _server("cpu_s"),
    "server.rss_peak_bytes": _server("rss_peak_bytes"),
    "server.cpu_us_per_delivered_msg": _server("cpu_us_per_delivered_msg"),
    "server.busiest_process_cpu_percent": _server("busiest_process_cpu_percent"),
    "server.saturated": lambda s: None if s.server is None else int(s.server.saturated),
    "generator.cpu_percent": lambda s: None if s.generator is None else s.generator.cpu_percent,
    "generator.saturated": lambda s: None if s.generator is None else int(s.generator.saturated),
    "http_requests": _scenario("http_requests"),
    "http_requests_per_delivered_msg": _scenario("http_requests_per_delivered_msg"),
    "errors": lambda s: len(s.errors),
}


def metric_value(scenario: Scenario, path: str) -> float | None:
    """The value of metric ``path`` (a key of :data:`METRICS`) for ``scenario``.

    Raises:
        KeyError: ``path`` is not a known metric.
    """
    return METRICS[path](scenario)
