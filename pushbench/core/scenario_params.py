"""The typed view of a scenario's ``params``: the keys pushbench reads back, with their types.

``Scenario.params`` stays a JSON object in ``results.json``, exactly as each command writes it
(keys in the writer's order, commands free to record more): a typed model there would reorder the
keys on output and refuse what an older or newer writer added. Readers go through
:class:`ScenarioParams` instead (``Scenario.typed_params``): one declaration of each key's name
and type, rather than ``params.get("workload")`` and an ``isinstance`` check at every reader.

The schema validates ``params`` against this model when a document is built or loaded, so a key
pushbench reads that holds the wrong type (``"workers": "2"``) is refused like any other
malformed field, not skipped by one reader and misread by the next. Keys missing are ``None``;
keys not declared here are kept (``extra="allow"``) and reachable through ``model_extra``.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

from pushbench.core.kinds import Workload

__all__ = ["MEASURED_PARAMS", "ScenarioParams"]

#: Params that record what the run measured about the harness itself, not the load asked for:
#: two runs of the same load differ in them, so comparisons of loads (the gate's "params differ"
#: note) leave them out.
MEASURED_PARAMS: Final = frozenset(
    {
        "generator_max_loop_lag_ms",
        "publisher_max_schedule_lag_ms",
        "publisher_lateness_p50_us",
        "publisher_lateness_p99_us",
    }
)


class ScenarioParams(BaseModel):
    """What a scenario ran with; every field is optional because each kind of run records its own
    subset (``compare``: the load; ``sweep``: the server configuration and workload too;
    ``micro``: the benchmark's figures)."""

    # strict like the schema (a results file is written by our own code): no "2" for 2, no true
    # for 1. Ints pass for floats (JSON has one number type, and 10 is a valid duration).
    model_config = ConfigDict(frozen=True, extra="allow", strict=True)

    # --- the load (compare, sweep push, locust) ---
    rate_per_s: float | None = None
    """Messages per second the publishers' open-loop schedule sends, all publishers together."""
    publishers: int | None = None
    subscribers: int | None = None
    payload_bytes: int | None = None
    duration_s: float | None = None
    """Measured seconds (after the warm-up)."""
    warmup_s: float | None = None
    poll_interval_s: float | None = None
    """Short polling only: seconds between one client's polls."""
    rooms: int | None = None
    """Rooms the subscribers and publishers were spread over; None: one (fan-out is the
    subscriber count)."""

    # --- the server configuration (sweep; serverbench records some) ---
    workload: Annotated[Workload, Field(strict=False)] | None = None
    """Sweep and serverbench: which workload (the enum's string in the file)."""
    workers: int | None = None
    loop: str | None = None
    ws_impl: str | None = None
    http_impl: str | None = None
    broker: str | None = None
    """``memory`` or ``redis``."""
    flavor: str | None = None
    """The reference server's flavor (``asgi``, ``fastapi``); None: not known or not recorded."""
    tls: bool | None = None
    """Whether the clients spoke TLS (https://, wss://); None: not recorded (plain TCP, or a
    document written before TLS was measured)."""
    server: str | None = None
    """The ASGI server (``uvicorn``, ``granian``, ``hypercorn``); None: not recorded (uvicorn,
    in runs from before ``--server``)."""
    ws_per_message_deflate: bool | None = None
    """Whether the WebSocket clients and the server compressed with permessage-deflate
    (``--ws-per-message-deflate``); None: not recorded (uncompressed, in runs from before)."""
    payload_kind: str | None = None
    """What the publishers' payloads held (``--payload``: ``text``, compressible, or
    ``random``); None: not recorded (``text``, in runs from before)."""
    connections_per_worker: list[int] | None = None
    """Sweep push: open connections per worker process, busiest first."""

    # --- serverbench idle memory ---
    idle_connections: int | None = None
    idle_rss_bytes_per_connection: float | None = None

    # --- micro-benchmarks (pytest-benchmark) ---
    benchmark: str | None = None
    """The benchmark's name, e.g. ``test_envelope_encode[64B-orjson]``."""
    group: str | None = None
    mean_ns: float | None = None
    """Mean time of one benchmarked call."""
