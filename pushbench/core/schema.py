"""The results document: one versioned JSON format for every kind of run.

Format history (bump ``SCHEMA_VERSION`` and add a line for every change a reader must know of;
keep ``tests/fixtures/results-v<N>.json`` for every version the loader still accepts):

- version 1 (2026-11): first version. Before its release: transport ``micro`` for a
  micro-benchmark that exercises no one transport (pytest-benchmark runs, ``kind: micro``);
  ``server.busiest_process_cpu_percent`` and ``server.saturated`` (optional: documents without
  them still load). Later in version 1: ``Scenario.publishes_attempted`` and
  ``Scenario.publishes_sent`` (optional, ``null`` when not counted: older documents still load).
  Later in version 1 (issue 15): ``environment.cpu_clocks`` (how server and generator CPU were
  read, and at which resolution) and ``framework_tax`` (per transport, server CPU under the
  ``asgi`` and ``fastapi`` flavors and their difference); both optional, older documents load.
  A scenario's ``params.flavor`` says which flavor of the reference server it measured.
  Later in version 1 (issue 16): the ``params`` keys pushbench reads back
  (:class:`~pushbench.core.scenario_params.ScenarioParams`) are checked for their type when a
  document loads; every pushbench before wrote them with these types, so older documents load.
- version 2 (2026-12, issue 18): a scenario may carry ``intervals`` (the measured window cut
  into ``interval_s`` slices, each with its counters, a latency summary with its HdrHistogram
  blob and the server's CPU %, RSS and connections) and ``intervals_started_at``. Version 1
  documents load unchanged (no intervals); a version 1 document that carries intervals is
  refused, since no pushbench ever wrote one.
  Later in version 2 (issue 20): ``tls_cost`` (per scenario measured both over plain TCP and over
  TLS in one run: server CPU per delivered message and per HTTP request, latency, and the
  difference) and ``tls_handshake`` (per flavor, one connection's setup over each); both
  optional, older documents load. A scenario's ``params.tls`` says which it measured.

Units are in the field names: ``_us`` microseconds, ``_s`` seconds, ``_bytes`` bytes. Latency
percentiles come from the HdrHistogram blob stored next to them, so reports can merge scenarios
or runs exactly instead of averaging percentiles.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from pushbench.core.atomic_write import write_atomic
from pushbench.core.histogram import LatencyHistogram
from pushbench.core.kinds import Transport
from pushbench.core.scenario_params import ScenarioParams

__all__ = [
    "SCHEMA_VERSION",
    "SUPPORTED_VERSIONS",
    "CpuClock",
    "CpuClocks",
    "Environment",
    "FrameworkTax",
    "GeneratorCost",
    "Interval",
    "IntervalServer",
    "Kind",
    "LatencySummary",
    "ProcessCost",
    "ResultsDocument",
    "Scenario",
    "SchemaError",
    "ServerCost",
    "TlsCost",
    "TlsHandshake",
    "dump_results",
    "latency_summary",
    "load_results",
    "write_results_atomic",
]

#: The version this code writes.
SCHEMA_VERSION: Final = 2
#: The versions :func:`load_results` reads.
SUPPORTED_VERSIONS: tuple[int, ...] = (1, 2)

Kind = Literal["compare", "sweep", "locust", "micro", "serverbench", "ramp"]
#: A transport field: the enum's value in JSON; from Python, a member or its string (``"ws"``).
TransportField = Annotated[Transport, Field(strict=False)]

Count = Annotated[int, Field(ge=0)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]


class SchemaError(ValueError):
    """A results document that cannot be read: bad JSON, unknown version, or wrong shape."""


class _Model(BaseModel):
    # strict: a results file is written by our own code, so "12" where 12 belongs is a bug to
    # report, not to coerce. JSON input still parses ISO datetimes in strict mode.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class LatencySummary(_Model):
    """Latency of the delivered messages, in µs, and the histogram it was read from."""

    p50: Count
    p90: Count
    p99: Count
    p999: Count
    max: Count
    mean: NonNegativeFloat
    count: Count
    histogram: str = Field(description="HdrHistogram V2 compressed base64 blob, values in µs.")

    def decode_histogram(self) -> LatencyHistogram:
        """The full histogram, e.g. to merge it with others."""
        return LatencyHistogram.decode(self.histogram)


class ProcessCost(_Model):
    """Resources of one server process (uvicorn supervisor or worker)."""

    pid: int
    role: str = Field(description='e.g. "supervisor", "worker"')
    cpu_s: NonNegativeFloat
    rss_peak_bytes: Count


class ServerCost(_Model):
    """What serving the scenario cost the whole server process tree."""

    cpu_s: NonNegativeFloat
    rss_peak_bytes: Count
    cpu_us_per_delivered_msg: NonNegativeFloat | None = Field(
        description="None when nothing was delivered."
    )
    processes: list[ProcessCost] = Field(default_factory=list)
    busiest_process_cpu_percent: NonNegativeFloat | None = Field(
        default=None,
        description="CPU of the busiest server process over the measured interval, in % of one "
        "core: a uvicorn worker runs its event loop on one core. None: not measured.",
    )
    saturated: bool = Field(
        default=False,
        description="A server process was at or above 90 % of a core: the throughput is the "
        "server's ceiling and latencies include its queueing, not the transport's cost alone.",
    )


class GeneratorCost(_Model):
    """What generating the load cost; a saturated generator makes latencies its own."""

    cpu_s: NonNegativeFloat
    cpu_percent: NonNegativeFloat = Field(description="Of one core; above 100 on several.")
    saturated: bool


class IntervalServer(_Model):
    """The server's process tree over one interval, sampled on the drivers' clock."""

    cpu_percent: NonNegativeFloat = Field(description="Of one core; above 100 on several.")
    rss_bytes: Count = Field(description="Peak of the samples in the interval.")
    connections: Count | None = Field(
        default=None,
        description="Peak established TCP connections of the tree; None: not counted.",
    )


class Interval(_Model):
    """One slice of the measured window; per-message figures by the message's scheduled time."""

    start_s: NonNegativeFloat = Field(description="From the measured window's start.")
    duration_s: Annotated[float, Field(gt=0.0)]
    sent: Count = Field(description="Deliveries owed for messages scheduled in the interval.")
    delivered: Count
    lost: Count = Field(description="Of those, never delivered: ``sent - delivered``.")
    http_requests: Count | None = Field(
        default=None, description="Requests made during the interval; None: no requests."
    )
    latency_us: LatencySummary = Field(
        description="Latency of the messages scheduled in the interval."
    )
    server: IntervalServer | None = Field(
        default=None, description="None when the server was not ours to sample."
    )

    @model_validator(mode="after")
    def _adds_up(self) -> Interval:
        if self.delivered + self.lost != self.sent:
            raise ValueError(f"delivered {self.delivered} + lost {self.lost} != sent {self.sent}")
        return self


class Scenario(_Model):
    """One transport under one load, and everything measured about it."""

    name: Annotated[str, Field(min_length=1)]
    transport: TransportField
    params: dict[str, Any] = Field(
        description="poll_interval_s, rate, publishers, subscribers, payload_bytes, duration_s... "
        "Read them through typed_params: the keys pushbench reads must hold their declared type."
    )
    latency_us: LatencySummary
    sent: Count = Field(
        description="Deliveries owed: messages sent x subscribers meant to get them."
    )
    delivered: Count
    lost: Count
    duplicated: Count
    reordered: Count
    unexpected: Count = Field(description="Received but never sent (unknown publisher or seq).")
    publishes_attempted: Count | None = Field(
        default=None,
        description="Messages the publishers' schedule tried to send. None: not counted (a run "
        "kind without publishers, or a document written before the field).",
    )
    publishes_sent: Count | None = Field(
        default=None,
        description="Of those, the ones written to the server without an error: ``sent`` and "
        "``lost`` count the deliveries of these alone, so the rest must be read here.",
    )
    throughput_msgs_per_s: NonNegativeFloat = Field(description="Delivered messages per second.")
    server: ServerCost | None = Field(description="None when the server was not ours to sample.")
    generator: GeneratorCost | None
    http_requests: Count | None = Field(description="None for transports without requests.")
    http_requests_per_delivered_msg: NonNegativeFloat | None
    errors: list[str] = Field(default_factory=list)
    # Left out of the JSON when absent, so a scenario without intervals reads as in version 1.
    interval_s: Annotated[float, Field(gt=0.0)] | None = Field(
        default=None,
        description="Width of ``intervals``; None: no intervals recorded.",
        exclude_if=lambda value: value is None,
    )
    intervals_started_at: AwareDatetime | None = Field(
        default=None,
        description="Wall-clock time of the first interval's start.",
        exclude_if=lambda value: value is None,
    )
    intervals: list[Interval] = Field(
        default_factory=list,
        description="The measured window over time (schema version 2); empty: not recorded.",
        exclude_if=lambda value: not value,
    )
    # Optional, later in version 2 (issue 20): left out of the JSON when absent.
    ws_bytes_per_delivery: NonNegativeFloat | None = Field(
        default=None,
        description="WebSocket bytes the subscribers received per delivered message, measured "
        "(their clients count the frames as they crossed the socket, after the handshake, "
        "before TLS; no TCP/IP headers), so permessage-deflate shows as it ran. None: not "
        "measured (not a ws scenario, or a document written before the field).",
        exclude_if=lambda value: value is None,
    )

    @field_validator("params")
    @classmethod
    def _params_typed(cls, params: dict[str, Any]) -> dict[str, Any]:
        """The params as written, once the keys :class:`ScenarioParams` declares type-check."""
        try:
            ScenarioParams.model_validate(params)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
                for error in exc.errors(include_url=False)
            )
            raise ValueError(f"params of the wrong type: {problems}") from None
        return params

    @property
    def typed_params(self) -> ScenarioParams:
        """``params`` through its typed view (validated on each read: ``model_copy`` may have
        replaced ``params`` without validation, so nothing derived from them is cached)."""
        return ScenarioParams.model_validate(self.params)

    @model_validator(mode="after")
    def _publishes_add_up(self) -> Scenario:
        attempted, sent = self.publishes_attempted, self.publishes_sent
        if (attempted is None) != (sent is None):
            raise ValueError("publishes_attempted and publishes_sent go together (or neither)")
        if attempted is not None and sent is not None and sent > attempted:
            raise ValueError(f"publishes_sent {sent} exceeds publishes_attempted {attempted}")
        return self

    @property
    def publishes_failed(self) -> int:
        """Publishes attempted but never sent (0 when not counted)."""
        if self.publishes_attempted is None or self.publishes_sent is None:
            return 0
        return self.publishes_attempted - self.publishes_sent


class CpuClock(_Model):
    """How one side's CPU time was read."""

    clock: str = Field(
        description='e.g. "clock_gettime" (per-process CPU-time clock), "psutil" (clock ticks).'
    )
    resolution_ns: Annotated[int, Field(ge=1)]


class CpuClocks(_Model):
    """How the server tree's and the load generator's CPU times were read."""

    server: CpuClock
    generator: CpuClock


class Environment(_Model):
    """Where the run happened (see ``pushbench.harness.environment.environment``)."""

    python: str = Field(description='Implementation and version, e.g. "CPython 3.11.9".')
    platform: str
    cpu_count: Annotated[int, Field(ge=1)] | None
    packages: dict[str, str] = Field(
        description="Distribution name -> version: every distribution the measuring process had "
        "imported, and the reference server's key ones (installed only)."
    )
    git_commit: str | None
    cpu_clocks: CpuClocks | None = Field(
        default=None, description="None: a document written before it was recorded."
    )
    cpu_model: str | None = Field(
        default=None, description="The CPU's model name; None: not known, or an older document."
    )
    lock_sha256: str | None = Field(
        default=None,
        description="sha256:<hex> of the checkout's requirements.lock; None: no lock file "
        "(an installed wheel), or an older document.",
    )


class FrameworkTax(_Model):
    """One scenario measured under both flavors of the reference server: the transport's floor
    (``asgi``), the idiomatic FastAPI cost, and their difference (the framework tax)."""

    scenario: Annotated[str, Field(min_length=1)] = Field(
        description='The scenario without its flavor, e.g. "ws", "short-poll@0.1".'
    )
    transport: TransportField
    asgi_scenario: str
    fastapi_scenario: str
    asgi_cpu_us_per_delivered_msg: NonNegativeFloat | None
    fastapi_cpu_us_per_delivered_msg: NonNegativeFloat | None
    tax_cpu_us_per_delivered_msg: float | None = Field(
        description="fastapi minus asgi (negative: fastapi was cheaper in this run)."
    )
    asgi_cpu_us_per_http_request: NonNegativeFloat | None = Field(
        description="None for transports without HTTP requests."
    )
    fastapi_cpu_us_per_http_request: NonNegativeFloat | None
    tax_cpu_us_per_http_request: float | None


class TlsCost(_Model):
    """One scenario measured over plain TCP and over TLS in the same run: what TLS costs per
    delivered message and per HTTP request (``tls`` minus ``plain``)."""

    scenario: Annotated[str, Field(min_length=1)] = Field(
        description='The plain scenario\'s name, e.g. "ws@asgi", "short-poll@0.1".'
    )
    transport: TransportField
    flavor: str | None
    plain_scenario: str
    tls_scenario: str
    plain_cpu_us_per_delivered_msg: NonNegativeFloat | None
    tls_cpu_us_per_delivered_msg: NonNegativeFloat | None
    extra_cpu_us_per_delivered_msg: float | None = Field(
        description="tls minus plain (negative: TLS was cheaper in this run: noise)."
    )
    plain_cpu_us_per_http_request: NonNegativeFloat | None = Field(
        description="None for transports without HTTP requests (ws, sse)."
    )
    tls_cpu_us_per_http_request: NonNegativeFloat | None
    extra_cpu_us_per_http_request: float | None
    plain_latency_p50_us: NonNegativeFloat
    tls_latency_p50_us: NonNegativeFloat
    plain_latency_p99_us: NonNegativeFloat
    tls_latency_p99_us: NonNegativeFloat


class TlsHandshake(_Model):
    """One connection's setup (connect, one ``GET``, close) over plain TCP and over TLS, on
    servers of one flavor: what the TLS handshake costs the server and the client's wait."""

    flavor: str | None
    connections: Annotated[int, Field(ge=1)] = Field(
        description="Connections opened over each (fewer if some failed: the smaller count)."
    )
    plain_connect_us_p50: NonNegativeFloat = Field(
        description="Client-side: TCP connect to the end of the response, median."
    )
    tls_connect_us_p50: NonNegativeFloat
    plain_connect_us_p99: NonNegativeFloat
    tls_connect_us_p99: NonNegativeFloat
    plain_server_cpu_us_per_connection: NonNegativeFloat
    tls_server_cpu_us_per_connection: NonNegativeFloat
    extra_server_cpu_us_per_connection: float = Field(description="tls minus plain.")


class ResultsDocument(_Model):
    """A whole run: environment, configuration and every scenario measured."""

    schema_version: Literal[1, 2] = SCHEMA_VERSION
    kind: Kind
    run_id: Annotated[str, Field(min_length=1)]
    started_at: AwareDatetime
    finished_at: AwareDatetime | None = None
    environment: Environment
    config: dict[str, Any]
    scenarios: list[Scenario]
    warnings: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    interrupted: bool = Field(default=False, description="Stopped early; results are partial.")
    framework_tax: list[FrameworkTax] = Field(
        default_factory=list,
        description="Per scenario measured under both flavors (compare runs); empty otherwise.",
    )
    tls_cost: list[TlsCost] = Field(
        default_factory=list,
        description="Per scenario measured plain and over TLS (compare --tls); empty otherwise.",
    )
    tls_handshake: list[TlsHandshake] = Field(
        default_factory=list,
        description="Per flavor, a connection's setup plain and over TLS (compare --tls).",
    )

    @model_validator(mode="after")
    def _intervals_need_version_2(self) -> ResultsDocument:
        if self.schema_version < 2 and any(s.intervals for s in self.scenarios):
            raise ValueError("intervals need schema_version 2")
        return self


def latency_summary(histogram: LatencyHistogram) -> LatencySummary:
    """The :class:`LatencySummary` of ``histogram``, its encoded blob included."""
    return LatencySummary(**histogram.summary(), histogram=histogram.encode())


def _supported() -> str:
    return ", ".join(str(v) for v in SUPPORTED_VERSIONS)


def load_results(source: str | bytes | os.PathLike[str]) -> ResultsDocument:
    """Read and validate a results document.

    Args:
        source: A path (``os.PathLike``, or a ``str`` not starting with ``{``), or the JSON
            text itself (``bytes``, or a ``str`` starting with ``{`` after whitespace).

    Raises:
        SchemaError: Invalid JSON, not a JSON object, a missing or unsupported
            ``schema_version``, or fields of the wrong shape. The message names the source.
        OSError: The file cannot be read.
    """
    if isinstance(source, bytes):
        origin, text = "results", source.decode("utf-8", errors="replace")
    elif isinstance(source, str) and source.lstrip().startswith("{"):
        origin, text = "results", source
    else:
        origin, text = os.fspath(source), Path(source).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{origin}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SchemaError(f"{origin}: expected a JSON object, found {type(data).__name__}")
    if "schema_version" not in data:
        raise SchemaError(f"{origin}: no schema_version field; supported versions: {_supported()}")
    version = data["schema_version"]
    # type() check: JSON true would otherwise pass as version 1.
    if type(version) is not int or version not in SUPPORTED_VERSIONS:
        newer = type(version) is int and version > SCHEMA_VERSION
        hint = " (written by a newer pushbench?)" if newer else ""
        raise SchemaError(
            f"{origin}: schema_version {json.dumps(version)} is not supported{hint}; "
            f"supported versions: {_supported()}"
        )
    try:
        return ResultsDocument.model_validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '<root>'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise SchemaError(
            f"{origin}: not a valid schema_version {version} document "
            f"({exc.error_count()} errors): {problems}"
        ) from None


def dump_results(document: ResultsDocument) -> str:
    """The document as indented JSON, fields in declaration order, ending with a newline."""
    return document.model_dump_json(indent=2) + "\n"


def write_results_atomic(document: ResultsDocument, path: str | os.PathLike[str]) -> None:
    """Write the document so that readers see the old file or the new one, never half of it."""
    write_atomic(path, dump_results(document))
