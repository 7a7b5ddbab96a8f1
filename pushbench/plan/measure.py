"""``pushbench plan --measure``: run the small design the CPU model needs, then fit and plan.

Per transport, the design varies the publish rate, the subscribers and the rooms they are spread
over independently: the 2 × 2 × 2 corners (one room or five, so fan-out — subscribers per room —
moves apart from the connected clients) make publishes, deliveries and connections vary apart,
which identifies the idle server and the cost per publish, per delivery and per connection;
short polling adds the poll interval as a fourth axis (2 × 2 × 2 × 2), which separates the cost
per request from the cost per connection. The fit uses the corners only; a centre point and one
point beyond the corners on the rate, subscriber and fan-out axes (the last at fan-out 1) are
held out and predicted, so the plan says how well its own formula predicted runs it never saw.

Every scenario runs on a fresh server (one uvicorn worker, in-memory broker), short, sampled as
``compare`` samples (first publish to end of drain), through :mod:`pushbench.workloads`. The runs
go beside the plan as two compare-kind results files, ``grid.json`` (fitted) and
``held-out.json``, which ``pushbench plan --from`` and ``pushbench report`` read like any other.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from pushbench.core.kinds import Transport
from pushbench.core.scenario_flavor import flavored_name
from pushbench.core.schema import ResultsDocument, Scenario, write_results_atomic
from pushbench.core.server_config import ServerConfig
from pushbench.drivers.scenario import ScenarioSpec
from pushbench.harness.environment import environment
from pushbench.harness.launcher import ServerStartError, loop_in_use
from pushbench.harness.processes import cpu_plan, generator_affinity
from pushbench.workloads import push_on_fresh_server

__all__ = [
    "GRID_FILE",
    "HELD_OUT_FILE",
    "Design",
    "Role",
    "design",
    "measure_grid",
    "one_worker",
]

GRID_FILE: Final = "grid.json"
HELD_OUT_FILE: Final = "held-out.json"
#: The two levels of each axis, the centre between them, and the point beyond them: (publish
#: rate, subscribers, rooms). Beyond on the fan-out axis is one subscriber per room.
RATES: Final = (50.0, 150.0)
SUBSCRIBERS: Final = (10, 40)
ROOMS: Final = (1, 5)
CENTRE: Final = (100.0, 24, 2)
BEYOND: Final = (300.0, 80, 24)


@dataclass(frozen=True, slots=True)
class Role:
    """Where a scenario sits in the design."""

    fitted: bool
    label: str
    """``corner``, ``centre``, ``beyond rate``, ``beyond subscribers``, ``beyond fan-out``."""


@dataclass(frozen=True, slots=True)
class Design:
    """One scenario of the design."""

    spec: ScenarioSpec
    role: Role

    @property
    def name(self) -> str:
        """``ws R=50 S=10``, ``ws R=50 S=40 F=8``, ``short-poll@0.625 R=100 S=24 F=12 (centre)``
        (``F``: subscribers per room, shown when there are several rooms)."""
        where = "" if self.role.fitted else f" ({self.role.label})"
        spec = self.spec
        fanout = f" F={spec.fanout:g}" if spec.rooms > 1 else ""
        return f"{spec.name} R={spec.rate_per_s:g} S={spec.subscribers}{fanout}{where}"


def design(
    transports: Sequence[Transport], poll_interval_s: float, duration_s: float, warmup_s: float
) -> list[Design]:
    """Every scenario, per transport: corners (fitted), then centre and beyond (held out).

    Short polling is measured at ``poll_interval_s`` and a quarter of it (corners), the centre
    and beyond points in between. A scenario over several rooms has one publisher per room (one
    room: the usual two).
    """
    scenarios = []
    for transport in transports:
        intervals: tuple[float | None, ...] = (None,)
        middle: float | None = None
        if transport == Transport.SHORT_POLL:
            intervals = (poll_interval_s / 4, poll_interval_s)
            middle = poll_interval_s * 5 / 8

        def spec(rate: float, subscribers: int, rooms: int, interval: float | None) -> ScenarioSpec:
            return ScenarioSpec(
                transport,  # noqa: B023 - called in this iteration only
                rate_per_s=rate,
                publishers=2 if rooms == 1 else rooms,
                subscribers=subscribers,
                rooms=rooms,
                duration_s=duration_s,
                warmup_s=warmup_s,
                poll_interval_s=interval,
            )

        corner = Role(True, "corner")
        corners = [
            Design(spec(rate, subscribers, rooms, interval), corner)
            for interval in intervals
            for rate in RATES
            for subscribers in SUBSCRIBERS
            for rooms in ROOMS
        ]
        rate, subscribers, rooms = CENTRE
        held = [
            Design(spec(rate, subscribers, rooms, middle), Role(False, "centre")),
            Design(spec(BEYOND[0], subscribers, rooms, middle), Role(False, "beyond rate")),
            Design(spec(rate, BEYOND[1], rooms, middle), Role(False, "beyond subscribers")),
            Design(spec(rate, subscribers, BEYOND[2], middle), Role(False, "beyond fan-out")),
        ]
        scenarios += _run_order(corners, held)
    return scenarios


def _run_order(corners: list[Design], held: list[Design]) -> list[Design]:
    """The order the scenarios run in: corners shuffled (a fixed seed: the same order every
    time), held-out runs spread evenly among them.

    On a shared machine the cost of a message drifts with what else runs (a busy CPU batches
    the server's work and makes it cheaper); in design order that drift would lie along one
    axis (all short intervals first) or between the fit and its check (held-out runs last).
    """
    order = list(corners)
    random.Random(21).shuffle(order)
    step = len(order) / (len(held) + 1)
    for index, item in reversed(list(enumerate(held))):
        order.insert(round(step * (index + 1)), item)
    return order


def _document(run_id: str, config: dict[str, object], scenarios: list[Scenario]) -> ResultsDocument:
    return ResultsDocument(
        kind="compare",
        run_id=run_id,
        started_at=datetime.now(UTC),
        finished_at=datetime.now(UTC),
        environment=environment(),
        config=config,
        scenarios=scenarios,
    )


def measure_grid(
    scenarios: Sequence[Design],
    run_dir: Path,
    run_id: str,
    server: ServerConfig,
    progress: Callable[[int, int, str], None] | None = None,
) -> tuple[Path, Path, list[str]]:
    """Run every scenario on a fresh server; (grid.json, held-out.json, errors).

    A scenario whose server does not start is left out with an error; one whose load generator
    stalled (saturated: another process took its CPU, so messages left in bursts the server
    handled more cheaply than a steady stream) is measured once more on a fresh server, and the
    second run kept (``plan_measured_again`` in its params). The results files are written once
    every scenario has run.
    """
    server_cpus, generator_cpus = cpu_plan(True)
    fitted: list[Scenario] = []
    held: list[Scenario] = []
    errors: list[str] = []
    with generator_affinity(generator_cpus):
        for index, item in enumerate(scenarios):
            name = flavored_name(item.name, server.flavor)
            if progress is not None:
                progress(index, len(scenarios), name)
            log = run_dir / f"server-{index:02d}.log"
            try:
                scenario = push_on_fresh_server(server, item.spec, log, server_cpus)
                again = scenario.generator is not None and scenario.generator.saturated
                if again:
                    log = run_dir / f"server-{index:02d}-again.log"
                    scenario = push_on_fresh_server(server, item.spec, log, server_cpus)
            except ServerStartError as exc:
                errors.append(f"{name}: {exc}")
                continue
            params = {
                **scenario.params,
                "flavor": server.flavor,
                "plan_design": item.role.label,
            }
            if again:
                params["plan_measured_again"] = True
            scenario = scenario.model_copy(update={"name": name, "params": params})
            (fitted if item.role.fitted else held).append(scenario)
    specs = [item.spec for item in scenarios]
    config: dict[str, object] = {
        "measured_by": "pushbench plan --measure",
        "transports": sorted({s.transport for s in specs}),
        "duration_s": specs[0].duration_s if specs else 0.0,
        "warmup_s": specs[0].warmup_s if specs else 0.0,
        "flavors": [server.flavor],
        "server": {
            "workers": server.workers,
            "loop": loop_in_use(server),
            "ws_impl": server.ws_impl,
            "http_impl": server.http_impl,
            "broker": server.broker,
        },
        "pinned": server_cpus is not None,
    }
    grid, held_out = run_dir / GRID_FILE, run_dir / HELD_OUT_FILE
    write_results_atomic(_document(run_id, config | {"design": "corners"}, fitted), grid)
    write_results_atomic(_document(run_id, config | {"design": "held out"}, held), held_out)
    return grid, held_out, errors


def one_worker(server: ServerConfig) -> ServerConfig:
    """The model's costs are one worker's, on the in-memory broker."""
    return replace(server, workers=1, broker="memory")
