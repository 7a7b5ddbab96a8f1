"""From a sweep's measurements to a recommended uvicorn configuration, with its reasons (pure).

The recommendation is the configuration with the best throughput (a geometric mean over the
capacity workloads, each relative to the best configuration's, so no workload dominates by its
units) among those whose push latency p99 meets the SLO without losing messages. A configuration
within :data:`NOISE` of the best with fewer workers or less CPU per message wins instead:
simpler to run, and the difference is not one this run can tell apart.

Just as important is what the run could *not* conclude: more workers than the server has CPUs
cannot show scaling, a saturated generator measures itself, a single short run cannot separate
differences of a few percent. Those are said explicitly, derived from the run's own figures.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from pushbench.core.kinds import Workload
from pushbench.core.scenario_params import ScenarioParams
from pushbench.core.schema import ResultsDocument
from pushbench.core.server_config import UVICORN_PROTOCOL_SERVERS
from pushbench.sweep.matrix import OWN_STATE, SweepConfig

__all__ = [
    "CAPACITY_WORKLOADS",
    "KNEE_GAIN",
    "NOISE",
    "Context",
    "Measurement",
    "Recommendation",
    "context_from_document",
    "measurements_from_document",
    "recommend",
    "recommend_document",
]

#: Relative differences below this are not told apart by one short run.
NOISE: Final = 0.05
#: Adding workers "stops helping" when the next step gains less than this.
KNEE_GAIN: Final = 0.10
#: Workloads that measure throughput at saturation, and how their unit reads.
CAPACITY_WORKLOADS: Final = {
    Workload.ECHO: "echo round trips/s",
    Workload.FANOUT: "fan-out deliveries/s",
    Workload.POLL: "short-poll requests/s",
}
_DIMENSIONS: Final = ("loop", "ws_impl", "http_impl", "flavor")


@dataclass(frozen=True, slots=True)
class Measurement:
    """What one configuration measured (``None``: that workload did not produce a figure)."""

    config: SweepConfig
    throughput: dict[str, float] = field(default_factory=dict)
    """Per capacity workload (see :data:`CAPACITY_WORKLOADS`): operations per second."""
    push_p99_us: int | None = None
    push_lost: int = 0
    cpu_us_per_msg: float | None = None
    """Server CPU per delivered message in the push workload (same offered load everywhere)."""
    connections_per_worker: tuple[int, ...] = ()
    saturated: tuple[str, ...] = ()
    """Workloads in which the load generator was saturated."""
    errors: int = 0


@dataclass(frozen=True, slots=True)
class Context:
    """What the figures must be read against."""

    p99_slo_us: int = 50_000
    cpu_count: int | None = None
    server_cpus: int | None = None
    """CPUs the server was pinned to; ``None``: not pinned (it shares them with the generator)."""
    generator_cpus: int | None = None
    duration_s: float | None = None
    skipped: tuple[str, ...] = ()
    """``label: reason`` of every configuration not measured."""
    push_rate_per_s: float | None = None
    push_measured: bool = True
    """False when the app offers no push (its profile has no ``ws``): configurations are then
    compared on throughput alone, and the reasons say so."""


@dataclass(frozen=True, slots=True)
class Recommendation:
    """The pick, why, where adding workers stops helping, and what this run cannot tell."""

    config: SweepConfig | None
    reasons: tuple[str, ...]
    knees: tuple[str, ...]
    effects: tuple[str, ...]
    not_concluded: tuple[str, ...]
    scores: dict[str, float] = field(default_factory=dict)
    """Label → composite throughput relative to the best configuration (1.0 is the best)."""

    @property
    def headline(self) -> str:
        """One sentence: the recommended configuration and its first reason."""
        if self.config is None:
            return "No configuration can be recommended: " + (self.reasons or ("none ran",))[0]
        return f"Recommended: {describe(self.config)} — {self.reasons[0]}"


def describe(config: SweepConfig) -> str:
    """``--workers 2 --loop uvloop --ws websockets-sansio --http httptools (Redis broker)``,
    with ``--flavor fastapi`` when the flavor is not ``asgi`` and ``--ws-per-message-deflate``
    when it is on; under another server
    ``--server granian --workers 2 --loop uvloop`` (its own WebSocket and HTTP), under gunicorn
    ``--server gunicorn`` before uvicorn's options (its workers are uvicorn's)."""
    flavor = f" --flavor {config.flavor}" if config.flavor != "asgi" else ""
    if config.deflate:
        flavor += " --ws-per-message-deflate"
    state = "the app's own state" if config.broker == OWN_STATE else f"{config.broker} broker"
    if config.server not in UVICORN_PROTOCOL_SERVERS:
        return (
            f"--server {config.server} --workers {config.workers} --loop {config.loop}"
            f"{flavor} ({state})"
        )
    server = "" if config.server == "uvicorn" else f"--server {config.server} "
    return (
        f"{server}--workers {config.workers} --loop {config.loop} --ws {config.ws_impl} "
        f"--http {config.http_impl}{flavor} ({state})"
    )


def _pct(ratio: float) -> str:
    return f"{(ratio - 1) * 100:+.0f}%"


def _geomean(values: Iterable[float]) -> float:
    items = [v for v in values if v > 0]
    return math.exp(sum(math.log(v) for v in items) / len(items)) if items else 0.0


def _scores(measurements: Sequence[Measurement]) -> dict[SweepConfig, float]:
    """Composite throughput of each configuration, relative to the best per workload."""
    best = {
        w: max((m.throughput.get(w, 0.0) for m in measurements), default=0.0)
        for w in CAPACITY_WORKLOADS
    }
    present = [w for w, value in best.items() if value > 0]
    return {
        m.config: _geomean(m.throughput.get(w, 0.0) / best[w] for w in present)
        if all(m.throughput.get(w, 0.0) > 0 for w in present)
        else 0.0
        for m in measurements
    }


def recommend(measurements: Sequence[Measurement], context: Context) -> Recommendation:
    """The recommendation for ``measurements`` (one per configuration) read in ``context``."""
    scores = _scores(measurements)
    labels = {m.config.label: scores[m.config] for m in measurements}
    knees = tuple(_knees(measurements, scores))
    effects, flat = _effects(measurements, scores)
    caveats = _not_concluded(measurements, context) + flat
    slo_ms = context.p99_slo_us / 1000
    eligible = [
        m
        for m in measurements
        if (
            not context.push_measured
            or (m.push_p99_us is not None and m.push_p99_us <= context.p99_slo_us)
        )
        and not m.push_lost
        and not m.errors
        and scores[m.config] > 0
    ]
    if not eligible:
        reason = (
            (
                f"no configuration met the push p99 SLO of {slo_ms:g} ms without losses or errors"
                if context.push_measured
                else "no configuration ran without errors"
            )
            if measurements
            else "no configuration was measured"
        )
        return Recommendation(None, (reason,), knees, effects, tuple(caveats), labels)
    top = max(eligible, key=lambda m: scores[m.config])
    close = [m for m in eligible if scores[m.config] >= scores[top.config] * (1 - NOISE)]
    pick = min(
        close,
        key=lambda m: (m.config.workers, m.cpu_us_per_msg or math.inf, -scores[m.config]),
    )
    return Recommendation(
        pick.config,
        tuple(_reasons(pick, top, eligible, measurements, scores, context)),
        knees,
        effects,
        tuple(caveats),
        labels,
    )


def _reasons(
    pick: Measurement,
    top: Measurement,
    eligible: Sequence[Measurement],
    measurements: Sequence[Measurement],
    scores: dict[SweepConfig, float],
    context: Context,
) -> list[str]:
    slo_ms = context.p99_slo_us / 1000
    p99_ms = (pick.push_p99_us or 0) / 1000
    figures = ", ".join(
        f"{pick.throughput[w]:,.0f} {unit}"
        for w, unit in CAPACITY_WORKLOADS.items()
        if w in pick.throughput
    )
    if pick is top:
        head = (
            "the best throughput within the latency SLO"
            if context.push_measured
            else "the best throughput"
        )
    else:
        head = (
            f"within {NOISE:.0%} of the best throughput within the SLO ({top.config.label}, "
            f"{_pct(scores[top.config] / scores[pick.config])}), with "
            + ("fewer workers" if pick.config.workers < top.config.workers else "less CPU/message")
        )
    reasons = [
        f"{head}: {figures}",
        f"push p99 {p99_ms:.2f} ms meets the {slo_ms:g} ms SLO with nothing lost "
        f"({len(eligible)} of {len(measurements)} configurations do)"
        if context.push_measured
        else "push latency not measured (the app offers no push): throughput alone decides",
    ]
    cpus = [m for m in eligible if m.cpu_us_per_msg is not None]
    if pick.cpu_us_per_msg is not None and cpus:
        cheapest = min(cpus, key=lambda m: m.cpu_us_per_msg or math.inf)
        if cheapest is pick or (cheapest.cpu_us_per_msg or 0) >= pick.cpu_us_per_msg * (1 - NOISE):
            reasons.append(f"the lowest server CPU per message ({pick.cpu_us_per_msg:.0f} µs)")
        else:
            reasons.append(
                f"server CPU {pick.cpu_us_per_msg:.0f} µs per message (lowest: "
                f"{cheapest.config.label}, {cheapest.cpu_us_per_msg:.0f} µs)"
            )
    server = _server_reason(pick, eligible, scores)
    if server is not None:
        reasons.append(server)
    spread = pick.connections_per_worker
    if len(spread) > 1:
        reasons.append(
            "connections per worker during the push workload: " + "/".join(map(str, spread))
        )
    return reasons


def _server_reason(
    pick: Measurement, eligible: Sequence[Measurement], scores: dict[SweepConfig, float]
) -> str | None:
    """With more than one ASGI server among the configurations that met the SLO: whether to
    switch from uvicorn (or stay), measured against the other server's best configuration."""
    others = [m for m in eligible if m.config.server != pick.config.server]
    if not others:
        return None
    uvicorn = [m for m in others if m.config.server == "uvicorn"]
    rival = max(uvicorn or others, key=lambda m: scores[m.config])
    ratio = scores[pick.config] / scores[rival.config]
    cpu = (
        f"; server CPU {pick.cpu_us_per_msg:.0f} vs {rival.cpu_us_per_msg:.0f} µs per message"
        if pick.cpu_us_per_msg is not None and rival.cpu_us_per_msg is not None
        else ""
    )
    against = (
        f"{_pct(ratio)} throughput against {rival.config.server}'s best ({rival.config.label})"
    )
    if pick.config.server != "uvicorn" and rival.config.server == "uvicorn":
        return f"switch server to {pick.config.server}: {against}{cpu}"
    return f"stay on {pick.config.server}: {against}{cpu}"


def _series(config: SweepConfig) -> tuple[str, ...]:
    return (config.server, config.loop, config.ws_impl, config.http_impl, config.flavor)


def _knees(measurements: Sequence[Measurement], scores: dict[SweepConfig, float]) -> list[str]:
    """Per (loop, ws, http) series: where adding workers stops adding throughput."""
    series: dict[tuple[str, ...], list[Measurement]] = defaultdict(list)
    for m in measurements:
        series[_series(m.config)].append(m)
    texts = []
    for key, group in series.items():
        points = sorted((m.config.workers, scores[m.config]) for m in group if scores[m.config])
        if len({w for w, _ in points}) < 2:
            continue
        # The flavor is said only when it is not the default, as in a configuration's label.
        # Defaults (uvicorn, another server's own "auto") unsaid, as in a configuration's label.
        name = " ".join(part for part in key if part not in ("asgi", "uvicorn", "auto"))
        for (w, score), (next_w, next_score) in itertools.pairwise(points):
            gain = next_score / score
            if gain < 1 + KNEE_GAIN:
                texts.append(
                    f"{name}: adding workers stops helping at {w} "
                    f"({w}→{next_w} workers: {_pct(gain)} throughput)"
                )
                break
        else:
            last_w = points[-1][0]
            gain = points[-1][1] / points[-2][1]
            texts.append(
                f"{name}: still scaling at {last_w} workers, the most tried "
                f"({points[-2][0]}→{last_w}: {_pct(gain)} throughput)"
            )
    return texts


def _effects(
    measurements: Sequence[Measurement], scores: dict[SweepConfig, float]
) -> tuple[tuple[str, ...], list[str]]:
    """Per categorical option: the paired throughput ratio of each value against the first.

    Returns (effects that exceed the noise, notes for those that do not).
    """
    by_config = {m.config: scores[m.config] for m in measurements if scores[m.config]}
    effects: list[str] = []
    flat: list[str] = []
    for dimension in _DIMENSIONS:
        values = list(dict.fromkeys(getattr(c, dimension) for c in by_config))
        if len(values) < 2:
            continue
        base = values[0]
        for other in values[1:]:
            ratios = []
            for config, score in by_config.items():
                if getattr(config, dimension) != other:
                    continue
                fields = {d: getattr(config, d) for d in _DIMENSIONS}
                fields[dimension] = base
                twin = SweepConfig(
                    config.workers, **fields, broker=config.broker, server=config.server
                )
                if twin in by_config:
                    ratios.append(score / by_config[twin])
            if not ratios:
                continue
            ratio = _geomean(ratios)
            what = f"{dimension.replace('_', ' ')} {other} vs {base}"
            pairs = f"{len(ratios)} paired configuration{'s' if len(ratios) > 1 else ''}"
            if abs(ratio - 1) < NOISE:
                flat.append(
                    f"{what}: within {NOISE:.0%} ({_pct(ratio)}, {pairs}), not distinguishable "
                    "in this run"
                )
            else:
                effects.append(f"{what}: {_pct(ratio)} throughput ({pairs})")
    return tuple(effects), flat


def _not_concluded(measurements: Sequence[Measurement], context: Context) -> list[str]:
    notes: list[str] = []
    most = max((m.config.workers for m in measurements), default=1)
    server, cpus = context.server_cpus, context.cpu_count
    if server is not None and most > server:
        gen = f", the generator on {context.generator_cpus}" if context.generator_cpus else ""
        notes.append(
            f"Worker scaling: the server was pinned to {server} of {cpus or '?'} CPUs{gen}, so "
            f"{most} workers time-share {server} CPU{'s' if server > 1 else ''}; differences "
            f"between worker counts above {server} measure scheduling and broker overhead, not "
            f"parallelism. Measuring real scaling to {most} workers needs at least "
            f"{most + (context.generator_cpus or 1)} CPUs."
        )
    elif server is None and cpus is not None and most > 1:
        notes.append(
            f"Generator and server were not pinned and share {cpus} CPUs: throughput is what "
            "the pair achieves, and more workers compete with the generator for the same cores."
        )
    brokers = {m.config.broker for m in measurements}
    if most > 1 and {"memory", "redis"} <= brokers:
        notes.append(
            "1 worker ran on the in-process broker and more workers on Redis: the worker "
            "comparison includes the Redis round trip per message, not workers alone."
        )
    if most > 1 and OWN_STATE in brokers:
        notes.append(
            "Each worker is a process of its own: an app that keeps its connections in process "
            "(as FastAPI's documented ConnectionManager does) broadcasts to its own worker's "
            "connections only, which the push workload counts as lost."
        )
    saturated = [(m.config.label, w) for m in measurements for w in m.saturated]
    if saturated:
        shown = ", ".join(f"{label} {w}" for label, w in saturated[:6])
        more = f" and {len(saturated) - 6} more" if len(saturated) > 6 else ""
        notes.append(
            f"The load generator was saturated in {len(saturated)} measurement(s) ({shown}{more}):"
            " those throughputs are the generator's ceiling, a lower bound of the server's."
        )
    if context.duration_s is not None:
        notes.append(
            f"Each figure is one run of {context.duration_s:.2g} s per workload: differences "
            f"under ~{NOISE:.0%} are within run-to-run noise."
        )
    notes += [f"Not measured: {text}" for text in context.skipped]
    return notes


# --- from a results document ----------------------------------------------------------------


def _config_of(params: ScenarioParams) -> SweepConfig | None:
    workers, loop, ws_impl, http_impl, broker = (
        params.workers,
        params.loop,
        params.ws_impl,
        params.http_impl,
        params.broker,
    )
    if workers is None or loop is None or ws_impl is None or http_impl is None or broker is None:
        return None
    # A sweep written before flavors ran what is now the asgi flavor; before servers, uvicorn.
    flavor, server = params.flavor or "asgi", params.server or "uvicorn"
    deflate = bool(params.ws_per_message_deflate)  # before deflate was an axis: off
    return SweepConfig(workers, loop, ws_impl, http_impl, broker, flavor, server, deflate)


def measurements_from_document(document: ResultsDocument) -> list[Measurement]:
    """One :class:`Measurement` per configuration of a ``pushbench sweep`` document."""
    grouped: dict[SweepConfig, dict[str, Any]] = {}
    for scenario in document.scenarios:
        params = scenario.typed_params
        config, workload = _config_of(params), params.workload
        if config is None or workload is None:
            continue
        slot = grouped.setdefault(config, {"throughput": {}, "saturated": [], "errors": 0})
        slot["errors"] += len(scenario.errors)
        if scenario.generator is not None and scenario.generator.saturated:
            slot["saturated"].append(workload)
        if workload in CAPACITY_WORKLOADS and scenario.throughput_msgs_per_s > 0:
            slot["throughput"][workload] = scenario.throughput_msgs_per_s
        elif workload == Workload.PUSH:
            slot["push_p99_us"] = scenario.latency_us.p99 if scenario.latency_us.count else None
            slot["push_lost"] = scenario.lost
            if scenario.server is not None:
                slot["cpu_us_per_msg"] = scenario.server.cpu_us_per_delivered_msg
            slot["connections_per_worker"] = tuple(params.connections_per_worker or ())
    return [
        Measurement(
            config,
            throughput=slot["throughput"],
            push_p99_us=slot.get("push_p99_us"),
            push_lost=slot.get("push_lost", 0),
            cpu_us_per_msg=slot.get("cpu_us_per_msg"),
            connections_per_worker=slot.get("connections_per_worker", ()),
            saturated=tuple(slot["saturated"]),
            errors=slot["errors"],
        )
        for config, slot in grouped.items()
    ]


def context_from_document(document: ResultsDocument) -> Context:
    """The :class:`Context` a sweep document records in its ``config``."""
    config = document.config

    def count(key: str) -> int | None:
        value = config.get(key)
        return len(value) if isinstance(value, list) and value else None

    slo_ms = config.get("p99_slo_ms")
    duration = config.get("duration_s")
    rate = config.get("push_rate_per_s")
    return Context(
        p99_slo_us=round(float(slo_ms) * 1000) if isinstance(slo_ms, int | float) else 50_000,
        cpu_count=document.environment.cpu_count,
        server_cpus=count("server_cpus"),
        generator_cpus=count("generator_cpus"),
        duration_s=float(duration) if isinstance(duration, int | float) else None,
        skipped=tuple(
            f"{item.get('label')}: {item.get('reason')}"
            for item in config.get("skipped", [])
            if isinstance(item, dict)
        ),
        push_rate_per_s=float(rate) if isinstance(rate, int | float) else None,
        push_measured=Workload.PUSH not in config.get("skipped_workloads", {}),
    )


def recommend_document(document: ResultsDocument) -> Recommendation | None:
    """The recommendation of a ``pushbench sweep`` document; ``None`` for other documents."""
    if document.kind != "sweep":
        return None
    measurements = measurements_from_document(document)
    if not measurements:
        return None
    return recommend(measurements, context_from_document(document))
