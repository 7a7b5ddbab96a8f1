"""What the capacity model reads from results documents: one :class:`Point` per measured scenario.

``compare`` scenarios give the CPU and memory points (one uvicorn worker, a fresh server per
scenario); a ``serverbench`` run adds the memory an idle WebSocket subscriber costs. Everything a
scenario cannot tell (no server sampled, nothing delivered, no subscriber count) is skipped with
a note saying why, never guessed.

A plan prices one flavor of the reference server: a compare run measures each transport under
``asgi`` and ``fastapi``, and mixing the two would fit one transport on lean-ASGI points and
another on FastAPI ones. Inputs of several flavors are refused unless one is chosen; the chosen
one is what the plan says it is about.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from pushbench.core.kinds import PUSH_TRANSPORTS, Transport
from pushbench.core.scenario_flavor import flavor_of
from pushbench.core.schema import ResultsDocument, Scenario
from pushbench.plan.ramp_inputs import RampSteps

__all__ = ["PLANNED_TRANSPORTS", "Inputs", "MixedFlavors", "Point", "read_inputs"]

#: The transports the plan covers, in table order: every push transport (the ones ``compare``
#: measures).
PLANNED_TRANSPORTS: Final = PUSH_TRANSPORTS


@dataclass(frozen=True, slots=True)
class Point:
    """One measured scenario, reduced to the counts the model fits.

    Counts cover the whole sampled scenario (connect, warm-up, measured window, drain), like
    ``server.cpu_s`` does: the publisher's schedule runs over warm-up and measured window alike.
    """

    source: str
    """``file.json: scenario``, for notes and the report."""
    transport: Transport
    poll_interval_s: float | None
    subscribers: int
    published: float
    """Messages published (deliveries owed divided by the fan-out)."""
    delivered: int
    requests: int
    """HTTP requests the subscribers made (0 for WebSocket)."""
    span_s: float
    """Scheduled seconds: warm-up + measured."""
    payload_bytes: int
    cpu_s: float
    rss_peak_bytes: int
    p50_us: int
    p99_us: int
    saturated: bool
    """The load generator was saturated: its latencies are its own."""
    flavor: str | None = None
    """The reference server's flavor; None: not recorded (a run before flavors, a --target)."""
    wall_s: float | None = None
    """Seconds the server was sampled (first publish to end of drain); None: not recorded."""
    rooms: int = 1
    """Rooms the subscribers were spread over (each room the same publish rate)."""

    @property
    def sampled_s(self) -> float:
        """The seconds the server CPU covers: the sampled wall time, else the schedule."""
        return self.wall_s or self.span_s

    @property
    def fanout(self) -> float:
        """Subscribers per room: the deliveries each published message makes."""
        return self.subscribers / self.rooms

    @property
    def level(self) -> tuple[int, float, int]:
        """The load level: scenarios of one compare run share it, whatever their transport."""
        return (self.subscribers, round(self.published), self.rooms)

    @property
    def utilisation(self) -> float:
        """Server CPU over the sampled seconds, as a fraction of one core: measured cores."""
        return self.cpu_s / self.sampled_s

    @property
    def deliveries_per_s(self) -> float:
        return self.delivered / self.sampled_s

    @property
    def publishes_per_s(self) -> float:
        return self.published / self.sampled_s

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.sampled_s

    @property
    def msgs_per_client_per_s(self) -> float:
        return self.deliveries_per_s / self.subscribers


@dataclass(slots=True)
class Inputs:
    """Everything usable found in the results files."""

    points: list[Point] = field(default_factory=list)
    idle_ws_bytes_per_connection: float | None = None
    """RSS an idle WebSocket subscriber costs, from a ``serverbench`` run."""
    idle_ws_source: str | None = None
    notes: list[str] = field(default_factory=list)
    """What was skipped and why."""
    flavor: str | None = None
    """The one flavor every point was measured under; None: not recorded."""
    ramp_runs: list[str] = field(default_factory=list)
    """Run ids of the ``pushbench ramp`` runs whose held steps are among the points."""


class MixedFlavors(ValueError):
    """The inputs hold scenarios of several server flavors and none was chosen."""

    def __init__(self, flavors: list[str | None]) -> None:
        named = ", ".join(f or "not recorded" for f in flavors)
        choices = " or ".join(f"--flavor {f}" for f in flavors if f) or "--flavor asgi"
        super().__init__(
            f"the --from files hold scenarios of several server flavors ({named}); a plan "
            f"prices one flavor, whose costs it fits: choose one with {choices}"
        )


def _number(recorded: float | None, config: dict[str, object], name: str) -> float | None:
    """The scenario's own figure, else the run configuration's (older compare runs recorded
    the duration there only)."""
    if recorded is not None:
        return float(recorded)
    value = config.get(name)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _point(document: ResultsDocument, scenario: Scenario, source: str) -> Point | str:
    """The scenario as a :class:`Point`, or why it cannot be one."""
    where = f"{source}: {scenario.name}"
    if scenario.transport not in PLANNED_TRANSPORTS:
        return f"{where}: transport {scenario.transport!r} is not planned; skipped"
    if scenario.server is None:
        return f"{where}: no server CPU measured (--target run); skipped"
    params = scenario.typed_params
    subscribers = params.subscribers
    duration = _number(params.duration_s, document.config, "duration_s")
    if not subscribers or subscribers < 1 or not duration:
        return f"{where}: no subscribers or duration_s in its params; skipped"
    if scenario.delivered == 0 or scenario.sent == 0:
        return f"{where}: nothing delivered; skipped"
    interval = params.poll_interval_s
    if scenario.transport == Transport.SHORT_POLL and not interval:
        return f"{where}: short-poll without poll_interval_s in its params; skipped"
    warmup = _number(params.warmup_s, document.config, "warmup_s") or 0.0
    payload = _number(params.payload_bytes, document.config, "payload_bytes") or 0.0
    requests = scenario.http_requests or 0
    rooms = params.rooms or 1
    generator = scenario.generator
    # The generator measures itself over the phase the server is sampled in (cpu % = CPU s
    # over that wall time), unrounded: the server's seconds, where the run recorded them.
    wall = (
        generator.cpu_s * 100 / generator.cpu_percent
        if generator is not None and generator.cpu_percent > 0
        else None
    )
    return Point(
        source=where,
        transport=scenario.transport,
        poll_interval_s=interval if scenario.transport == Transport.SHORT_POLL else None,
        subscribers=int(subscribers),
        published=scenario.sent * rooms / subscribers,
        delivered=scenario.delivered,
        requests=0 if scenario.transport == Transport.WS else requests,
        span_s=duration + warmup,
        payload_bytes=int(payload),
        cpu_s=scenario.server.cpu_s,
        rss_peak_bytes=scenario.server.rss_peak_bytes,
        p50_us=scenario.latency_us.p50,
        p99_us=scenario.latency_us.p99,
        saturated=scenario.generator.saturated if scenario.generator else False,
        flavor=flavor_of(scenario),
        wall_s=wall,
        rooms=rooms,
    )


#: What uvicorn's ``--ws auto`` runs when the ``websockets`` package is installed (it is a
#: dependency of pushbench): ``uvicorn/protocols/websockets/auto.py``.
_AUTO_WS_IMPL = "websockets-sansio"


def _idle_ws(
    serverbenches: Sequence[tuple[str, ResultsDocument]], ws_impls: set[str], inputs: Inputs
) -> None:
    """The idle subscriber memory measured for the WebSocket implementation the compare runs
    used; the dearest measured one when they used several or serverbench did not measure theirs,
    so that memory is not under-planned."""
    values: list[tuple[float, int | None, str | None, str]] = []
    for source, document in serverbenches:
        for s in document.scenarios:
            params = s.typed_params
            per_connection = params.idle_rss_bytes_per_connection
            # Room subscribers of the reference server (fan-out scenarios), not the echo floor.
            if s.transport == Transport.WS and per_connection is not None:
                where = f"{source}: {s.name}"
                values.append((per_connection, params.idle_connections, params.ws_impl, where))
    wanted = {_AUTO_WS_IMPL if impl == "auto" else impl for impl in ws_impls}
    matching = [v for v in values if len(wanted) == 1 and v[2] in wanted]
    if not values:
        return
    per_connection, count, impl, name = max(matching or values, key=lambda v: v[0])
    inputs.idle_ws_bytes_per_connection = per_connection
    why = "the implementation the compare runs used" if matching else "the dearest measured"
    inputs.idle_ws_source = f"{name}, {count} idle subscribers ({impl}: {why})"


def _one_flavor(inputs: Inputs, flavor: str | None) -> None:
    """Keep the points of ``flavor`` (the only one found, when None).

    Raises:
        MixedFlavors: ``flavor`` is None and the points were measured under several.
    """
    found = list(dict.fromkeys(p.flavor for p in inputs.points))
    if flavor is None:
        if len(found) > 1:
            raise MixedFlavors(found)
        inputs.flavor = found[0] if found else None
    else:
        others = [p for p in inputs.points if p.flavor != flavor]
        inputs.notes += [
            f"{p.source}: the {p.flavor or 'unrecorded'} flavor, not {flavor}; skipped"
            for p in others
        ]
        inputs.points = [p for p in inputs.points if p.flavor == flavor]
        inputs.flavor = flavor
    if inputs.flavor is not None:
        inputs.notes.append(
            f"flavor: {inputs.flavor} (every CPU and memory figure was measured on the "
            f"reference server's {inputs.flavor} flavor)"
        )


def read_inputs(
    documents: Sequence[tuple[str, ResultsDocument]],
    flavor: str | None = None,
    ramps: Sequence[RampSteps] = (),
) -> Inputs:
    """The model's inputs from ``(source name, document)`` pairs, of one server flavor.

    ``compare`` documents give points; a ``serverbench`` document gives the idle memory of a
    WebSocket subscriber; other kinds are noted and skipped (a sweep runs several workers,
    Locust runs sample no server). ``flavor``: use that flavor's scenarios only (the others
    are noted); None: the inputs must hold one flavor. ``ramps``: ramp runs whose held steps
    are points too (:mod:`pushbench.plan.ramp_inputs`).

    Raises:
        MixedFlavors: No ``flavor`` given, and the scenarios were measured under several.
    """
    inputs = Inputs()
    serverbenches: list[tuple[str, ResultsDocument]] = []
    ws_impls: set[str] = set()
    for source, document in documents:
        if document.kind == "serverbench":
            serverbenches.append((source, document))
            inputs.notes.append(f"{source}: serverbench run: used for idle WebSocket memory only")
            continue
        if document.kind != "compare":
            hint = " (give a ramp run with --from-ramp)" if document.kind == "ramp" else ""
            inputs.notes.append(
                f"{source}: a {document.kind} run, not a compare run; skipped{hint}"
            )
            continue
        if document.interrupted:
            inputs.notes.append(f"{source}: interrupted run: its complete scenarios are used")
        for scenario in document.scenarios:
            point = _point(document, scenario, source)
            if isinstance(point, str):
                inputs.notes.append(point)
                continue
            inputs.points.append(point)
            if scenario.errors:
                inputs.notes.append(f"{point.source}: used, but it reported errors")
            if scenario.transport == Transport.WS:
                server = document.config.get("server")
                ws_impls.add(
                    str(server.get("ws_impl", "auto")) if isinstance(server, dict) else "auto"
                )
    for ramp in ramps:
        inputs.ramp_runs.append(ramp.run_id)
        inputs.notes += ramp.notes()
        for limit in ramp.limits:
            for step in limit.steps:
                point = _point(ramp.document, step, ramp.source)
                if isinstance(point, str):
                    inputs.notes.append(point)
                    continue
                inputs.points.append(point)
                if step.transport == Transport.WS:
                    ws_impls.add(ramp.ws_impl)
    _one_flavor(inputs, flavor)
    _idle_ws(serverbenches, ws_impls, inputs)
    return inputs
