"""A ``pushbench ramp`` run as the plan's measured inputs (``--from-ramp``): pure, no I/O.

A ramp steps the load on one server per transport until a step breaks its SLO; each step is a
whole open-loop scenario with its server CPU, peak RSS and latencies, so the steps it *held* are
measurements the capacity model can fit like compare scenarios, at as many load levels as the
ramp took. The steps after the held one are left out: their latencies broke the SLO, lost
messages, or were the generator's own. What the ramp held is kept too: the plan notes what one
worker was shown to hold within the SLO, and says when its planned load per worker lies beyond.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from pushbench.core.kinds import Transport
from pushbench.core.ramp_stop import Held, held_by_transport, held_line, load_text, ramp_steps
from pushbench.core.schema import ResultsDocument, Scenario

if TYPE_CHECKING:  # the model reads these inputs: imported for the annotation only
    from pushbench.plan.model import Plan

__all__ = ["RampLimit", "RampSteps", "RampUnusable", "held_limit_notes", "ramp_inputs"]

#: A planned load per worker beyond the held one by more than this factor is noted.
_BEYOND: Final = 1.1


class RampUnusable(ValueError):
    """A ``--from-ramp`` file the plan cannot use; the message is the one-line reason."""


@dataclass(frozen=True, slots=True)
class RampLimit:
    """One transport's ramp: the steps up to the one it held, and the line that says so."""

    transport: Transport
    steps: tuple[Scenario, ...]
    """The steps held, in load order; the last is the highest held."""
    said: str
    """``ws held 200 subscribers at 200 msgs/s with p99 9.7 ms (SLO 50 ms); stopped: ...``."""
    held_text: str
    """The held part alone: ``ws held 200 subscribers at 200 msgs/s with p99 9.7 ms``."""

    @property
    def held(self) -> Scenario:
        """The highest step held."""
        return self.steps[-1]


@dataclass(frozen=True, slots=True)
class RampSteps:
    """The usable part of one ramp run."""

    path: str
    """The file it was read from."""
    run_id: str
    document: ResultsDocument
    limits: tuple[RampLimit, ...]

    @property
    def source(self) -> str:
        """How its steps are named in the plan: ``ramp <run id>`` (``ramp <id>: ws@200``)."""
        return f"ramp {self.run_id}"

    @property
    def ws_impl(self) -> str:
        """The WebSocket implementation the ramp's server ran (``auto`` when not recorded)."""
        server = self.document.config.get("server")
        return str(server.get("ws_impl", "auto")) if isinstance(server, dict) else "auto"

    def notes(self) -> list[str]:
        """What the plan says about its inputs from this ramp."""
        notes = []
        for limit in self.limits:
            notes.append(
                f"{self.source} ({self.path}): {limit.said}; its {len(limit.steps)} held "
                f"step(s) are measured inputs, the steps beyond are not"
            )
        notes.append(
            f"{self.source}: its steps ran one after another on one server per transport, so a "
            "step's peak RSS may hold what earlier steps allocated"
        )
        return notes


def _workers(document: ResultsDocument) -> object:
    server = document.config.get("server")
    return server.get("workers", 1) if isinstance(server, dict) else 1


def ramp_inputs(
    path: str, document: ResultsDocument, transports: Sequence[Transport] = ()
) -> RampSteps:
    """The held steps of ``document`` (a ramp run read from ``path``), of ``transports`` (none
    given: every transport the ramp ran whose ramp held a step).

    Raises:
        RampUnusable: Not a ramp run; a ramp on several workers (the plan fits one worker's
            costs); a transport asked for that the ramp did not run or that held no step; no
            transport that held a step.
    """
    if document.kind != "ramp":
        hint = " (give it with --from)" if document.kind == "compare" else ""
        raise RampUnusable(f"--from-ramp {path} is a {document.kind} run, not a ramp run{hint}")
    run_id = document.run_id
    workers = _workers(document)
    if workers != 1:
        raise RampUnusable(
            f"ramp {run_id} ran {workers} workers; the plan fits one worker's costs: ramp with "
            "--workers 1"
        )
    helds = {h.transport: h for h in held_by_transport(document)}
    ran = ", ".join(helds) or "none"
    missing = [str(t) for t in transports if str(t) not in helds]
    if missing:
        raise RampUnusable(
            f"ramp {run_id} did not run {', '.join(missing)} (it ran: {ran}); plan the "
            "transports it ran with --transports, or ramp the others"
        )
    chosen = [helds[str(t)] for t in transports] if transports else list(helds.values())
    empty = [h for h in chosen if h.held is None]
    if empty and (transports or len(empty) == len(chosen)):
        raise RampUnusable(
            f"ramp {run_id}: nothing to plan from: "
            + "; ".join(held_line(h, document) for h in empty)
        )
    steps = ramp_steps(document)
    limits = tuple(_limit(h, steps[h.transport], document) for h in chosen if h.held is not None)
    return RampSteps(path, run_id, document, limits)


def _limit(held: Held, steps: list[Scenario], document: ResultsDocument) -> RampLimit:
    assert held.held is not None  # only held transports get here
    top = held.held
    last = next(i for i, s in enumerate(steps) if s is top)
    slo = document.config.get("slo_p99_ms")
    held_text = (
        f"{held.transport} held {load_text(top, document)} with p99 "
        f"{top.latency_us.p99 / 1000:.3g} ms (SLO {slo:g} ms)"
    )
    return RampLimit(
        Transport(held.transport), tuple(steps[: last + 1]), held_line(held, document), held_text
    )


def held_limit_notes(plan: Plan, ramps: Sequence[RampSteps]) -> list[str]:
    """Where ``plan`` puts more on one worker than a ramp showed one worker to hold within its
    SLO: more connected clients than the held step's subscribers, or more deliveries/s than it
    delivered."""
    limits = {limit.transport: limit for ramp in ramps for limit in ramp.limits}
    notes = []
    for planned in plan.transports:
        limit = limits.get(planned.transport)
        workers = planned.workers.value
        if limit is None or not workers:
            continue
        held = limit.held
        subscribers = held.typed_params.subscribers or 0
        clients = plan.request.clients / workers
        deliveries = planned.rates.get("deliveries", 0.0) / workers
        beyond = []
        if subscribers and clients > _BEYOND * subscribers:
            beyond.append(
                f"{clients:,.0f} clients ({clients / subscribers:.3g}× its {subscribers:,})"
            )
        held_rate = held.throughput_msgs_per_s
        if held_rate and deliveries > _BEYOND * held_rate:
            beyond.append(
                f"{deliveries:,.0f} deliveries/s ({deliveries / held_rate:.3g}× its "
                f"{held_rate:,.0f})"
            )
        if beyond:
            where = "on its one worker" if workers == 1 else f"on each of its {workers:g} workers"
            notes.append(
                f"{planned.name}: the plan puts {' and '.join(beyond)} {where}: more than the "
                f"ramp showed one worker to hold within its SLO ({limit.held_text})"
            )
    return notes
