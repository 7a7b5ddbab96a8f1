"""A server process tree's sampled usage as the results schema's :class:`ServerCost`."""

from __future__ import annotations

from pushbench.core.schema import ProcessCost, ServerCost
from pushbench.core.thresholds import SATURATED_CPU_PERCENT
from pushbench.harness.resources import TreeUsage

__all__ = ["server_cost"]


def server_cost(usage: TreeUsage, delivered: int | None) -> ServerCost:
    """What the server spent, per delivered message where anything was delivered.

    ``busiest_process_cpu_percent`` is the busiest process's CPU over the sampled wall time: an
    event loop runs on one core, so one worker at 100 % is saturated even when the tree as a
    whole (several workers, a supervisor) is not.
    """
    busiest = (
        max((p.cpu_s for p in usage.processes), default=0.0) * 100 / usage.wall_s
        if usage.wall_s > 0
        else None
    )
    return ServerCost(
        cpu_s=usage.cpu_s,
        rss_peak_bytes=usage.rss_peak_bytes,
        cpu_us_per_delivered_msg=usage.cpu_s * 1e6 / delivered if delivered else None,
        processes=[
            ProcessCost(pid=p.pid, role=p.role, cpu_s=p.cpu_s, rss_peak_bytes=p.rss_peak_bytes)
            for p in usage.processes
        ],
        busiest_process_cpu_percent=None if busiest is None else round(busiest, 1),
        saturated=busiest is not None and busiest >= SATURATED_CPU_PERCENT,
    )
