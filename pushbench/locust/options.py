"""pushbench's Locust options: registered on Locust's own parser, read back as one typed object.

They appear in ``locust --help``, in the web UI's "custom parameters" (with the same types), and
travel from the master to every worker with each spawn message, as Locust does for all custom
arguments. Pure: :func:`add_arguments` takes any argparse-like parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from pushbench.core.intervals import DEFAULT_INTERVAL_S

__all__ = ["ORIGIN_ATTRIBUTE", "ROOM_PATTERN", "LoadOptions", "OptionsError", "add_arguments"]

#: Room names the reference server accepts (``target_app.settings.ROOM_PATTERN``, copied so
#: that the users stay usable against another server without importing the reference one).
ROOM_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


#: The ``parsed_options`` attribute through which the master tells every worker where the
#: intervals start (its test start, ``CLOCK_MONOTONIC`` ns): Locust ships every custom
#: attribute of ``parsed_options`` with each spawn message, before the worker's test starts.
ORIGIN_ATTRIBUTE: Final = "pushbench_intervals_origin_ns"
#: The narrowest ``--interval`` (as ``pushbench compare``'s).
MIN_INTERVAL_S: Final = 0.01


class OptionsError(ValueError):
    """An option value that cannot work; the message names the option."""


class _Parser(Protocol):
    def add_argument(self, *names: str, **kwargs: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """Every pushbench option, validated; field names match Locust's ``parsed_options``."""

    room: str = "pushbench-locust"
    payload_bytes: int = 64
    publish_rate: float = 10.0
    publishers: int = 1
    echo_rate: float = 10.0
    poll_interval: float = 1.0
    long_poll_wait: float = 20.0
    drain_timeout: float = 0.0
    interval: float = DEFAULT_INTERVAL_S
    publisher_round_trip: bool = False
    pushbench_profile: str = ""
    pushbench_out: str = "reports"
    pushbench_run_dir: str = ""
    pushbench_no_report: bool = False
    pushbench_dump_samples: str = ""

    def __post_init__(self) -> None:
        if not re.match(ROOM_PATTERN, self.room):
            raise OptionsError(
                f"--room {self.room!r}: 1-64 characters, letters, digits, '_', '.', '-'"
            )
        if not 0 <= self.payload_bytes <= 16 * 1024 * 1024:
            raise OptionsError(
                f"--payload-bytes must be within 0..16 MiB, not {self.payload_bytes}"
            )
        if not self.publish_rate > 0:
            raise OptionsError(f"--publish-rate must be > 0 messages/s, not {self.publish_rate}")
        if self.publishers < 1:
            raise OptionsError(
                f"--publishers must be >= 1, not {self.publishers} (to run without publishers, "
                "name the user classes to run instead)"
            )
        if self.echo_rate < 0:
            raise OptionsError(f"--echo-rate must be >= 0 round trips/s, not {self.echo_rate}")
        if not self.poll_interval > 0:
            raise OptionsError(f"--poll-interval must be > 0 s, not {self.poll_interval}")
        if not self.long_poll_wait > 0:
            raise OptionsError(f"--long-poll-wait must be > 0 s, not {self.long_poll_wait}")
        if not self.interval >= MIN_INTERVAL_S:
            raise OptionsError(f"--interval must be >= {MIN_INTERVAL_S} s, not {self.interval}")
        if self.drain_timeout < 0:
            raise OptionsError(f"--drain-timeout must be >= 0 s, not {self.drain_timeout}")

    @property
    def drain_s(self) -> float:
        """How long subscribers get after the last publish: explicit, or 2 s + 2 poll intervals."""
        return self.drain_timeout or 2.0 + 2 * self.poll_interval

    @property
    def interval_ns(self) -> int:
        """Width of the over-time intervals (``--interval``)."""
        return round(self.interval * 1e9)

    @property
    def publish_interval_ns(self) -> int:
        """Time between two messages of one publisher."""
        return round(1e9 / self.publish_rate)

    @property
    def short_poll_name(self) -> str:
        """The short-poll scenario's name: ``short-poll@<interval>`` as in ``compare``."""
        return f"short-poll@{self.poll_interval:g}"

    def run_dir(self, run_id: str) -> Path:
        """Where this run's results go: ``--pushbench-run-dir``, else ``<out>/<run_id>``."""
        return Path(self.pushbench_run_dir or Path(self.pushbench_out) / run_id)

    def as_config(self) -> dict[str, Any]:
        """The options a results document records."""
        return {
            "room": self.room,
            "payload_bytes": self.payload_bytes,
            "publish_rate_per_s": self.publish_rate,
            "publishers": self.publishers,
            "echo_rate_per_s": self.echo_rate,
            "poll_interval_s": self.poll_interval,
            "long_poll_wait_s": self.long_poll_wait,
            "drain_s": self.drain_s,
            "interval_s": self.interval,
            "publisher_round_trip": self.publisher_round_trip,
            **({"profile": self.pushbench_profile} if self.pushbench_profile else {}),
        }

    @classmethod
    def from_namespace(cls, namespace: object | None) -> LoadOptions:
        """Read Locust's ``parsed_options`` (missing attributes keep their defaults).

        Values typed into the web UI arrive converted to the default's type; anything else
        (an environment variable set to ``"5"``) is converted here.

        Raises:
            OptionsError: A value of the wrong type or out of range.
        """
        values: dict[str, Any] = {}
        for name, default in _DEFAULTS.items():
            raw = getattr(namespace, name, default) if namespace is not None else default
            if raw is None:
                continue
            values[name] = _coerce(name, raw, default)
        return cls(**values)


_DEFAULTS: Final[dict[str, Any]] = {
    name: getattr(LoadOptions(), name) for name in LoadOptions.__dataclass_fields__
}


def _coerce(name: str, raw: object, default: object) -> object:
    flag = "--" + name.replace("_", "-")
    try:
        if isinstance(default, bool):
            return raw if isinstance(raw, bool) else str(raw).strip().lower() in ("1", "true")
        if isinstance(default, int):
            value = float(raw)  # type: ignore[arg-type]
            if not value.is_integer():
                raise ValueError(f"{raw!r} is not a whole number")
            return int(value)
        if isinstance(default, float):
            return float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise OptionsError(f"{flag}: {exc}") from None
    return str(raw)


def add_arguments(parser: _Parser) -> None:
    """Register the options on Locust's parser (``events.init_command_line_parser``)."""
    d = LoadOptions()
    parser.add_argument(
        "--room",
        default=d.room,
        env_var="PUSHBENCH_ROOM",
        help="Room every publisher and subscriber uses (one message stream).",
    )
    parser.add_argument(
        "--payload-bytes",
        type=int,
        default=d.payload_bytes,
        help="Payload size of echo messages and published messages, in bytes.",
    )
    parser.add_argument(
        "--publish-rate",
        type=float,
        default=d.publish_rate,
        help="Messages per second per publisher (open loop: on schedule, whatever the server).",
    )
    parser.add_argument(
        "--publishers",
        type=int,
        default=d.publishers,
        help="How many of the users are RoomPublisherUser (Locust fixed_count).",
    )
    parser.add_argument(
        "--echo-rate",
        type=float,
        default=d.echo_rate,
        help="Round trips per second per WebSocketEchoUser (0: as fast as replies come).",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=d.poll_interval,
        help="Seconds between two polls of a ShortPollUser.",
    )
    parser.add_argument(
        "--long-poll-wait",
        type=float,
        default=d.long_poll_wait,
        help="Seconds a LongPollUser asks the server to hold each poll (`wait`).",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=d.drain_timeout,
        help="Seconds subscribers get after publishing stops (0: 2 s + 2 poll intervals).",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=d.interval,
        help="Seconds per interval of the over-time figures (a histogram and counters each).",
    )
    parser.add_argument(
        "--publisher-round-trip",
        action="store_true",
        default=d.publisher_round_trip,
        help="Publishers also subscribe and time their own messages' round trip "
        "(comparable across hosts, unlike push latency).",
    )
    # Not --profile: Locust has its own (a label for the run), and the runner's --profile
    # becomes this one.
    parser.add_argument(
        "--pushbench-profile",
        default=d.pushbench_profile,
        env_var="PUSHBENCH_PROFILE",
        help="How to drive your app: a built-in profile (reference, tutorial, "
        "fastapi-docs-chat), a TOML file, or MODULE:CLASS, a Python adapter (default: the "
        "reference server's envelope). Users whose transport it does not offer are left out.",
    )
    parser.add_argument(
        "--pushbench-out",
        default=d.pushbench_out,
        include_in_web_ui=False,
        help="Directory under which each test writes <run-id>/results.json and its report.",
    )
    parser.add_argument(
        "--pushbench-run-dir",
        default=d.pushbench_run_dir,
        include_in_web_ui=False,
        help="Exact directory for results.json and the report (overrides --pushbench-out).",
    )
    parser.add_argument(
        "--pushbench-no-report",
        action="store_true",
        default=d.pushbench_no_report,
        include_in_web_ui=False,
        help="Write results.json only, not the rendered report.",
    )
    parser.add_argument(
        "--pushbench-slo",
        action="append",
        metavar="EXPR",
        include_in_web_ui=False,
        help="An SLO in the gate's syntax, e.g. 'ws.latency_us.p99<=5000' (repeatable): "
        "when the run misses one, locust exits with code 1.",
    )
    parser.add_argument(
        "--pushbench-dump-samples",
        default=d.pushbench_dump_samples,
        include_in_web_ui=False,
        help="Debug: each process also writes every raw latency sample into this directory.",
    )
