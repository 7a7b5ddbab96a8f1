"""The harness's own floor: what the generator adds to every latency it measures.

Two figures, measured by the generator process itself at the start of a run, on the CPU it will
load from:

- **receive-path floor**: round trips of 64 bytes through a trivial asyncio echo over loopback
  TCP in this process — no WebSocket, no framework, no server process: the event loop's wake-up,
  two syscalls each way and one callback. No latency the harness reports can be told apart from
  the server's below about this.
- **publisher lateness** (per scenario, :class:`~pushbench.drivers.publisher.PublishStats`): how
  far behind its schedule each message left.

The report prints both next to the latencies and marks a figure within 2× of the floor as at
the harness's resolution.
"""

from __future__ import annotations

import asyncio
from array import array
from dataclasses import dataclass

from pushbench.core.histogram import LatencyHistogram
from pushbench.drivers.recorder import now_ns

__all__ = ["FLOOR_ROUND_TRIPS", "Floor", "measure_floor"]

#: Round trips measured (after 50 unmeasured): ~20 ms on this 2-vCPU VM.
FLOOR_ROUND_TRIPS = 400
_PAYLOAD = b"x" * 64


@dataclass(frozen=True, slots=True)
class Floor:
    """The receive-path floor, in µs."""

    p50_us: float
    p99_us: float
    round_trips: int

    def as_dict(self) -> dict[str, float]:
        """As the results document records it (``config.harness_floor``)."""
        return {
            "echo_p50_us": self.p50_us,
            "echo_p99_us": self.p99_us,
            "round_trips": self.round_trips,
        }


class _Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._transport.write(data)  # type: ignore[attr-defined]


class _Client(asyncio.Protocol):
    def __init__(self) -> None:
        self.arrived: asyncio.Future[int] | None = None
        self._pending = 0

    def data_received(self, data: bytes) -> None:
        self._pending -= len(data)
        if self._pending <= 0 and self.arrived is not None and not self.arrived.done():
            self.arrived.set_result(now_ns())

    def expect(self, size: int) -> asyncio.Future[int]:
        self._pending = size
        self.arrived = asyncio.get_running_loop().create_future()
        return self.arrived


async def measure_floor(round_trips: int = FLOOR_ROUND_TRIPS) -> Floor:
    """Echo round trips through a trivial loopback server in this process (see the module)."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport, client = await loop.create_connection(_Client, "127.0.0.1", port)
    samples: array[int] = array("q")
    try:
        for index in range(50 + round_trips):
            arrived = client.expect(len(_PAYLOAD))
            sent = now_ns()
            transport.write(_PAYLOAD)
            received = await arrived
            if index >= 50:
                samples.append(received - sent)
    finally:
        transport.close()
        server.close()
        await server.wait_closed()
    histogram = LatencyHistogram()
    histogram.record_all_ns(samples)
    return Floor(histogram.percentile_us(50), histogram.percentile_us(99), len(samples))
