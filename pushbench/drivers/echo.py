"""Closed-loop echo over ``/ws``: round-trip latency and round trips per second.

Each connection sends one message, waits for its echo, and sends the next. Used to calibrate the
harness (``/ws?delay_ms=D`` must come back as D) and to measure the server's echo capacity. A
round trip counts in the interval its message was sent in (:mod:`pushbench.core.closed_loop`).
"""

from __future__ import annotations

import asyncio
import time
from array import array
from dataclasses import dataclass

from websockets.asyncio.client import connect

from pushbench.core.closed_loop import closed_loop_series
from pushbench.core.histogram import LatencyHistogram
from pushbench.core.intervals import DEFAULT_INTERVAL_S, IntervalGrid, IntervalSeries
from pushbench.drivers.recorder import now_ns
from pushbench.harness.client_auth import auth_headers
from pushbench.harness.client_deflate import websockets_compression
from pushbench.harness.client_tls import client_ssl

__all__ = ["EchoRun", "run_echo"]


@dataclass(slots=True)
class EchoRun:
    """Round trips measured after the warm-up."""

    histogram: LatencyHistogram
    round_trips: int
    duration_s: float
    errors: list[str]
    #: The measured window in intervals (of the planned window: the run may end sooner).
    intervals: IntervalSeries | None = None

    @property
    def round_trips_per_s(self) -> float:
        return self.round_trips / self.duration_s if self.duration_s > 0 else 0.0


async def run_echo(
    ws_base: str,
    connections: int = 50,
    duration_s: float = 5.0,
    warmup_s: float = 1.0,
    payload_bytes: int = 64,
    delay_ms: int = 0,
    max_round_trips: int | None = None,
    interval_s: float = DEFAULT_INTERVAL_S,
) -> EchoRun:
    """Echo on ``connections`` sockets for ``warmup_s + duration_s`` (or ``max_round_trips``)."""
    url = f"{ws_base}/ws" + (f"?delay_ms={delay_ms}" if delay_ms else "")
    payload = "x" * payload_bytes
    samples: array[int] = array("q")
    sent_at: array[int] = array("q")
    errors: list[str] = []
    start = now_ns()
    measure_from = start + round(warmup_s * 1e9)
    end = measure_from + round(duration_s * 1e9)
    budget = [max_round_trips if max_round_trips is not None else -1]

    async def one() -> None:
        async with connect(
            url,
            compression=websockets_compression(),
            ping_interval=None,
            max_size=None,
            additional_headers=auth_headers(),
            ssl=client_ssl(url),
        ) as ws:
            while True:
                sent = now_ns()
                if sent >= end or budget[0] == 0:
                    return
                budget[0] -= 1
                await ws.send(payload)
                await ws.recv()
                received = now_ns()
                if sent >= measure_from:
                    samples.append(received - sent)
                    sent_at.append(sent)

    results = await asyncio.gather(*(one() for _ in range(connections)), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            errors.append(f"{type(result).__name__}: {result}")
    measured_s = (min(now_ns(), end) - measure_from) / 1e9
    histogram = LatencyHistogram()
    histogram.record_all_ns(samples)
    grid = IntervalGrid(measure_from, end, round(interval_s * 1e9))
    epoch = time.time() - (now_ns() - measure_from) / 1e9
    series = closed_loop_series(grid, sent_at, samples, start_epoch_s=epoch)
    return EchoRun(histogram, len(samples), max(measured_s, 0.0), errors, series)
