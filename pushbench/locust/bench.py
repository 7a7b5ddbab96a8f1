"""``python -m pushbench.locust.bench``: the figures the README quotes, reproducible.

- ``echo``: round trips per second of one Locust process on ``/ws`` (server and Locust pinned
  to different CPUs by ``python -m pushbench.locust``), repeated; the best run counts, because other
  load on the machine only ever makes a run slower.
- ``capacity``: how many concurrent WebSocket subscribers one Locust process holds, with a
  publisher pushing to all of them (push latency and loss show when it stops coping).
- ``overhead``: what recording one latency costs, against pushbench's histogram and Locust's
  own request event.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _run(
    users: int, duration_s: float, out: Path, locust_args: list[str], ws_impl: str = "auto"
) -> Path:
    command = [
        sys.executable, "-m", "pushbench.locust", "--users", str(users), "--spawn-rate", str(users),
        "--duration", f"{duration_s:g}s", "--out", str(out), "--ws-impl", ws_impl,
        "--", "--only-summary", *locust_args,
    ]  # fmt: skip
    subprocess.run(command, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (out / "latest").resolve()


def _scenario(run_dir: Path, name: str) -> dict[str, Any]:
    document = json.loads((run_dir / "results.json").read_text())
    for scenario in document["scenarios"]:
        if scenario["name"] == name:
            return {"document": document, **scenario}
    raise SystemExit(f"{run_dir}: no {name!r} scenario (see {run_dir}/locust.html)")


def _locust_rows(run_dir: Path) -> dict[str, dict[str, str]]:
    with (run_dir / "locust_stats.csv").open() as file:
        return {f"{row['Type']} {row['Name']}": row for row in csv.DictReader(file)}


def echo(users: int, duration_s: float, repeat: int, out: Path, ws_impl: str) -> None:
    """Echo round trips per second per Locust process, best of ``repeat``."""
    rates = []
    for index in range(repeat):
        locust_args = ["WebSocketEchoUser", "--echo-rate", "0"]
        run_dir = _run(users, duration_s, out, locust_args, ws_impl)
        scenario = _scenario(run_dir, "echo")
        rate = scenario["throughput_msgs_per_s"]
        rates.append(rate)
        generator = scenario["generator"]
        server = scenario["server"] or {}
        count = scenario["delivered"]
        locust_rate = float(_locust_rows(run_dir)["WS echo"]["Requests/s"])
        print(
            f"run {index + 1}/{repeat}: {rate:,.0f} round trips/s "
            f"(Locust's count: {locust_rate:,.0f}/s), p50 {scenario['latency_us']['p50']} µs, "
            f"p99 {scenario['latency_us']['p99']} µs; Locust {generator['cpu_percent']:.0f}% CPU "
            f"= {generator['cpu_s'] * 1e6 / count:.1f} µs per round trip; server "
            f"{server.get('cpu_s', 0) * 1e6 / count:.1f} µs per round trip  [{run_dir}]",
            flush=True,
        )
    print(f"best {max(rates):,.0f}/s, median {statistics.median(rates):,.0f}/s ({users} users)")


def capacity(users: int, duration_s: float, rate: float, out: Path) -> None:
    """Concurrent WebSocket subscribers one Locust process holds, one publisher feeding them."""
    run_dir = _run(
        users,
        duration_s,
        out,
        ["WebSocketSubscriberUser", "RoomPublisherUser", "--publish-rate", f"{rate:g}"],
    )
    scenario = _scenario(run_dir, "ws")
    document = scenario["document"]
    rows = _locust_rows(run_dir)
    connects = rows.get("WS connect /ws/rooms/[room]", {})
    locust = document["config"].get("locust_processes", {})
    latency = scenario["latency_us"]
    server = scenario["server"] or {}
    server_percent = 100 * server.get("cpu_s", 0.0) / scenario["params"]["duration_s"]
    print(
        f"{scenario['params']['users']} subscribers started, "
        f"{connects.get('Request Count', '?')} connects ({connects.get('Failure Count', '?')} "
        f"failed); {scenario['delivered']:,}/{scenario['sent']:,} deliveries "
        f"({scenario['lost']} lost) = {scenario['throughput_msgs_per_s']:,.0f}/s; push latency "
        f"p50 {latency['p50'] / 1000:.1f} ms, p99 {latency['p99'] / 1000:.1f} ms; Locust "
        f"{scenario['generator']['cpu_percent']:.0f}% CPU, RSS peak "
        f"{locust.get('rss_peak_bytes', 0) / 2**20:.0f} MiB; server {server_percent:.0f}% CPU, "
        f"RSS peak {server.get('rss_peak_bytes', 0) / 2**20:.0f} MiB  [{run_dir}]"
    )


def _per_call_ns(function: Callable[[int], None], calls: int) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter_ns()
        for index in range(calls):
            function(index)
        best = min(best, (time.perf_counter_ns() - start) / calls)
    return best


def overhead(calls: int) -> None:
    """ns per call: recording a latency (pushbench's way and the naive way), Locust's event."""
    from pushbench.core.histogram import LatencyHistogram
    from pushbench.locust.recording import LatencyCounts

    counts, histogram = LatencyCounts(), LatencyHistogram()
    values = [250_000 + (index * 7919) % 200_000 for index in range(calls)]
    # One report's worth (Locust reports every 3 s): the fold spreads them over 3 intervals.
    scheduled = [index * 3_000_000_000 // calls for index in range(calls)]
    add = _per_call_ns(lambda i: counts.add_ns(values[i], scheduled[i]), calls)
    start = time.perf_counter_ns()
    folded = counts.take()
    fold = (time.perf_counter_ns() - start) / folded.whole.count
    record = _per_call_ns(lambda i: histogram.record_ns(values[i]), calls)
    # Locust is imported last: it monkey-patches this process with gevent.
    from locust import User
    from locust.env import Environment

    environment = Environment(user_classes=[User])
    environment.create_local_runner()
    fire: Callable[..., None] = environment.events.request.fire
    context: dict[str, Any] = {}

    def event(index: int) -> None:
        fire(
            request_type="WS",
            name="echo",
            response_time=0.25,
            response_length=80,
            exception=None,
            context=context,
        )

    locust_event = _per_call_ns(event, calls)
    print(f"LatencyCounts.add_ns (what users call)        {add:7.0f} ns per sample")
    print(f"  + fold into the histogram at report time     {fold:7.1f} ns per sample")
    print(f"LatencyHistogram.record_ns (per sample)        {record:7.0f} ns per sample")
    print(f"Locust events.request.fire (Locust's stats)    {locust_event:7.0f} ns per event")


def main(argv: Sequence[str] | None = None) -> None:
    """Command line entry."""
    parser = argparse.ArgumentParser(prog="python -m pushbench.locust.bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    echo_parser = commands.add_parser("echo", help="round trips/s per Locust process")
    echo_parser.add_argument("--users", type=int, default=50)
    echo_parser.add_argument("--duration", type=float, default=20.0, help="seconds per run")
    echo_parser.add_argument("--repeat", type=int, default=3)
    echo_parser.add_argument("--ws-impl", default="auto", help="the server's uvicorn --ws")
    capacity_parser = commands.add_parser("capacity", help="concurrent WebSocket users")
    capacity_parser.add_argument("--users", type=int, default=5000)
    capacity_parser.add_argument("--duration", type=float, default=30.0)
    capacity_parser.add_argument("--rate", type=float, default=1.0, help="messages/s pushed")
    overhead_parser = commands.add_parser("overhead", help="cost of recording one latency")
    overhead_parser.add_argument("--calls", type=int, default=200_000)
    for sub in (echo_parser, capacity_parser):
        sub.add_argument("--out", type=Path, help="keep the runs here (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.command == "overhead":
        overhead(args.calls)
        return
    with tempfile.TemporaryDirectory(prefix="pushbench-bench-") as scratch:
        out = args.out or Path(scratch)
        if args.command == "echo":
            echo(args.users, args.duration, args.repeat, out, args.ws_impl)
        else:
            capacity(args.users, args.duration, args.rate, out)


if __name__ == "__main__":  # pragma: no cover
    main()
