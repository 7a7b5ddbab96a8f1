"""The kinds of things pushbench measures, each spelled once: transports and sweep workloads.

Every list of transports elsewhere (what ``compare`` runs, what ``plan`` prices, what a Locust
swarm reports, which asyncio subscriber drives which transport) derives from :class:`Transport`,
so a transport added here shows up everywhere or fails a test that says where it is missing.

Both are :class:`~enum.StrEnum`: a member *is* its string (``Transport.WS == "ws"``, hashes as
``"ws"``, formats and serialises as ``"ws"``), so results files and command-line values keep
today's spellings and a ``dict`` keyed by members answers to plain strings read from JSON.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = [
    "POLLING_TRANSPORTS",
    "PUSH_TRANSPORTS",
    "SWARM_TRANSPORTS",
    "TRANSPORTS_WITHOUT_REQUESTS",
    "WORKLOADS",
    "Transport",
    "Workload",
]


class Transport(StrEnum):
    """How messages reach a client, as a results document's ``Scenario.transport`` names it."""

    WS = "ws"
    """WebSocket: the server pushes each message on an open socket."""
    SHORT_POLL = "short-poll"
    """HTTP requests at a fixed interval, answered at once (``poll_interval_s`` in params)."""
    LONG_POLL = "long-poll"
    """HTTP requests the server holds until a message exists."""
    SSE = "sse"
    """Server-Sent Events: one streamed HTTP response per client."""
    ECHO = "echo"
    """WebSocket round trips (client sends, server echoes): capacity, not delivery to rooms."""
    MICRO = "micro"
    """A micro-benchmark that exercises no one transport (``kind: micro``)."""


#: The transports that deliver published messages to room subscribers, in the order ``compare``
#: runs them and ``plan`` tables them; each has an asyncio subscriber (``drivers.subscribers``).
PUSH_TRANSPORTS: Final = (Transport.WS, Transport.SHORT_POLL, Transport.LONG_POLL, Transport.SSE)
#: The transports whose clients make HTTP requests (one per poll): what a request costs is theirs.
POLLING_TRANSPORTS: Final = frozenset({Transport.SHORT_POLL, Transport.LONG_POLL})
#: What a Locust swarm measures and reports as scenarios: the push transports and echo.
SWARM_TRANSPORTS: Final = (*PUSH_TRANSPORTS, Transport.ECHO)
#: Transports whose traffic is WebSocket frames alone: ``http_requests`` is not theirs to count.
TRANSPORTS_WITHOUT_REQUESTS: Final = frozenset({Transport.WS, Transport.ECHO})


class Workload(StrEnum):
    """What a ``sweep`` scenario loaded the server with (``params.workload``)."""

    ECHO = "echo"
    """Closed-loop WebSocket echo at saturation (round trips per second)."""
    FANOUT = "fanout"
    """Room fan-out at saturation (deliveries per second)."""
    POLL = "poll"
    """Closed-loop short polling at saturation (requests per second)."""
    PUSH = "push"
    """WebSocket push at a fixed open-loop rate (latency)."""


#: Every workload, in the order a sweep runs them against each configuration.
WORKLOADS: Final = tuple(Workload)
