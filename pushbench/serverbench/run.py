"""``pushbench serverbench``: what one reference server can do, per uvicorn WebSocket impl.

For each implementation: closed-loop echo on ``/ws`` (and the same against a bare ASGI echo app,
so the framework's overhead is a ratio from one run), room fan-out deliveries per second, and the
memory an idle subscriber costs. Then, once (HTTP does not depend on the WebSocket
implementation), closed-loop short polls of a room's head on the reference server and on the
bare app's poll endpoint: "reference poll / bare poll" is a ratio from the same run. The load
comes from the raw-socket clients in :mod:`pushbench.drivers.capacity`, pinned to other CPUs
than the server.

With a target profile (``--app``, ``--profile``), the user's app takes the reference server's
place: echo on the profile's echo endpoint, fan-out on its ``ws`` and ``publish`` sections, idle
sockets on its ``ws`` (else echo) path, short polls on its ``short_poll``, each counting payload
tokens (:mod:`pushbench.drivers.profiled_capacity`). A phase the app does not offer is skipped,
with the reason in the document's ``config.skipped`` and warnings, never run against something
else; the bare ASGI app stays, driven by the same clients, as the floor.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pushbench.core.interval_log import write_interval_logs
from pushbench.core.intervals import DEFAULT_INTERVAL_S
from pushbench.core.kinds import Transport, Workload
from pushbench.core.schema import Scenario
from pushbench.core.server_config import ServerConfig
from pushbench.core.target_profile import BUILTIN_PROFILES, TargetProfile, fill
from pushbench.drivers.capacity import (
    CapacityRun,
    echo_capacity,
    fanout_capacity,
    idle_connections,
    poll_capacity,
)
from pushbench.drivers.profiled_capacity import (
    token_echo_capacity,
    token_fanout_capacity,
    token_poll_capacity,
)
from pushbench.harness.client_deflate import offering
from pushbench.harness.environment import server_record
from pushbench.harness.launcher import ServerProcess, loop_in_use
from pushbench.harness.processes import cpu_plan, generator_affinity, pin_server, run_uvloop
from pushbench.harness.resources import TreeUsage, tree_rss_bytes
from pushbench.harness.run_skeleton import RunOutcome, RunProgress, RunState, record_run, start_run
from pushbench.harness.throwaway_ca import run_tls
from pushbench.workloads import capacity_scenario, measure_capacity

__all__ = ["PHASES", "ServerBenchConfig", "run_serverbench", "skipped_phases"]

APPS = {"reference": "target_app.main:app", "bare": "pushbench.drivers.bare_app:app"}
BARE = "bare"
#: The phases of a serverbench run, each of which an app's profile may not offer.
PHASES = ("echo", "fanout", "idle", "poll")
#: What a bare-app echo sends when the profile has no echo frame of its own.
_BARE_FRAME = "{token}{payload}"


def skipped_phases(profile: TargetProfile) -> dict[str, str]:
    """The phases ``profile``'s app does not offer, each with the reason (the reference
    server offers them all)."""
    if profile.reference:
        return {}
    name = profile.name
    skipped = {}
    if profile.echo is None:
        skipped["echo"] = f"profile {name!r} offers no echo endpoint"
    if profile.ws is None:
        skipped["fanout"] = f"profile {name!r} offers no ws endpoint to fan out to"
    if profile.ws is None and profile.echo is None:
        skipped["idle"] = f"profile {name!r} offers no WebSocket path to hold idle sockets on"
    if profile.short_poll is None:
        skipped["poll"] = f"profile {name!r} offers no short-poll endpoint"
    return skipped


@dataclass(frozen=True, slots=True)
class ServerBenchConfig:
    """The measurements to make; the server options other than the WS implementation are fixed."""

    ws_impls: tuple[str, ...] = ("websockets-sansio", "websockets", "wsproto")
    connections: int = 50
    subscribers: int = 100
    payload_bytes: int = 64
    duration_s: float = 3.0
    warmup_s: float = 1.0
    #: Rounds of each throughput measurement; the best counts (see ``_best``).
    repeat: int = 3
    idle_connections: int = 10_000
    #: Keep-alive connections polling in a closed loop (0: no poll measurement).
    pollers: int = 50
    server: ServerConfig = field(default_factory=ServerConfig)
    pin: bool = True
    #: How to drive ``server.app`` (``--profile``): the reference server's by default.
    profile: TargetProfile = BUILTIN_PROFILES["reference"]
    #: Token echo: a message unanswered this long is lost, and its connection sends the next.
    reply_timeout_s: float = 1.0
    #: ``--tls``: every server over TLS with a throwaway CA made for the run, trusted by the
    #: clients (``server.ssl_*`` set by the run; ``params.tls`` true).
    tls: bool = False
    #: Width of the intervals each measured window is cut into (``--interval``).
    interval_s: float = DEFAULT_INTERVAL_S

    @property
    def main(self) -> str:
        """The measured app's name in scenario names: ``reference``, or ``app`` (the user's)."""
        return "reference" if self.profile.reference else "app"

    def apps(self) -> dict[str, ServerConfig]:
        """The measured app and the bare floor, each as its server runs it."""
        bare = replace(
            self.server, app=APPS[BARE], app_dir=None, factory=False, health_path="/healthz"
        )
        main = (
            self.server
            if not self.profile.reference
            else replace(self.server, app=APPS["reference"])
        )
        return {self.main: main, BARE: bare}


def _idle_rss_per_connection(
    server: ServerProcess, count: int, path: str | Callable[[int], str]
) -> float:
    """Server RSS growth per idle socket on ``path``: the slope from ``count // 5`` to ``count``.

    The first connections also page in what any connection needs once (code paths, buffers,
    the room itself), which dividing the whole growth by ``count`` would charge to each; the
    slope between two populations of the same room charges only what one more subscriber costs.
    """
    first = count // 5  # 0 for a handful: then simply the growth from none

    async def settled_rss() -> int:
        await asyncio.sleep(0.5)  # let the server finish its last handshakes: a measured pause
        return tree_rss_bytes(server.pid)  # the workers too: that is where sockets live

    async def hold() -> tuple[int, int]:
        clients = await idle_connections(server.ws_url, first, path=path) if first else []
        try:
            before = await settled_rss()
            rest = path if isinstance(path, str) else (lambda n: path(first + n))
            clients += await idle_connections(server.ws_url, count - first, path=rest)
            return before, await settled_rss()
        finally:
            for client in clients:
                client.close()

    before, after = run_uvloop(hold)
    return (after - before) / (count - first)


def run_serverbench(
    config: ServerBenchConfig, out: Path, progress: RunProgress | None = None
) -> RunOutcome:
    """Run every measurement (a phase per round, in words); ``results.json`` is rewritten after
    each WebSocket implementation."""
    progress = progress or RunProgress()
    server_cpus, generator_cpus = cpu_plan(config.pin)
    pinned = server_cpus is not None
    state = start_run(
        "serverbench",
        {
            "ws_impls": list(config.ws_impls),
            "connections": config.connections,
            "subscribers": config.subscribers,
            "payload_bytes": config.payload_bytes,
            "duration_s": config.duration_s,
            "repeat": config.repeat,
            "warmup_s": config.warmup_s,
            "idle_connections": config.idle_connections,
            "pollers": config.pollers,
            "asgi_server": server_record(config.server.server),
            "interval_s": config.interval_s,
            "loop": loop_in_use(config.server),  # the loop run, auto resolved
            "http_impl": config.server.http_impl,
            # The reference app's; the bare app has none.
            "flavor": config.server.flavor if config.profile.reference else None,
            "pinned": pinned,
            "app": config.server.app,
            "profile": config.profile.name,
            "skipped": skipped_phases(config.profile),
            "tls": config.tls or config.server.tls,
            "ws_per_message_deflate": config.server.ws_per_message_deflate,
        },
        out,
        warnings=[
            f"{phase} not measured: {reason}"
            for phase, reason in skipped_phases(config.profile).items()
        ],
    )

    def body() -> None:
        with run_tls(state.run_dir, config.tls) as files:
            measure(
                config if files is None else replace(config, server=files.serving(config.server))
            )

    def measure(config: ServerBenchConfig) -> None:
        # The clients negotiate permessage-deflate exactly when the servers offer it.
        deflate = config.server.ws_per_message_deflate
        with generator_affinity(generator_cpus), offering(deflate):
            _all_impls(config, server_cpus, progress, state)
            if config.pollers and "poll" not in skipped_phases(config.profile):
                polls = _poll_floor(config, state.run_dir, server_cpus, progress)
                write_interval_logs(polls, state.run_dir)
                state.scenarios += polls

    return record_run(state, body)


def _all_impls(
    config: ServerBenchConfig,
    server_cpus: list[int] | None,
    progress: RunProgress,
    state: RunState,
) -> None:
    for impl in config.ws_impls:
        # Both apps up at once, on the same CPUs: their rounds interleave (see _measure_impl).
        with contextlib.ExitStack() as stack:
            servers: dict[str, ServerProcess] = {}
            for app_name, app_config in config.apps().items():
                server_config = replace(app_config, ws_impl=impl)
                log = state.run_dir / f"server-{impl}-{app_name}.log"
                servers[app_name] = stack.enter_context(ServerProcess(server_config, log))
                pin_server(servers[app_name].pid, server_cpus)
            measured = _measure_impl(config, servers, impl, progress)
        write_interval_logs(measured, state.run_dir)
        state.scenarios += measured
        state.save()


Measured = tuple[CapacityRun, TreeUsage, float]


def _poll_floor(
    config: ServerBenchConfig,
    run_dir: Path,
    server_cpus: list[int] | None,
    progress: RunProgress,
) -> list[Scenario]:
    """``repeat`` rounds of closed-loop short polls on each app, alternating which goes first."""
    apps = config.apps()
    runs: dict[str, list[Measured]] = {name: [] for name in apps}
    with contextlib.ExitStack() as stack:
        servers: dict[str, ServerProcess] = {}
        for app_name, app_config in apps.items():
            log = run_dir / f"server-poll-{app_name}.log"
            server = stack.enter_context(ServerProcess(app_config, log))
            pin_server(server.pid, server_cpus)
            servers[app_name] = server
        for round_index in range(config.repeat):
            order = list(servers) if round_index % 2 == 0 else list(reversed(servers))
            for app_name in order:
                progress.phase_started(
                    f"{app_name}: short polls, {config.pollers} connections, "
                    f"round {round_index + 1}/{config.repeat}"
                )
                url = servers[app_name].url
                factory = _poll_factory(config, app_name, url)
                runs[app_name].append(
                    measure_capacity(servers[app_name], factory, config.interval_s)
                )
    measured: list[Scenario] = []
    for app_name, app_runs in runs.items():
        params = {
            "app": app_name,
            **_flavor(config, app_name),
            **_profile(config, app_name),
            "workload": Workload.POLL,
            **_tls(config),
            "server": config.server.server,
            "loop": loop_in_use(config.server),
            "pollers": config.pollers,
            "http_impl": config.server.http_impl,
            "rounds": len(app_runs),
            "requests_per_s_by_round": [round(r[0].per_s) for r in app_runs],
        }
        run, usage, gen = _best(app_runs)
        # Every request sent in the window: answered 2xx (``messages``) or lost.
        requests = run.messages + run.lost
        measured.append(
            capacity_scenario(
                f"poll/{app_name}", Transport.SHORT_POLL, params, run, usage, gen, requests
            )
        )
    return measured


def _poll_factory(
    config: ServerBenchConfig, app_name: str, url: str
) -> Callable[[], Coroutine[Any, Any, CapacityRun]]:
    """Closed-loop short polls: the profile's poll URL on the user's app, the room's head on
    the reference server and the bare app."""
    spec = config.profile.short_poll
    if app_name == "app" and spec is not None:
        return lambda: token_poll_capacity(
            url, spec, config.pollers, config.duration_s, config.warmup_s, config.interval_s
        )
    # The bare app stores nothing: its polls ask at cursor 0 of an unseeded room.
    seed = 10 if app_name == "reference" else 0
    return lambda: poll_capacity(
        url, config.pollers, config.duration_s, config.warmup_s, seed, config.interval_s
    )


def _flavor(config: ServerBenchConfig, app_name: str) -> dict[str, str]:
    """The reference app's flavor, as its scenarios' params record it; the bare app has none."""
    return {"flavor": config.server.flavor} if app_name == "reference" else {}


def _tls(config: ServerBenchConfig) -> dict[str, bool]:
    """``{"tls": True}`` for scenarios measured over TLS; nothing for plain TCP (as before)."""
    return {"tls": True} if config.server.tls else {}


def _profile(config: ServerBenchConfig, app_name: str) -> dict[str, str]:
    """The user's app's profile, as its scenarios' params record it."""
    return {"profile": config.profile.name} if app_name == "app" else {}


def _best(runs: list[Measured]) -> Measured:
    # On a shared machine other load only ever slows a run down: the fastest round is the one
    # least disturbed, for either app.
    return max(runs, key=lambda measured: measured[0].per_s)


def _echo_factory(
    config: ServerBenchConfig, app_name: str, ws_url: str
) -> Callable[[], Coroutine[Any, Any, CapacityRun]]:
    """The echo run for one app: frame counting on the reference path (its speed unchanged),
    token echo for a profile's app and for the bare floor it is compared with."""
    profile = config.profile
    if profile.reference:
        return lambda: echo_capacity(
            ws_url,
            config.connections,
            config.payload_bytes,
            config.duration_s,
            config.warmup_s,
            config.interval_s,
        )
    if app_name == BARE:
        path, frame = "/ws", profile.echo.frame if profile.echo is not None else _BARE_FRAME
    else:
        assert profile.echo is not None  # the echo phase is skipped without it
        path, frame = profile.echo.path, profile.echo.frame
    return lambda: token_echo_capacity(
        ws_url,
        path,
        frame,
        config.connections,
        config.payload_bytes,
        config.duration_s,
        config.warmup_s,
        config.reply_timeout_s,
        config.interval_s,
    )


def _fanout_factory(
    config: ServerBenchConfig, ws_url: str
) -> Callable[[], Coroutine[Any, Any, CapacityRun]]:
    profile = config.profile
    if profile.reference:
        return lambda: fanout_capacity(
            ws_url,
            config.subscribers,
            config.payload_bytes,
            config.duration_s,
            config.warmup_s,
            interval_s=config.interval_s,
        )
    # The fan-out phase is skipped without ws; the profile's validator gives ws a publish.
    assert profile.ws is not None
    assert profile.publish is not None
    ws_path, publish = profile.ws.path, profile.publish
    return lambda: token_fanout_capacity(
        ws_url,
        ws_path,
        publish,
        config.subscribers,
        config.payload_bytes,
        config.duration_s,
        config.warmup_s,
        interval_s=config.interval_s,
    )


def _idle_path(config: ServerBenchConfig, app_name: str) -> str | Callable[[int], str]:
    """Where idle sockets wait: the bare app's echo, the reference's room, or a profile's ws
    (else echo) path, numbered per socket for its ``{client}``."""
    profile = config.profile
    if app_name == BARE:
        return "/ws"
    room = f"idle-{uuid.uuid4().hex[:8]}"
    if profile.reference:
        return f"/ws/rooms/{room}"
    spec = profile.ws or profile.echo
    assert spec is not None  # the idle phase is skipped without either
    template = spec.path
    return lambda n: fill(template, {"room": room, "client": str(n + 1)})


def _measure_impl(
    config: ServerBenchConfig,
    servers: dict[str, ServerProcess],
    impl: str,
    progress: RunProgress,
) -> list[Scenario]:
    """``repeat`` rounds of echo on each app (alternating which goes first) and of fan-out, the
    best round of each kept; then the idle memory of each app. Phases the measured app does
    not offer run on neither app but the bare floor's echo."""
    skipped = skipped_phases(config.profile)
    main = config.main
    echo_apps = [name for name in servers if name == BARE or "echo" not in skipped]
    echo_runs: dict[str, list[Measured]] = {name: [] for name in echo_apps}
    fanout_runs: list[Measured] = []
    measured_app = servers[main]
    for round_index in range(config.repeat):
        rounds = f"round {round_index + 1}/{config.repeat}"
        order = echo_apps if round_index % 2 == 0 else list(reversed(echo_apps))
        for app_name in order:
            progress.phase_started(
                f"{impl} / {app_name}: echo, {config.connections} connections, {rounds}"
            )
            factory = _echo_factory(config, app_name, servers[app_name].ws_url)
            echo_runs[app_name].append(
                measure_capacity(servers[app_name], factory, config.interval_s)
            )
        if "fanout" not in skipped:
            progress.phase_started(f"{impl}: fan-out to {config.subscribers} subscribers, {rounds}")
            fanout_runs.append(
                measure_capacity(
                    measured_app, _fanout_factory(config, measured_app.ws_url), config.interval_s
                )
            )
    # Idle memory, once per app: room subscribers on the reference server (reported with its
    # fan-out), plain echo sockets on the bare app (the floor: what uvicorn itself holds).
    idle: dict[str, dict[str, int]] = {}
    if config.idle_connections:
        for app_name, server in servers.items():
            if app_name != BARE and "idle" in skipped:
                continue
            path = _idle_path(config, app_name)
            shown = path if isinstance(path, str) else path(0)
            progress.phase_started(
                f"{impl} / {app_name}: {config.idle_connections} idle sockets on {shown}"
            )
            per_connection = _idle_rss_per_connection(server, config.idle_connections, path)
            idle[app_name] = {
                "idle_connections": config.idle_connections,
                "idle_rss_bytes_per_connection": round(per_connection),
            }
    base: dict[str, Any] = {
        "server": config.server.server,
        "loop": loop_in_use(config.server),
        "ws_impl": impl,
        "payload_bytes": config.payload_bytes,
        "ws_per_message_deflate": config.server.ws_per_message_deflate,
        **_tls(config),
    }
    # The measured app's idle figure goes with its fan-out, else (no fan-out) with its echo.
    idle_with = main if fanout_runs else f"echo/{main}"
    measured: list[Scenario] = []
    for app_name, runs in echo_runs.items():
        params = {
            **base,
            "app": app_name,
            **_flavor(config, app_name),
            **_profile(config, app_name),
            "connections": config.connections,
            "rounds": len(runs),
            "round_trips_per_s_by_round": [round(r[0].per_s) for r in runs],
            **(
                idle.get(app_name, {})
                if app_name == BARE or idle_with == f"echo/{app_name}"
                else {}
            ),
        }
        run, usage, gen = _best(runs)
        measured.append(
            capacity_scenario(f"echo/{impl}/{app_name}", Transport.ECHO, params, run, usage, gen)
        )
    if fanout_runs:
        fanout_params = {
            **base,
            "app": main,
            **_flavor(config, main),
            **_profile(config, main),
            "subscribers": config.subscribers,
            "rounds": len(fanout_runs),
            "deliveries_per_s_by_round": [round(r[0].per_s) for r in fanout_runs],
            **idle.get(main, {}),
        }
        run, usage, gen = _best(fanout_runs)
        measured.append(
            capacity_scenario(f"fanout/{impl}", Transport.WS, fanout_params, run, usage, gen)
        )
    return measured
