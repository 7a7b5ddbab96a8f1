"""``python -m pushbench.locust``: a headless Locust run against a fresh reference server, then
the report.

What ``make loadtest`` and ``make swarm`` run. It starts the reference server (unless
``--target``), pins it and Locust to different CPUs when there are two or more, runs ``locust``
headless as a subprocess (``--processes N`` for a swarm on this machine), samples the server's
CPU and memory meanwhile, and leaves everything in ``reports/<run-id>/``: Locust's CSV and HTML,
pushbench's ``results.json`` (exact merged percentiles and intervals, written by the Locust
master, with the server's samples placed on the intervals here), the interval logs and the
rendered report. Ctrl-C stops the run early and keeps what was measured.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil
import typer

from pushbench.cli.options import Target, target
from pushbench.core.intervals import DEFAULT_INTERVAL_S, IntervalGrid, server_per_interval
from pushbench.core.schema import (
    IntervalServer,
    ResultsDocument,
    Scenario,
    SchemaError,
    load_results,
    write_results_atomic,
)
from pushbench.core.server_config import FLAVORS, REFERENCE_APP, WS_IMPLS, ServerConfig
from pushbench.gate.config import find_pyproject
from pushbench.harness.launcher import ServerProcess, ServerStartError
from pushbench.harness.resources import TreeSampler, TreeUsage
from pushbench.harness.run_dir import new_run_dir, new_run_id
from pushbench.harness.server_cost import server_cost
from pushbench.locust.aggregate import INTERVALS_ORIGIN_KEY
from pushbench.locust.options import MIN_INTERVAL_S
from pushbench.locust.results import write_report_if_available
from pushbench.workloads import sampler_for

__all__ = [
    "add_server_intervals",
    "build_locust_command",
    "cpu_plan",
    "main",
    "parse_args",
    "profile_argument",
]

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
#: Seconds the server gets to exit on SIGTERM before it is killed, once the run is over.
SERVER_STOP_TIMEOUT_S = 3.0


def parse_args(argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    """The runner's options, and everything after ``--`` (passed to ``locust`` unchanged)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        index = argv.index("--")
        argv, extra = argv[:index], argv[index + 1 :]
    parser = argparse.ArgumentParser(
        prog="python -m pushbench.locust",
        description="Headless Locust run of pushbench's users, with the report.",
        epilog="Anything after -- goes to locust, e.g. -- --publish-rate 50 WebSocketEchoUser",
    )
    parser.add_argument("--users", type=int, default=50, help="Locust -u (default 50).")
    parser.add_argument("--spawn-rate", type=float, default=10.0, help="Locust -r (default 10).")
    parser.add_argument("--duration", default="30s", help="Locust -t, e.g. 30s, 5m (default 30s).")
    parser.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL_S,
        help="Seconds per interval of the over-time figures (default 1; Locust's --interval).",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=0,
        help="Locust worker processes, as Locust's own --processes (0: one process).",
    )
    # `--workers` means uvicorn workers in every other pushbench command; it meant Locust
    # processes here before. Refused rather than reinterpreted, so an old command line fails
    # loudly instead of measuring something else.
    parser.add_argument("--workers", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--target", help="Test this server (http:// or https://HOST:PORT) instead of ours."
    )
    parser.add_argument("--out", type=Path, default=Path("reports"), help="Reports directory.")
    parser.add_argument("--ws-impl", choices=WS_IMPLS, default="auto", help="uvicorn --ws.")
    parser.add_argument(
        "--flavor",
        choices=FLAVORS,
        help="Reference server flavor (default asgi); with --target, the one it serves.",
    )
    parser.add_argument(
        "--no-pin", action="store_true", help="Do not pin the server and Locust to CPUs."
    )
    parser.add_argument(
        "--app",
        metavar="MODULE:ATTR",
        help="Your ASGI app (uvicorn's import form) instead of the reference server, driven "
        "as --profile says.",
    )
    parser.add_argument("--app-dir", help="Where --app's module is imported from.")
    parser.add_argument(
        "--factory", action="store_true", help="--app names a callable returning the app."
    )
    parser.add_argument(
        "--profile",
        metavar="NAME|FILE|MODULE:CLASS",
        help="How to drive the app: reference, tutorial, fastapi-docs-chat, a TOML file, or a "
        "Python adapter (default: reference; with --app, [tool.pushbench.target] of the "
        "nearest pyproject.toml). Users whose transport it lacks are left out.",
    )
    args = parser.parse_args(argv)
    if args.flavor is not None and (args.app is not None or args.profile is not None):
        parser.error(
            "--flavor chooses how the reference server serves; your app (--app/--profile) "
            "serves its own way"
        )
    if args.workers is not None:
        parser.error(
            f"--workers {args.workers}: Locust worker processes are --processes "
            f"{args.workers} (as in Locust); --workers means uvicorn workers in pushbench, "
            "and this runner's reference server runs one"
        )
    if not args.interval >= MIN_INTERVAL_S:
        parser.error(f"--interval must be >= {MIN_INTERVAL_S} s, not {args.interval:g}")
    if args.users < 1 or args.processes < 0 or args.spawn_rate <= 0:
        parser.error("--users must be >= 1, --processes >= 0, --spawn-rate > 0")
    return args, extra


def cpu_plan(allowed: set[int], pin: bool) -> tuple[list[int] | None, list[int] | None]:
    """(server CPUs, Locust CPUs): the first CPU for the server, the rest for Locust.

    One CPU for the server matches its single uvicorn worker; Locust gets every other one
    (its worker processes spread over them). None, None with fewer than two CPUs or no pinning.
    """
    cpus = sorted(allowed)
    if not pin or len(cpus) < 2:
        return None, None
    return cpus[:1], cpus[1:]


def profile_argument(args: argparse.Namespace) -> str | None:
    """What Locust's ``--pushbench-profile`` gets: the one given, else (with ``--app``) the nearest
    ``pyproject.toml``, whose ``[tool.pushbench.target]`` the runner has checked already."""
    profile, app = getattr(args, "profile", None), getattr(args, "app", None)
    if profile is not None:
        return str(profile)
    if app is None:
        return None
    found = find_pyproject(Path.cwd())
    return str(found) if found is not None else None


def build_locust_command(
    args: argparse.Namespace, host: str, run_dir: Path, room: str, extra: Sequence[str]
) -> list[str]:
    """The ``locust`` command line of the run."""
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "-u",
        str(args.users),
        "-r",
        f"{args.spawn_rate:g}",
        "-t",
        args.duration,
        "--host",
        host,
        "--csv",
        str(run_dir / "locust"),
        "--html",
        str(run_dir / "locust.html"),
        "--room",
        room,
        "--pushbench-run-dir",
        str(run_dir),
        "--pushbench-no-report",
        "--interval",
        f"{args.interval:g}",
    ]
    if args.processes:
        command += ["--processes", str(args.processes)]
    profile = profile_argument(args)
    if profile is not None:
        command += ["--pushbench-profile", profile]
    return command + list(extra)


def add_server_usage(
    document: ResultsDocument, usage: TreeUsage, server: dict[str, Any]
) -> ResultsDocument:
    """Record what the server spent: per scenario when there is one, else for the whole mix.

    Several scenarios share one server in a Locust mix, so its CPU cannot be split between
    them: it goes into ``config["server"]["usage"]`` and each scenario keeps ``server: None``.
    """
    cost = server_cost(usage, None)
    config = {**document.config, "server": {**server, "usage": cost.model_dump()}}
    update: dict[str, Any] = {"config": config}
    if len(document.scenarios) == 1:
        scenario = document.scenarios[0]
        update["scenarios"] = [
            scenario.model_copy(update={"server": server_cost(usage, scenario.delivered)})
        ]
    return document.model_copy(update=update)


def add_server_intervals(document: ResultsDocument, usage: TreeUsage) -> ResultsDocument:
    """The server's CPU %, RSS and connections per interval, from the runner's samples.

    One server serves every scenario of the mix, so each scenario's interval carries the
    whole server's figures over it (as the mix's CPU goes into ``config``, not one scenario).
    The master recorded where the intervals start on the same ``CLOCK_MONOTONIC`` the sampler
    reads (``config["intervals_origin_monotonic_ns"]``).
    """
    origin_ns = document.config.get(INTERVALS_ORIGIN_KEY)
    if not isinstance(origin_ns, int):
        return document
    return document.model_copy(
        update={"scenarios": [_with_server(s, origin_ns, usage) for s in document.scenarios]}
    )


def _with_server(scenario: Scenario, origin_ns: int, usage: TreeUsage) -> Scenario:
    if not scenario.intervals or scenario.interval_s is None:
        return scenario
    last = scenario.intervals[-1]
    end_ns = origin_ns + round((last.start_s + last.duration_s) * 1e9)
    grid = IntervalGrid(origin_ns, end_ns, round(scenario.interval_s * 1e9))
    servers = server_per_interval(grid, usage.timeline)
    intervals = [
        interval
        if server is None
        else interval.model_copy(
            update={
                "server": IntervalServer(
                    cpu_percent=round(server.cpu_percent, 2),
                    rss_bytes=server.rss_bytes,
                    connections=server.connections,
                )
            }
        )
        for interval, server in zip(scenario.intervals, servers, strict=True)
    ]
    return scenario.model_copy(update={"intervals": intervals})


def add_flavor(document: ResultsDocument, flavor: str | None) -> ResultsDocument:
    """Every scenario's params say which flavor of the reference server it loaded (None: not
    known, a --target nobody said the flavor of), as compare's do."""
    if flavor is None:
        return document
    scenarios = [
        s.model_copy(update={"params": {**s.params, "flavor": flavor}}) for s in document.scenarios
    ]
    return document.model_copy(update={"scenarios": scenarios})


def _pin(pid: int, cpus: list[int] | None) -> None:
    if cpus:
        with contextlib.suppress(psutil.Error, OSError):
            psutil.Process(pid).cpu_affinity(cpus)


def _locust_env(app_dir: str | None) -> dict[str, str] | None:
    # A Python adapter (--profile MODULE:CLASS) is imported by Locust's own processes: from the
    # working directory (python -m puts it first on sys.path) and --app-dir, as the app is.
    if app_dir is None:
        return None
    paths = [os.path.abspath(app_dir), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _run_locust(
    command: list[str], cpus: list[int] | None, env: dict[str, str] | None = None
) -> tuple[int, TreeUsage]:
    """Run Locust to its end; Ctrl-C lets it stop the test and write what it measured.

    Returns its exit code and what its processes (master and workers) used.
    """
    print("$ " + " ".join(command), flush=True)
    # Its own session: signals reach Locust once, from here, never twice (the terminal's
    # Ctrl-C would otherwise hit it directly and again when forwarded).
    process = subprocess.Popen(command, start_new_session=True, env=env)
    # Pinned before locust has imported anything, so the workers it forks inherit the CPUs.
    _pin(process.pid, cpus)
    sampler = TreeSampler(process.pid, interval_s=0.5)
    sampler.start()
    try:
        code = _wait(process)
    finally:
        usage = sampler.stop()
    return code, usage


def _wait(process: subprocess.Popen[bytes]) -> int:
    interrupts = 0
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            interrupts += 1
            if interrupts == 1:
                print("\ninterrupted: Locust stops the test and writes its results", flush=True)
            # Once: Locust stops gracefully; again: it stops without waiting.
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGINT)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run, report, return Locust's exit code (or 2 when no results were written)."""
    args, extra = parse_args(argv)
    if importlib.util.find_spec("locust") is None:
        print("error: Locust is not installed (pip install 'pushbench[locust]')", file=sys.stderr)
        return 2
    # SIGTERM ends the run like Ctrl-C: Locust writes what it measured, the server is stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    chosen: Target | None = None
    if args.app is not None or args.profile is not None:
        try:  # before anything runs: a bad profile or an app that does not import, in one line
            chosen = target(
                args.app, args.app_dir, args.factory, args.profile, check=args.target is None
            )
        except typer.Exit as exc:
            return exc.exit_code
    run_id = new_run_id("locust")
    run_dir = new_run_dir(args.out, run_id)
    server_cpus, locust_cpus = cpu_plan(os.sched_getaffinity(0), not args.no_pin)
    server: ServerProcess | None = None
    sampler: TreeSampler | None = None
    server_info: dict[str, Any] = {"target": args.target, "flavor": args.flavor}
    host = args.target
    try:
        if host is None:
            flavor = args.flavor or "asgi"
            config = ServerConfig(ws_impl=args.ws_impl, flavor=flavor)
            if chosen is not None and chosen.app != REFERENCE_APP:
                # The user's app: no /healthz to wait for, ready at its first HTTP answer.
                config = ServerConfig(
                    ws_impl=args.ws_impl,
                    app=chosen.app,
                    app_dir=chosen.app_dir,
                    factory=chosen.factory,
                    health_path=None,
                )
            server = ServerProcess(config, run_dir / "server.log")
            server.start()
            host = server.url
            _pin(server.pid, server_cpus)
            # A few samples per interval, connections counted in each (as compare's).
            sampler = sampler_for(server.pid, args.interval)
            sampler.start()
            server_info = {
                "ws_impl": args.ws_impl,
                "flavor": flavor if config.app == REFERENCE_APP else None,
                "workers": 1,
                "cpus": server_cpus,
            }
            if config.app != REFERENCE_APP:
                server_info["app"] = config.app
        command = build_locust_command(args, host, run_dir, f"locust-{run_id}", extra)
        code, locust_usage = _run_locust(command, locust_cpus, _locust_env(args.app_dir))
        usage = sampler.stop() if sampler is not None else None
        sampler = None
    except ServerStartError as exc:
        which = "the reference server" if chosen is None or chosen.reference else args.app
        print(f"error: {which} did not start:\n{exc}", file=sys.stderr)
        return 2
    finally:
        if sampler is not None:
            sampler.stop()
        if server is not None:
            # Long polls still parked on the server (up to --long-poll-wait) hold uvicorn's
            # graceful shutdown although their clients are gone: measuring is over, do not
            # wait for them.
            server.stop(timeout_s=SERVER_STOP_TIMEOUT_S)
    generator = {
        "cpus": locust_cpus,
        "cpu_s": round(locust_usage.cpu_s, 3),
        "rss_peak_bytes": locust_usage.rss_peak_bytes,
        "processes": len(locust_usage.processes),
    }
    return _finish(run_dir, usage, server_info, generator, code)


def _finish(
    run_dir: Path,
    usage: TreeUsage | None,
    server: dict[str, Any],
    generator: dict[str, Any],
    code: int,
) -> int:
    results = run_dir / "results.json"
    try:
        document = load_results(results)
    except (OSError, SchemaError) as exc:
        print(f"error: Locust wrote no usable {results} ({exc})", file=sys.stderr)
        return code or 2
    if usage is not None:
        document = add_server_intervals(add_server_usage(document, usage, server), usage)
    else:  # --target: the server is not ours to sample, but say what it was
        document = document.model_copy(update={"config": {**document.config, "server": server}})
    document = add_flavor(document, server.get("flavor"))
    # Master included, sampled from outside: the per-scenario generator figures come from
    # the workers themselves and leave the master out.
    document = document.model_copy(
        update={"config": {**document.config, "locust_processes": generator}}
    )
    write_results_atomic(document, results)
    write_report_if_available(document, run_dir)
    print(f"pushbench: {run_dir}/ (results.json, report.html, locust.html, locust_stats.csv)")
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
