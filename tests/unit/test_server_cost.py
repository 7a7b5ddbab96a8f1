"""``server_cost``: the sampled process tree as a ``ServerCost``, saturation per process."""

from __future__ import annotations

import pytest

from pushbench.harness.resources import ProcessUsage, TreeUsage
from pushbench.harness.server_cost import server_cost


def usage(*cpu_s: float, wall_s: float = 10.0) -> TreeUsage:
    processes = [
        ProcessUsage(pid=100 + i, role="worker", cpu_s=cpu, rss_peak_bytes=50 << 20)
        for i, cpu in enumerate(cpu_s)
    ]
    return TreeUsage(
        cpu_s=sum(cpu_s), rss_peak_bytes=(50 << 20) * len(cpu_s), wall_s=wall_s, processes=processes
    )


def test_cost_per_delivered_message_and_processes() -> None:
    cost = server_cost(usage(2.0, 3.0), delivered=50_000)
    assert cost.cpu_s == 5.0
    assert cost.cpu_us_per_delivered_msg == 100.0
    assert [p.pid for p in cost.processes] == [100, 101]
    assert server_cost(usage(2.0), delivered=0).cpu_us_per_delivered_msg is None


@pytest.mark.parametrize(
    ("cpu_s", "busiest", "saturated"),
    [
        ((9.5,), 95.0, True),
        ((8.9,), 89.0, False),
        # Two workers at 60 %: 120 % of the tree, but neither event loop is full.
        ((6.0, 6.0), 60.0, False),
        # One worker of three full: saturated even though the tree is at a third of 3 cores.
        ((0.1, 9.8, 0.2), 98.0, True),
    ],
)
def test_saturation_is_per_process(
    cpu_s: tuple[float, ...], busiest: float, saturated: bool
) -> None:
    cost = server_cost(usage(*cpu_s), delivered=1)
    assert cost.busiest_process_cpu_percent == busiest
    assert cost.saturated is saturated


def test_nothing_sampled_is_not_measured() -> None:
    cost = server_cost(usage(1.0, wall_s=0.0), delivered=1)
    assert cost.busiest_process_cpu_percent is None
    assert cost.saturated is False
