"""The thresholds every report judges a run by, defined once.

A process (the server's busiest, or the load generator) at or above
:data:`SATURATED_CPU_PERCENT` of one core is saturated: its throughput is its ceiling and the
latencies include its own queueing. An event loop late by more than :data:`SATURATED_LAG_NS`
(the generator's, or a publisher behind its schedule) is saturated too.
"""

from __future__ import annotations

__all__ = ["SATURATED_CPU_PERCENT", "SATURATED_LAG_NS"]

#: Percent of one core at which a process counts as saturated.
SATURATED_CPU_PERCENT = 90.0
#: Event-loop lag (or publisher lateness) at which the generator counts as saturated.
SATURATED_LAG_NS = 50_000_000
