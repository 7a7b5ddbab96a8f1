"""Which server configurations a sweep runs, in which order, and which it leaves out (pure).

The matrix is the product of the option lists (ASGI server × workers × loop × WebSocket
implementation × HTTP implementation × broker × server flavor × permessage-deflate off/on). The
WebSocket and HTTP axes are uvicorn's (and gunicorn's, which runs uvicorn workers): granian and
hypercorn each run one implementation of their own, so under them those axes collapse to that one
(``auto``) rather than multiplying configurations that would all run the same server; granian has
no permessage-deflate, so its configurations with it on are skipped with that reason.
Combinations that cannot work are skipped with the reason (the memory broker with several workers
keeps one set of rooms per worker), configurations run cheapest first, and a time budget shortens
the measured intervals and then drops the most expensive configurations that still do not fit —
every one of them recorded with why.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from pushbench.core.kinds import WORKLOADS
from pushbench.core.server_config import (
    FLAVORS,
    HTTP_IMPLS,
    LOOPS,
    SERVERS,
    UVICORN_PROTOCOL_SERVERS,
    WS_IMPLS,
)

__all__ = [
    "BROKER_MODES",
    "DEFLATE_MODES",
    "OWN_STATE",
    "WORKLOADS",
    "Skipped",
    "SweepConfig",
    "SweepPlan",
    "Timing",
    "expand",
    "parse_deflate",
    "parse_names",
    "parse_workers",
    "plan_sweep",
]

#: ``auto``: the memory broker for one worker, Redis for several (what a deployment would do).
BROKER_MODES: Final = ("auto", "memory", "redis")
#: The broker of a user's app (``--app``): none of pushbench's, the app keeps its own state.
OWN_STATE: Final = "app"
#: ``--ws-per-message-deflate`` values of a sweep: permessage-deflate off, on, or both.
DEFLATE_MODES: Final = {"off": False, "on": True}


@dataclass(frozen=True, slots=True, order=True)
class SweepConfig:
    """One way of running the server that the sweep measures."""

    workers: int
    loop: str
    ws_impl: str
    http_impl: str
    broker: str
    """``memory`` or ``redis`` (the URL is the sweep's, not the configuration's); ``app``: a
    user's app (``--app``), which keeps its own state whatever the worker count."""
    flavor: str = "asgi"
    """The reference server's flavor (``--flavor``)."""
    server: str = "uvicorn"
    """The ASGI server (``--server``); under granian and hypercorn ``ws_impl`` and
    ``http_impl`` are ``auto``: the server's own."""
    deflate: bool = False
    """permessage-deflate on server and clients (``--ws-per-message-deflate on``)."""

    @property
    def label(self) -> str:
        """``w2 uvloop websockets-sansio httptools`` under uvicorn (``… gunicorn`` under gunicorn's
        uvicorn workers), ``w2 uvloop granian`` under another server (plus ``redis`` when it is not
        implied, and the flavor when it is not ``asgi``: names of sweeps before servers and flavors
        stay as they were)."""
        impls = f"{self.ws_impl} {self.http_impl}"
        if self.server not in UVICORN_PROTOCOL_SERVERS:
            impls = self.server  # its own WebSocket and HTTP
        elif self.server != "uvicorn":
            impls = f"{impls} {self.server}"
        text = f"w{self.workers} {self.loop} {impls}"
        implied = "memory" if self.workers == 1 else "redis"
        text = text if self.broker in (implied, OWN_STATE) else f"{text} {self.broker}"
        text = text if self.flavor == "asgi" else f"{text} {self.flavor}"
        return f"{text} deflate" if self.deflate else text

    @property
    def slug(self) -> str:
        """``w2/uvloop/websockets-sansio/httptools``: the label without spaces, for scenario
        names that gate SLOs can address (``push/w1/....latency_us.p99<=50000``)."""
        return self.label.replace(" ", "/")

    def params(self) -> dict[str, Any]:
        """The fields as a sweep scenario's params record them."""
        return {
            "server": self.server,
            "workers": self.workers,
            "loop": self.loop,
            "ws_impl": self.ws_impl,
            "http_impl": self.http_impl,
            "broker": self.broker,
            "flavor": self.flavor,
            "ws_per_message_deflate": self.deflate,
        }


@dataclass(frozen=True, slots=True)
class Skipped:
    """A configuration the sweep does not run, and why."""

    label: str
    reason: str


@dataclass(frozen=True, slots=True)
class Timing:
    """How long one configuration takes, to fit a sweep into a budget. Estimates, in seconds."""

    duration_s: float = 5.0
    warmup_s: float = 1.0
    startup_s: float = 2.0
    """Launching uvicorn and waiting for ``/healthz``."""
    per_worker_s: float = 0.8
    """Each extra worker process (import + start-up) on top of ``startup_s``."""
    overhead_s: float = 1.5
    """Per workload: connecting clients, draining, closing."""

    def config_s(self, config: SweepConfig) -> float:
        """Estimated wall time of one configuration, every workload included."""
        per_workload = self.warmup_s + self.duration_s + self.overhead_s
        return (
            self.startup_s
            + self.per_worker_s * (config.workers - 1)
            + per_workload * len(WORKLOADS)
        )


@dataclass(frozen=True, slots=True)
class SweepPlan:
    """What will run (in order), with which timing, and what will not."""

    configs: tuple[SweepConfig, ...]
    skipped: tuple[Skipped, ...]
    timing: Timing
    estimate_s: float
    notes: tuple[str, ...] = ()


def parse_workers(text: str) -> tuple[int, ...]:
    """``"1,2,4"`` → ``(1, 2, 4)``; duplicates dropped, order kept.

    Raises:
        ValueError: Not positive integers separated by commas.
    """
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--workers takes integers separated by commas, not {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise ValueError(f"--workers needs at least one value, all >= 1 (got {text!r})")
    return tuple(dict.fromkeys(values))


def parse_names(text: str, option: str, allowed: Sequence[str]) -> tuple[str, ...]:
    """``"asyncio,uvloop"`` → ``("asyncio", "uvloop")``, checked against ``allowed``.

    Raises:
        ValueError: Empty, or a name that is not allowed (``auto`` is not: a sweep names what
            it measures).
    """
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [n for n in names if n not in allowed or n == "auto"]
    if unknown or not names:
        choices = ", ".join(a for a in allowed if a != "auto")
        raise ValueError(
            f"{option}: unknown {', '.join(unknown) or '(none)'}; choose from {choices}"
        )
    return names


def expand(
    workers: Sequence[int],
    loops: Sequence[str],
    ws_impls: Sequence[str],
    http_impls: Sequence[str],
    brokers: Sequence[str] = ("auto",),
    flavors: Sequence[str] = ("asgi",),
    own_app: bool = False,
    servers: Sequence[str] = ("uvicorn",),
    deflates: Sequence[bool] = (False,),
) -> tuple[list[SweepConfig], list[Skipped]]:
    """Every valid combination (matrix order) and the invalid ones with their reason.

    ``own_app``: a user's app, which reads no broker of pushbench's: every worker count is
    run (broker :data:`OWN_STATE`), and whether its workers share state is for its figures to
    show (a broadcast that reaches one worker's connections only is counted lost).

    Raises:
        ValueError: A name outside uvicorn's choices or :data:`BROKER_MODES`.
    """
    for option, values, allowed in (
        ("--loop", loops, LOOPS),
        ("--ws-impl", ws_impls, WS_IMPLS),
        ("--http-impl", http_impls, HTTP_IMPLS),
        ("--flavor", flavors, FLAVORS),
        ("--server", servers, SERVERS),
    ):
        parse_names(",".join(values), option, allowed)
    unknown = [b for b in brokers if b not in BROKER_MODES]
    if unknown or not brokers:
        raise ValueError(
            f"--brokers: unknown {', '.join(unknown) or '(none)'}; choose from "
            + ", ".join(BROKER_MODES)
        )
    configs: dict[SweepConfig, None] = {}
    skipped: dict[Skipped, None] = {}
    matrix = itertools.product(
        servers, workers, brokers, loops, ws_impls, http_impls, flavors, deflates
    )
    for server, w, mode, loop, ws, http, flavor, deflate in matrix:
        broker = ("memory" if w == 1 else "redis") if mode == "auto" else mode
        broker = OWN_STATE if own_app else broker
        if server not in UVICORN_PROTOCOL_SERVERS:  # its own WebSocket and HTTP, whatever is listed
            ws, http = "auto", "auto"
        config = SweepConfig(w, loop, ws, http, broker, flavor, server, deflate)
        if deflate and server == "granian":
            reason = "--server granian has no permessage-deflate (--ws-per-message-deflate)"
            skipped[Skipped(config.label, reason)] = None
        elif broker == "memory" and w > 1:
            reason = (
                "the memory broker keeps one set of rooms per worker process, so with "
                f"{w} workers most broadcasts would never reach their subscribers"
            )
            skipped[Skipped(config.label, reason)] = None
        else:
            configs[config] = None
    return list(configs), list(skipped)


def parse_deflate(text: str) -> tuple[bool, ...]:
    """``"off,on"`` → ``(False, True)``; duplicates dropped, order kept.

    Raises:
        ValueError: A value other than ``off`` and ``on``, or none.
    """
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in DEFLATE_MODES]
    if unknown or not names:
        raise ValueError(
            f"--ws-per-message-deflate: unknown {', '.join(unknown) or '(none)'}; "
            "choose off, on or off,on"
        )
    return tuple(dict.fromkeys(DEFLATE_MODES[name] for name in names))


def plan_sweep(
    configs: Sequence[SweepConfig],
    timing: Timing,
    budget_s: float | None = None,
    min_duration_s: float = 1.0,
) -> SweepPlan:
    """Order ``configs`` cheapest first and fit them into ``budget_s`` (``None``: no budget).

    Over budget, the measured interval (and the warm-up with it) shrinks first, down to
    ``min_duration_s`` (or the asked duration if shorter); then the most expensive
    configurations are dropped until the rest fit.
    """
    ordered = sorted(configs, key=lambda c: (timing.config_s(c), c.workers))
    notes: list[str] = []

    def total(t: Timing, chosen: Sequence[SweepConfig]) -> float:
        return sum(t.config_s(c) for c in chosen)

    if budget_s is not None and total(timing, ordered) > budget_s:
        floor = min(min_duration_s, timing.duration_s)
        shrunk = _shrink(timing, ordered, budget_s, floor)
        if shrunk.duration_s < timing.duration_s:
            notes.append(
                f"budget {budget_s:g} s: measured interval shortened from "
                f"{timing.duration_s:g} s to {shrunk.duration_s:.2g} s per workload"
            )
        timing = shrunk
    kept: list[SweepConfig] = []
    skipped: list[Skipped] = []
    spent = 0.0
    for config in ordered:
        cost = timing.config_s(config)
        if budget_s is not None and spent + cost > budget_s + 1e-6:
            left = max(budget_s - spent, 0.0)
            reason = f"budget: needs ~{cost:.0f} s, {left:.0f} s of {budget_s:g} s left"
            skipped.append(Skipped(config.label, reason))
            continue
        kept.append(config)
        spent += cost
    return SweepPlan(tuple(kept), tuple(skipped), timing, spent, tuple(notes))


def _shrink(
    timing: Timing, configs: Sequence[SweepConfig], budget_s: float, floor_s: float
) -> Timing:
    """The longest measured interval (>= ``floor_s``) with which ``configs`` fit the budget."""
    fixed = sum(replace(timing, duration_s=0.0, warmup_s=0.0).config_s(c) for c in configs)
    # Warm-up keeps its share of the interval: (warmup + duration) scales as one.
    share = timing.warmup_s / timing.duration_s if timing.duration_s else 0.0
    per_second = len(configs) * len(WORKLOADS) * (1 + share)
    duration = (budget_s - fixed) / per_second if per_second else timing.duration_s
    duration = max(floor_s, min(timing.duration_s, duration))
    return replace(timing, duration_s=duration, warmup_s=duration * share)
